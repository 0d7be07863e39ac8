"""--format json for CI: validate, rollout check, rollout plan and the render summary (stdout, stable keys)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import EXAMPLES, aiogen
from tests.test_cli_options import LAB, ROLLOVER, bad_fleet


def test_validate_json_locates_every_problem(tmp_path: Path) -> None:
    bad = bad_fleet(tmp_path)
    run = aiogen("validate", bad, LAB, "--format", "json")
    assert run.code == 1
    report = json.loads(run.out)
    assert list(report) == ["valid", "specs", "counts"]
    assert report["valid"] is False
    assert report["counts"] == {"specs": 2, "invalid": 1, "problems": 1, "warnings": 0}
    first, second = report["specs"]
    assert (first["spec"], first["valid"], second["spec"], second["valid"]) == (str(bad), False, str(LAB), True)
    assert first["problems"] == [{
        "severity": "error", "file": str(bad), "line": 49, "column": 23,
        "path": "spec.clusters[0].broker.listeners[0].ports[0].port",
        "message": "port 18883 is already used by the default listener",
        "hint": "18883 belongs to AIO's default listener",
    }]
    assert second["clusters"] == 1 and second["resources"] > 0 and second["problems"] == []


def test_validate_json_carries_warnings(tmp_path: Path) -> None:
    spec = tmp_path / "fleet.yaml"
    bad_fleet(tmp_path)
    text = (EXAMPLES / "fleet.yaml").read_text()
    spec.write_text(text.replace("  clientRoots:\n", "    spare-root:\n      certificate: {file: pki/fabrikam-root.pem}\n"
                                 "  clientRoots:\n"))
    run = aiogen("validate", spec, "--format", "json")
    assert run.code == 0, run.err
    (warning,) = json.loads(run.out)["specs"][0]["warnings"]
    assert warning["severity"] == "warning" and warning["path"] == "spec.roots.spare-root"
    assert warning["file"] == str(spec) and isinstance(warning["line"], int)


def test_rollout_check_json_safe_and_unsafe() -> None:
    safe = aiogen("rollout", "check", ROLLOVER / "02-distribute.yaml", ROLLOVER / "03-switch.yaml",
                  "--now", "2026-12-15", "--format", "json")
    assert safe.code == 0, safe.err
    report = json.loads(safe.out)
    assert list(report) == ["deployed", "proposed", "date", "verdict", "safe", "breaks", "holds", "summary", "notes"]
    assert (report["verdict"], report["safe"], report["breaks"], report["holds"]) == ("safe", True, [], [])
    assert [line.split(":")[0] for line in report["summary"]] == ["plant-berlin", "plant-munich"]
    unsafe = aiogen("rollout", "check", ROLLOVER / "01-prepare.yaml", ROLLOVER / "03-switch.yaml",
                    "--now", "2026-12-15", "--format", "json")
    assert unsafe.code == 3
    report = json.loads(unsafe.out)
    assert (report["verdict"], report["date"], len(report["breaks"])) == ("unsafe", "2026-12-15", 10)
    first = report["breaks"][0]
    assert list(first) == ["cluster", "server", "population", "root", "subject", "target", "when", "why", "hint",
                           "message"]
    assert first["root"] == "contoso-root-2028" and first["when"] == "after the switch"
    too_early = json.loads(aiogen("rollout", "check", ROLLOVER / "02-distribute.yaml", ROLLOVER / "03-switch.yaml",
                                  "--now", "2026-12-12", "--format", "json").out)
    (hold,) = too_early["holds"]
    assert hold["subject"] == "rotation root-2028" and hold["hint"] == "take this step on or after 2026-12-15"


def test_rollout_plan_json_has_every_step_with_its_date() -> None:
    run = aiogen("rollout", "plan", ROLLOVER / "02-distribute.yaml", "--now", "2026-12-10", "--format", "json")
    assert run.code == 0, run.err
    report = json.loads(run.out)
    (rotation,) = report["rotations"]
    assert (rotation["name"], rotation["phase"], rotation["since"]) == ("root-2028", "distribute", "2026-12-08")
    assert [(s["phase"], s["earliest"], s["status"]) for s in rotation["steps"]] == [
        ("switch", "2026-12-15", "waiting"), ("retire", "2027-03-16", "waiting"), ("finish", "2027-03-16", "waiting")]
    stable = json.loads(aiogen("rollout", "plan", ROLLOVER / "00-stable-root-2025.yaml", "--format", "json").out)
    assert stable["rotations"] == []


def test_render_json_summary_per_cluster(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = json.loads(aiogen("render", EXAMPLES / "fleet.yaml", "-o", out, "--format", "json").out)
    assert [c["name"] for c in first["clusters"]] == ["plant-berlin", "plant-munich", "plant-lyon"]
    berlin = first["clusters"][0]
    assert berlin["written"] and all(p.startswith("plant-berlin/") for p in berlin["written"])
    assert berlin["unchanged"] == [] and berlin["removed"] == []
    assert first["counts"]["written"] == sum(len(c["written"]) for c in first["clusters"])
    again = aiogen("render", EXAMPLES / "fleet.yaml", "-o", out, "--format", "json", "--cluster", "plant-lyon")
    assert again.code == 0, again.err
    (lyon,) = json.loads(again.out)["clusters"]
    assert lyon["written"] == [] and lyon["unchanged"] == first["clusters"][2]["written"]


def test_render_check_json(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert aiogen("render", LAB, "-o", out).code == 0
    clean = aiogen("render", LAB, "-o", out, "--check", "--format", "json")
    assert clean.code == 0 and json.loads(clean.out)["clean"] is True
    kustomization = next(out.rglob("kustomization.yaml"))
    kustomization.write_text(kustomization.read_text() + "# edited\n")
    stale = aiogen("render", LAB, "-o", out, "--check", "--format", "json")
    assert stale.code == 3
    report = json.loads(stale.out)
    assert report["clean"] is False and str(kustomization.relative_to(out)) in report["changed"]
    assert "-# edited" in report["diff"]


def test_json_needs_a_directory_for_render() -> None:
    run = aiogen("render", LAB, "-o", "-", "--format", "json")
    assert (run.code, run.out, run.err) == (2, "", "aiogen render: --format json reports on a directory; give -o DIR\n")


def test_every_json_command_stopped_by_bad_input_still_prints_one_document(tmp_path: Path) -> None:
    """A CI job parsing stdout gets the located problems, not an empty stream, whatever the command."""
    bad = bad_fleet(tmp_path)
    problem = {"severity": "error", "file": str(bad), "line": 49, "column": 23,
               "path": "spec.clusters[0].broker.listeners[0].ports[0].port",
               "message": "port 18883 is already used by the default listener",
               "hint": "18883 belongs to AIO's default listener"}
    for command in (("render", bad, "-o", tmp_path / "out", "--format", "json"),
                    ("rollout", "check", LAB, bad, "--format", "json"),
                    ("rollout", "plan", bad, "--format", "json"),
                    ("simulate", bad, "--format", "json")):
        run = aiogen(*command)
        assert run.code == 1, command
        assert json.loads(run.out) == {"ok": False, "exitCode": 1, "problems": [problem], "warnings": []}, command
        assert "port 18883 is already used" in run.err  # and the problem on stderr, as without --format json


def test_a_json_report_is_never_followed_by_a_second_document() -> None:
    run = aiogen("rollout", "check", ROLLOVER / "01-prepare.yaml", ROLLOVER / "03-switch.yaml",
                 "--now", "2026-12-15", "--format", "json")
    assert run.code == 3
    assert json.loads(run.out)["verdict"] == "unsafe"  # one document: json.loads refuses a second
