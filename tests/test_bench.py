"""The benchmark (bench/run.py) still works: its quick mode runs end to end and reports every section.

No timing is asserted here: targets live in bench/run.py and bench/README.md, and CI machines
are too noisy to judge them. This only proves the numbers exist and are sane.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.helpers import REPO

BENCH = REPO / "bench"


def _module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    sys.path.insert(0, str(BENCH))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH))
    return module


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    out = tmp_path_factory.mktemp("bench") / "results.json"
    run = subprocess.run([sys.executable, str(BENCH / "run.py"), "--quick", "--json", str(out)],
                         capture_output=True, text=True, timeout=300, cwd=REPO)
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(out.read_text(encoding="utf-8")), run.stdout


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def test_quick_mode_reports_machine_and_targets(quick: tuple[dict[str, Any], str]) -> None:
    results, table = quick
    machine = results["machine"]
    assert machine["nproc"] >= 1 and machine["cpu_model"] and machine["python"].startswith("3.")
    assert results["quick"] is True and results["date"]
    assert len(results["targets"]) == 9
    assert results["install"]["compiled_templates"] in {"current", "built"}
    assert results["install"]["spec_validator"] in {"current", "built"}
    assert results["install"]["regular_expressions"] in {"current", "built"}
    assert results["install"]["precompiled_modules"] in {"current", "built"}  # `aiogen precompile`, checked
    assert {"startup", "plugin", "fleet", "simulate", "phases"} <= results.keys()
    for heading in ("Start-up", "Plugin overhead", "Fleet scale", "Simulation", "Targets"):
        assert heading in table


def test_quick_mode_startup(quick: tuple[dict[str, Any], str]) -> None:
    startup = quick[0]["startup"]
    assert "error" not in startup, startup
    cases = startup["cases"]
    # cold rows only: aiogen keeps no output between runs, so there is nothing warm to measure
    assert set(cases) == {"python -c pass", "aiogen render (1 cluster, -o -)", "aiogen render (1 cluster, -o DIR)",
                          "aiogen validate (1 cluster)", "aiogen render examples/fleet.yaml -o -",
                          "aiogen validate examples/fleet.yaml", "python -c 'import yaml, cryptography.x509'"}
    for case in cases.values():
        assert case["runs"] == startup["runs"] >= 3
        assert _positive(case["wall_ms"]["median"]) and _positive(case["cpu_ms"]["median"])
        assert case["wall_ms"]["min"] <= case["wall_ms"]["median"] <= case["wall_ms"]["max"]
        assert 1 < case["peak_rss_mb"] < 2000
    # aiogen does more than start an interpreter
    assert startup["render_ratio"] > 1 and startup["validate_ratio"] > 1 and startup["render_dir_ratio"] > 1
    assert startup["example_render_ratio"] > 1 and startup["example_validate_ratio"] > 1
    assert isinstance(startup["met"], bool)


def test_quick_mode_plugin(quick: tuple[dict[str, Any], str]) -> None:
    plugin = quick[0]["plugin"]
    if not plugin["available"]:
        assert plugin.get("reason") or plugin.get("error")
        pytest.skip(f"plugin overhead not measured: {plugin.get('reason') or plugin.get('error')}")
    assert plugin["same_output"] is True  # aiogen's exec function builds what the printer's ResourceList holds
    assert _positive(plugin["exec_build_ms"]) and _positive(plugin["printer_build_ms"])
    assert plugin["ratio"] == round(plugin["exec_build_ms"] / plugin["printer_build_ms"], 2)
    # the printer of a pre-rendered ResourceList, aiogen, and the printer after reading the spec and its PEMs
    assert len(plugin["cases"]) == 4
    assert plugin["reader_ratio"] == round(plugin["reader_build_ms"] / plugin["printer_build_ms"], 2)
    assert plugin["unprecompiled_ratio"] == round(plugin["unprecompiled_build_ms"] / plugin["printer_build_ms"], 2)


def test_quick_mode_fleet(quick: tuple[dict[str, Any], str]) -> None:
    fleet = quick[0]["fleet"]
    rows = fleet["sizes"]
    assert [(r["clusters"], r["output"]) for r in rows] == [(1, "-"), (10, "-"), (50, "-"), (50, "DIR")]
    for row in rows:
        assert "error" not in row, row
        assert _positive(row["wall_s"]) and _positive(row["cpu_s"]) and _positive(row["peak_rss_mb"])
        assert row["resources"] >= 5 * row["clusters"]  # every cluster renders its CA, trust and broker objects
    assert rows[0]["resources"] < rows[1]["resources"] < rows[2]["resources"] == rows[3]["resources"]
    # numbers (quick mode's single runs of tiny fleets are too noisy for them to mean anything)
    assert fleet["per_cluster"]["small"] == 10 and fleet["per_cluster"]["large"] == 50
    assert _positive(fleet["per_cluster"]["ratio"]) and _positive(fleet["dir_vs_stream"]["ratio"])
    assert fleet["dir_vs_stream"]["clusters"] == 50 and fleet["largest"]["clusters"] == 50
    assert set(fleet["met"].values()) == {None}  # targets are judged at 10,000 clusters only


def test_quick_mode_simulate(quick: tuple[dict[str, Any], str]) -> None:
    simulate = quick[0]["simulate"]
    if not simulate["available"]:
        assert simulate.get("reason") or simulate.get("error")
        pytest.skip(f"simulation not measured: {simulate.get('reason') or simulate.get('error')}")
    assert simulate["rc"] == 0, simulate.get("error")
    assert simulate["checks"] and simulate["failed_checks"] == 0
    assert simulate["handshakes"] and _positive(simulate["handshakes_per_s"])
    assert simulate["handshakes"] + (simulate["reused"] or 0) <= simulate["checks"]


def test_quick_mode_phases(quick: tuple[dict[str, Any], str]) -> None:
    phases = quick[0]["phases"]
    assert set(phases) == {"1", "10"}
    for size, row in phases.items():
        assert "error" not in row, row
        assert row["clusters"] == int(size)
        assert row["total"] >= row["render"] > 0


def test_generated_fleet_shape() -> None:
    fleet = _module("fleet")
    text = fleet.spec_text(4)
    assert text.count("\n    - name: plant-") == 4
    assert text.count("serviceType: LoadBalancer") == 4 and text.count("serviceType: NodePort") == 4
    assert text.count("trustedClientRoots") == 2  # X.509 authentication on half the clusters
    assert text.count("        next:\n") == 4 and "phase: distribute" in text


def test_simulation_counts_reads_the_json_report() -> None:
    run = _module("run")
    checks = [
        {"result": "pass", "handshake": {"version": "TLSv1.3"}},
        {"result": "FAIL", "handshake": {"version": None}},
        {"result": "pass", "handshake": {"version": "TLSv1.3"}},
    ]
    counted = run._simulation_counts(json.dumps({"summary": {"checks": 3}, "checks": checks}))
    assert counted == {"checks": 3, "failed": 1, "handshakes": 2, "reused": None,
                       "source": "checks with a negotiated TLS version"}
    # the report's own counts win: real handshakes and verdicts reused from an identical check
    told = run._simulation_counts(json.dumps({"summary": {"checks": 3, "handshakes": 1, "reused": 2}, "checks": checks}))
    assert (told["handshakes"], told["reused"], told["source"]) == (1, 2, "report summary")
    assert run._simulation_counts("done: 1,204 TLS handshakes")["handshakes"] == 1204


def test_no_output_cache_is_measured() -> None:
    """The warm rows of the removed output cache are gone: every figure is a cold process."""
    banned = ("AIOGEN_NO_" + "CACHE", "aiogen." + "memo", "AIOGEN_CACHE" + "_DIR")  # spelt apart: not found here
    for path in (BENCH / "run.py", BENCH / "README.md", BENCH / "phases.py", Path(__file__)):
        text = path.read_text(encoding="utf-8")
        assert [word for word in banned if word in text] == [], path


def test_phase_profiler_exists() -> None:
    assert Path(BENCH / "phases.py").is_file()
