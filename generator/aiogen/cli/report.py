"""The one path by which commands print: reports on stdout, diagnostics on stderr.

* Reports (what a command was asked for: a verdict, a summary, a table, JSON) go to stdout, whatever
  the verdict, so `cmd > report` always holds the whole report.
* Diagnostics go to stderr: located problems as ``file:line:col path: message (hint)``, aiogen's
  own lines (notes, progress, what was written) prefixed ``aiogen: ``.
* Under GitHub Actions (``GITHUB_ACTIONS=true``) every problem is also a workflow command
  (``::error file=…,line=…,col=…,title=aiogen::message``) so it shows on the pull request's
  diff; https://docs.github.com/en/actions/reference/workflow-commands-for-github-actions
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable
from typing import Any

from aiogen.model.problems import Problem

PREFIX = "aiogen: "


def out(text: str = "") -> None:
    """One line of the report (stdout)."""
    sys.stdout.write(f"{text}\n")


_json_written = False  # a command prints at most one JSON document


def out_json(value: Any) -> None:
    """The report as JSON on stdout: keys in the order the command built them, two-space indent."""
    import json

    global _json_written
    _json_written = True
    sys.stdout.write(json.dumps(value, indent=2) + "\n")


def begin() -> None:
    """A command starts: nothing of its report is printed yet."""
    global _json_written
    _json_written = False


def failure_json(problems: Iterable[Problem], warnings: Iterable[Problem], exit_code: int) -> None:
    """Under --format json, a command that stopped on bad input before its report still prints one
    JSON document: what went wrong, located, as `validate --format json` lists problems."""
    if not _json_written:
        out_json({"ok": False, "exitCode": exit_code, "problems": [problem_json(p) for p in problems],
                  "warnings": [problem_json(p) for p in warnings]})


def info(text: str) -> None:
    """One of aiogen's own diagnostic lines (stderr, ``aiogen: `` prefix)."""
    print(f"{PREFIX}{text}", file=sys.stderr)


def note(text: str) -> None:
    info(f"note: {text}")


def problems(items: Iterable[Problem]) -> None:
    """Problems and warnings on stderr, one line each; annotations too under GitHub Actions."""
    annotate = os.environ.get("GITHUB_ACTIONS") == "true"
    for problem in items:
        print(problem.format(), file=sys.stderr)
        if annotate:
            print(github_annotation(problem), file=sys.stderr)


def problem_json(problem: Problem) -> dict[str, Any]:
    where = problem.location
    return {
        "severity": problem.severity,
        "file": where.file if where else None,
        "line": where.line if where else None,
        "column": where.column if where else None,
        "path": problem.path or None,
        "message": problem.message,
        "hint": problem.hint,
    }


# --------------------------------------------------------------------------- GitHub workflow commands


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(problem: Problem) -> str:
    """``::error file=F,line=L,col=C,title=aiogen::path: message (hint)`` (``::warning`` for warnings)."""
    where = problem.location
    properties: list[tuple[str, object]] = []
    if where is not None and where.file and not where.file.startswith("<"):  # "<stdin>" is no file on the diff
        properties.append(("file", where.file))
        if where.line is not None:
            properties.append(("line", where.line))
            if where.column is not None:
                properties.append(("col", where.column))
    properties.append(("title", "aiogen"))
    message = f"{problem.path}: {problem.message}" if problem.path else problem.message
    if problem.hint:
        message = f"{message} ({problem.hint})"
    joined = ",".join(f"{key}={_escape_property(str(value))}" for key, value in properties)
    return f"::{problem.severity} {joined}::{_escape_data(message)}"


# --------------------------------------------------------------------------- progress


class Progress:
    """Progress of a long command on stderr: a line redrawn in place on a terminal; in a CI log
    (not a terminal) a plain line every ``every_percent`` % or ``every_seconds`` s, whichever first."""

    def __init__(self, what: str, *, every_percent: int = 10, every_seconds: float = 10.0) -> None:
        self.what = what
        self.terminal = sys.stderr.isatty()
        self.every_percent = every_percent
        self.every_seconds = every_seconds
        self._last_time = time.monotonic()
        self._last_step = 0
        self._drawn = False
        self._ended = False

    def __call__(self, done: int, total: int) -> None:
        if self.terminal:
            if done == total or done % 25 == 0:
                sys.stderr.write(f"\r{PREFIX}{self.what}: {done}/{total}")
                sys.stderr.flush()
                self._drawn = True
            return
        step = done * 100 // total // self.every_percent if total else 0
        now = time.monotonic()
        if self._ended or not (step > self._last_step or now - self._last_time >= self.every_seconds
                               or done == total):
            return
        self._last_step, self._last_time, self._ended = step, now, done == total
        info(f"{self.what}: {done}/{total} ({done * 100 // total if total else 100}%)")

    def finish(self) -> None:
        """Clear the in-place line (terminal only) before the report is printed."""
        if self._drawn:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
