"""Problems found in user input, and the one exception that carries them.

Every bad input ends as `AiogenError` with one or more `Problem`s; the CLI's single error handler
prints each as ``file:line:col field.path: message`` and exits non-zero. Nothing here imports
anything heavy: the KRM entry point uses it on every `kustomize build`.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from aiogen.model.record import field, record

Severity = Literal["error", "warning"]

MAX_SHOWN = 80  # characters of a user's value quoted back in a message


def shown(value: Any, limit: int = MAX_SHOWN) -> str:
    """A user's value quoted for a message: repr (one line, control characters escaped), bounded."""
    text = value.isoformat() if isinstance(value, date) else repr(value)
    if len(text) > limit:
        text = f"{text[: limit - 16]}… ({len(text)} chars)"
    return text

# Exit codes shared by every subcommand.
EXIT_OK = 0
EXIT_INVALID = 1  # the input is wrong (spec, PEM, config): the user must change it
EXIT_USAGE = 2  # argparse's own code for a bad command line
EXIT_CHECK_FAILED = 3  # a check ran and said no: stale tree, unsafe rollout, failed simulation
EXIT_INTERNAL = 70  # a bug in aiogen (EX_SOFTWARE)


@record
class Location:
    """Where in which file a problem is; line and column are 1-based."""

    file: str | None = None
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = [self.file or "<input>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


@record
class Problem:
    """One thing wrong (or worth a warning) in the input."""

    message: str
    path: str = ""  # field path in the spec, e.g. spec.clusters[1].broker.listeners[0].ports[0].port
    location: Location | None = None
    severity: Severity = "error"
    hint: str | None = None  # what to do about it

    def format(self) -> str:
        where = str(self.location) if self.location else ""
        head = " ".join(p for p in (where, self.path) if p)
        text = f"{head}: {self.message}" if head else self.message
        if self.severity == "warning":
            text = f"warning: {text}"
        if self.hint:
            text = f"{text} ({self.hint})"
        if not text.isprintable():  # one problem, one line, whatever the names in it hold
            text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
        return text


@record(frozen=False)
class AiogenError(Exception):
    """Expected failure: bad input or a failed check. Never a traceback."""

    problems: tuple[Problem, ...]
    exit_code: int = EXIT_INVALID
    warnings: tuple[Problem, ...] = field(default=())

    @classmethod
    def single(
        cls, message: str, *, path: str = "", location: Location | None = None, hint: str | None = None
    ) -> AiogenError:
        return cls((Problem(message, path, location, "error", hint),))

    def __str__(self) -> str:
        return "\n".join(p.format() for p in self.problems)


def report_internal(error: BaseException) -> int:
    """Say that aiogen itself failed (not the input), without a traceback; the exit code to use."""
    import sys

    print(f"aiogen: internal error: {type(error).__name__}: {error}", file=sys.stderr)
    print("aiogen: this is a bug in aiogen; set AIOGEN_DEBUG=1 for the traceback and report it", file=sys.stderr)
    return EXIT_INTERNAL
