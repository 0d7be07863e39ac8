"""Topology → Plan: every default applied, every name derived, every cross-object rule checked.

Only this package (and `aiogen.pipeline`, which calls it) sees the Topology; everything
downstream reads the Plan.
"""

from __future__ import annotations

from datetime import date, datetime

from aiogen.model import spec
from aiogen.model.phases import Phase
from aiogen.model.plan import Plan
from aiogen.model.problems import AiogenError, Problem
from aiogen.resolve.resolver import resolve
from aiogen.yamlio.document import Document

__all__ = ["resolve", "resolve_phase"]


def resolve_phase(
    topology: spec.Topology, doc: Document | None, rotation_name: str, phase: Phase, started: dict[Phase, date],
    *, now: datetime | None, allow_outside_files: bool,
) -> Plan:
    """The Plan of the spec with one rotation moved to ``phase`` (its phase dates ``started``)."""
    rotations = [
        r.model_copy(update={"phase": phase, "started": started}) if r.name == rotation_name else r
        for r in topology.spec.rotations
    ]
    variant = topology.model_copy(update={"spec": topology.spec.model_copy(update={"rotations": rotations})})
    try:
        return resolve(variant, doc, now=now, allow_outside_files=allow_outside_files)
    except AiogenError as error:
        prefix = f"in phase {phase} of rotation {rotation_name!r}: "
        raise AiogenError(
            tuple(Problem(prefix + p.message, p.path, p.location, p.severity, p.hint) for p in error.problems),
            error.exit_code,
        ) from None
