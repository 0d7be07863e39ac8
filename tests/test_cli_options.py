"""Options shared by the subcommands: -o refused when it can never work, a spec on stdin (-),
several specs for validate, and which stream each report goes to."""

from __future__ import annotations

import io
import re
import shutil
import sys
from pathlib import Path

import pytest

from tests.helpers import EXAMPLES, aiogen

FLEET = EXAMPLES / "fleet.yaml"
LAB = EXAMPLES / "lab.yaml"
ROLLOVER = EXAMPLES / "rollover"


def feed(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(path.read_bytes())))


def bad_fleet(tmp_path: Path) -> Path:
    """examples/fleet.yaml with its first listener on 18883, AIO's default listener's port."""
    shutil.copytree(EXAMPLES / "pki", tmp_path / "pki")
    spec = tmp_path / "fleet.yaml"
    spec.write_text(FLEET.read_text().replace("- port: 8883", "- port: 18883", 1))
    return spec


@pytest.mark.parametrize("command", [["render"], ["render", "--check"], ["diff"]])
def test_empty_output_is_a_usage_error(command: list[str]) -> None:
    run = aiogen(command[0], LAB, "-o", "", *command[1:])
    assert run.code == 2
    assert "argument -o/--output: is empty; give a directory (or - where a stream is allowed)" in run.err
    assert run.out == ""


@pytest.mark.parametrize("command", ["render", "diff"])
def test_output_on_a_regular_file_is_a_usage_error(command: str, tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("mine\n")
    run = aiogen(command, LAB, "-o", target)
    assert run.code == 2
    assert f"argument -o/--output: {target} is a file, not a directory" in run.err
    assert target.read_text() == "mine\n"


def test_render_stream_from_stdin_is_the_file_render(monkeypatch: pytest.MonkeyPatch) -> None:
    feed(monkeypatch, LAB)
    piped = aiogen("render", "-", "-o", "-")
    assert piped.code == 0, piped.err
    assert piped.out == aiogen("render", LAB, "-o", "-").out


def test_validate_timeline_and_plan_read_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    feed(monkeypatch, LAB)
    assert aiogen("validate", "-").out == aiogen("validate", LAB).out.replace(str(LAB), "<stdin>")
    feed(monkeypatch, LAB)
    timeline = aiogen("timeline", "-", "--now", "2026-11-27")
    assert timeline.code == 0 and timeline.out == aiogen("timeline", LAB, "--now", "2026-11-27").out
    monkeypatch.chdir(ROLLOVER)  # the spec's PEM paths are relative to the working directory
    feed(monkeypatch, ROLLOVER / "02-distribute.yaml")
    plan = aiogen("rollout", "plan", "-", "--now", "2026-12-10")
    assert plan.code == 0, plan.err
    assert plan.out.splitlines()[1].startswith("  switch     2026-12-15  in 5 days ")


def test_diff_reads_stdin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert aiogen("render", LAB, "-o", tmp_path / "out").code == 0
    feed(monkeypatch, LAB)
    run = aiogen("diff", "-", "-o", tmp_path / "out")
    assert (run.code, run.out, run.err) == (0, "", f"aiogen: {tmp_path / 'out'}: up to date\n")


def test_stdin_is_read_once() -> None:
    run = aiogen("validate", "-", "-")
    assert (run.code, run.err) == (2, "standard input (-) can be read only once\n")


def test_validate_reports_each_spec_and_fails_when_any_fails(tmp_path: Path) -> None:
    bad = bad_fleet(tmp_path)
    run = aiogen("validate", LAB, bad, FLEET)
    assert run.code == 1
    lines = run.out.splitlines()
    assert [re.sub(r"\d+ resources", "N resources", line) for line in lines] == [
        f"{LAB}: valid: 1 cluster(s), N resources, 0 warning(s)",
        f"{bad}: invalid: 1 problem(s), 0 warning(s)",
        f"{FLEET}: valid: 3 cluster(s), N resources, 0 warning(s)",
    ]
    assert run.err == (f"{bad}:49:23 spec.clusters[0].broker.listeners[0].ports[0].port: port 18883 is already "
                       "used by the default listener (18883 belongs to AIO's default listener)\n")
    assert aiogen("validate", LAB, FLEET).code == 0


def test_rollout_check_report_is_on_stdout_whatever_the_verdict() -> None:
    safe = aiogen("rollout", "check", ROLLOVER / "02-distribute.yaml", ROLLOVER / "03-switch.yaml",
                  "--now", "2026-12-15")
    unsafe = aiogen("rollout", "check", ROLLOVER / "01-prepare.yaml", ROLLOVER / "03-switch.yaml",
                    "--now", "2026-12-15")
    assert (safe.code, unsafe.code) == (0, 3)
    assert safe.out.startswith("rollout check: ") and " is safe on 2026-12-15\n" in safe.out
    assert unsafe.out.startswith("rollout check: ") and " is NOT safe on 2026-12-15: " in unsafe.out
    assert "rollout check:" not in unsafe.err and " would not trust " in unsafe.err
    assert all(line.startswith(("plant-", "aiogen: note: ")) for line in unsafe.err.splitlines()), unsafe.err


def test_render_summary_is_the_report(tmp_path: Path) -> None:
    run = aiogen("render", LAB, "-o", tmp_path / "out")
    assert (run.code, run.err) == (0, "")
    written = sum(1 for p in (tmp_path / "out").rglob("*") if p.is_file() and p.name != ".aiogen-owned")
    assert run.out == f"1 cluster(s) in {tmp_path / 'out'}: {written} written, 0 unchanged, 0 removed\n"


def test_now_without_a_time_zone_is_utc() -> None:
    from aiogen.cli.options import parse_now

    assert parse_now("2026-12-15").isoformat() == "2026-12-15T00:00:00+00:00"
    assert parse_now("2026-12-15T10:00:00").isoformat() == "2026-12-15T10:00:00+00:00"
    assert parse_now("2026-12-15T10:00:00+02:00").isoformat() == "2026-12-15T08:00:00+00:00"


def test_a_stdin_specs_pem_paths_are_relative_to_the_working_directory(monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # examples/pki is not here
    feed(monkeypatch, EXAMPLES / "fleet.yaml")
    run = aiogen("validate", "-")
    assert run.code == 1
    assert ("spec.roots.contoso-root-2025.certificate.file: 'pki/contoso-root-2025.pem' does not exist (paths are "
            "relative to the working directory, as the spec came on standard input)") in run.err
    monkeypatch.chdir(EXAMPLES)
    feed(monkeypatch, EXAMPLES / "fleet.yaml")
    assert aiogen("validate", "-").code == 0
