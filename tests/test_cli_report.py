"""How problems and progress reach CI logs: GitHub workflow commands, plain progress lines."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from aiogen.cli.report import Progress, github_annotation
from aiogen.model.problems import Location, Problem
from tests.helpers import aiogen
from tests.test_cli_options import LAB, bad_fleet


def test_annotations_under_github_actions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = bad_fleet(tmp_path)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    run = aiogen("validate", bad)
    assert run.code == 1
    located = (f"{bad}:49:23 spec.clusters[0].broker.listeners[0].ports[0].port: port 18883 is already used by the "
               "default listener (18883 belongs to AIO's default listener)")
    annotation = (f"::error file={bad},line=49,col=23,title=aiogen::spec.clusters[0].broker.listeners[0].ports[0]"
                  ".port: port 18883 is already used by the default listener (18883 belongs to AIO's default listener)")
    assert run.err.splitlines() == [located, annotation]
    monkeypatch.setenv("GITHUB_ACTIONS", "false")
    assert aiogen("validate", bad).err.splitlines() == [located]


def test_annotation_escaping_follows_the_workflow_command_rules() -> None:
    problem = Problem("50% of\r\nroots: bad, really", path="spec.x", hint="fix it",
                      location=Location("dir:a,b/100%.yaml", 3, 7))
    assert github_annotation(problem) == (
        "::error file=dir%3Aa%2Cb/100%25.yaml,line=3,col=7,title=aiogen::spec.x: 50%25 of%0D%0Aroots: bad, really "
        "(fix it)")
    warning = Problem("unused", severity="warning")
    assert github_annotation(warning) == "::warning title=aiogen::unused"
    assert github_annotation(Problem("x", location=Location("f.yaml"))) == "::error file=f.yaml,title=aiogen::x"


def test_a_stdin_spec_is_annotated_without_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """`<stdin>` is no file of the pull request: the annotation goes on the run, not on a diff line."""
    assert github_annotation(Problem("x", path="spec.y", location=Location("<stdin>", 4, 2))) == (
        "::error title=aiogen::spec.y: x")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.chdir(LAB.parent)  # a stdin spec's PEM paths are relative to the working directory
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(LAB.read_bytes().replace(b"port: 8883",
                                                                                           b"port: 18883"))))
    run = aiogen("validate", "-")
    assert run.code == 1
    located, annotation = run.err.splitlines()
    assert located.startswith("<stdin>:23:23 spec.clusters[0]")
    assert annotation.startswith("::error title=aiogen::spec.clusters[0].broker.listeners[0].ports[0].port: ")


def _progress_lines(total: int, **kwargs: float) -> list[str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        progress = Progress("simulate: checks", **kwargs)  # type: ignore[arg-type]
        for done in range(1, total + 1):
            progress(done, total)
        progress.finish()
    return err.getvalue().splitlines()


def test_progress_in_a_ci_log_is_a_plain_line_every_ten_percent() -> None:
    lines = _progress_lines(200, every_seconds=3600)
    assert lines == [f"aiogen: simulate: checks: {n}/200 ({n // 2}%)" for n in range(20, 201, 20)]


def test_progress_in_a_ci_log_also_every_few_seconds() -> None:
    lines = _progress_lines(5, every_percent=100, every_seconds=0)
    assert lines == [f"aiogen: simulate: checks: {n}/5 ({n * 20}%)" for n in range(1, 6)]


def test_simulate_progress_reaches_a_log() -> None:
    run = aiogen("simulate", LAB)
    assert run.code == 0, run.err
    last = run.err.splitlines()[-1]
    assert last.startswith("aiogen: simulate: checks: ") and last.endswith(" (100%)")
    assert "\r" not in run.err


def test_progress_on_a_terminal_is_one_line_redrawn() -> None:
    import os
    import pty
    import select

    main, secondary = pty.openpty()
    terminal = os.fdopen(secondary, "w", encoding="utf-8")
    try:
        with contextlib.redirect_stderr(terminal):
            progress = Progress("simulate: checks")
            for done in range(1, 51):
                progress(done, 50)
            progress.finish()
            terminal.flush()
        shown = b""
        while select.select([main], [], [], 1.0)[0]:  # everything written, however the pty hands it over
            shown += os.read(main, 4096)
            if shown.endswith(b"\033[K"):
                break
    finally:
        terminal.close()
        os.close(main)
    assert shown.decode() == "\raiogen: simulate: checks: 25/50\raiogen: simulate: checks: 50/50\r\033[K"
