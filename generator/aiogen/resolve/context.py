"""The state of one resolution: where the spec stood, the clock, and every problem found so far."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from aiogen.model import names
from aiogen.model.problems import Location, Problem
from aiogen.yamlio.document import Document, PathKey, format_path, shown

if TYPE_CHECKING:
    from aiogen.pki.pem import CertSummary


@dataclass
class Context:
    """Everything one resolution collects: problems (located in the spec), warnings, PEM reads."""

    doc: Document | None
    now: datetime
    allow_outside_files: bool
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    pem_cache: dict[str, tuple[CertSummary, ...] | None] = field(default_factory=dict)

    def locate(self, path: PathKey) -> Location | None:
        return self.doc.locate(path) if self.doc else None

    def error(self, path: PathKey, message: str, hint: str | None = None) -> None:
        self.errors.append(Problem(message, format_path(path), self.locate(path), "error", hint))

    def warn(self, path: PathKey, message: str, hint: str | None = None) -> None:
        self.warnings.append(Problem(message, format_path(path), self.locate(path), "warning", hint))

    def check_name(self, path: PathKey, value: str, what: Literal["label", "subdomain"]) -> None:
        problem = names.label_problem(value) if what == "label" else names.subdomain_problem(value)
        if problem:
            self.error(path, f"{shown(value)} {problem}")

    @property
    def base_dir(self) -> Path:
        return self.doc.base_dir if self.doc else Path.cwd()

    def read_pem(self, path: PathKey, relative: str) -> tuple[CertSummary, ...] | None:
        """Certificates of a PEM file named in the spec (None after reporting a problem)."""
        from aiogen.pki import pem

        try:
            target = (self.base_dir / relative).resolve()
        except (OSError, ValueError):
            self.error(path, f"{shown(relative)} is not a usable file name")
            return None
        key = str(target)
        if key in self.pem_cache:
            return self.pem_cache[key]
        self.pem_cache[key] = None
        if not self.allow_outside_files and not target.is_relative_to(self.base_dir.resolve()):
            self.error(
                path,
                f"{shown(relative)} is outside the spec's directory",
                "move the file next to the spec, or pass --allow-outside-files",
            )
            return None
        try:
            data = pem.read_pem_file(target, source=relative)
        except FileNotFoundError:
            self.error(path, f"{shown(relative)} does not exist (paths are relative to the spec file)")
            return None
        except pem.PemError as error:
            self.error(path, str(error))
            return None
        except OSError as error:
            self.error(path, f"cannot read {shown(relative)}: {error.strerror}")
            return None
        try:
            certs = tuple(pem.summarize(c) for c in pem.parse_certificates(data, source=relative))
        except pem.PemError as error:
            self.error(path, str(error))
            return None
        self.pem_cache[key] = certs
        return certs
