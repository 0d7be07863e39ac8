"""The state of one resolution: where the spec stood, the clock, and every problem found so far."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from aiogen.model import names
from aiogen.model.problems import Location, Problem
from aiogen.model.record import field, record
from aiogen.yamlio.document import Document, PathKey, format_path, shown

if TYPE_CHECKING:
    from aiogen.pki.pem import CertSummary


@record(frozen=False)
class Context:
    """Everything one resolution collects: problems (located in the spec) and warnings."""

    doc: Document | None
    now: datetime
    allow_outside_files: bool
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    # every PEM file the spec names, by resolved path (None: unreadable, reported); filled by
    # `aiogen.resolve.inputs` before any rule runs, read-only afterwards
    pem_cache: dict[str, tuple[CertSummary, ...] | None] = field(default_factory=dict)
    # the certificates of each `file` field that was read, by its spec path (filled with pem_cache)
    certificates_by_field: dict[PathKey, tuple[CertSummary, ...]] = field(default_factory=dict)
    # a value every cluster inherits (spec.defaults) is judged once per cluster: say it once
    _said: set[tuple[PathKey, str, str]] = field(default_factory=set, repr=False)
    found: int = 0  # errors found, each repeat counted: what a rule asks to know "did anything fail here?"

    def locate(self, path: PathKey) -> Location | None:
        return self.doc.locate(path) if self.doc else None

    def error(self, path: PathKey, message: str, hint: str | None = None) -> None:
        self.found += 1
        if self._first(path, message, "error"):
            self.errors.append(Problem(message, format_path(path), self.locate(path), "error", hint))

    def warn(self, path: PathKey, message: str, hint: str | None = None) -> None:
        if self._first(path, message, "warning"):
            self.warnings.append(Problem(message, format_path(path), self.locate(path), "warning", hint))

    def _first(self, path: PathKey, message: str, severity: str) -> bool:
        key = (path, message, severity)
        if key in self._said:
            return False
        self._said.add(key)
        return True

    def check_name(self, path: PathKey, value: str, what: Literal["label", "subdomain"]) -> None:
        problem = names.label_problem(value) if what == "label" else names.subdomain_problem(value)
        if problem:
            self.error(path, f"{shown(value)} {problem}")

    @property
    def base_dir(self) -> Path:
        return self.doc.base_dir if self.doc else Path.cwd()

    @property
    def paths_relative_to(self) -> str:
        """What file paths in the spec are relative to, in the user's words."""
        if self.doc is None or self.doc.source == "<stdin>":
            return "the working directory, as the spec came on standard input"
        return "the spec file"
