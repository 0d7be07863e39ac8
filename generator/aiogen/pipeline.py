"""The pipeline: spec file → Topology → Plan → rendered clusters. Every command goes through here.

    spec YAML ─load─▶ Topology ─resolve─▶ Plan ─render─▶ resources ─emit─▶ files / stream / ResourceList

The Topology never leaves the loader (`aiogen.yamlio.validate`), this module and `aiogen.resolve`:
render, rollout check, simulate and timeline read the Plan (tests/test_architecture.py holds this).
`load_phase_plans` resolves the spec once per phase of each rotation, for the consumers that walk a
whole rollover (simulate).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from aiogen.model.phases import PHASES, Phase
from aiogen.model.problems import AiogenError
from aiogen.yamlio.document import Document

if TYPE_CHECKING:
    from aiogen.model.plan import Plan
    from aiogen.model.spec import Topology
    from aiogen.render import RenderedCluster


STDIN = Path("-")  # a spec path of "-" reads the spec from standard input


def load_topology(path: Path, *, display: str | None = None) -> tuple[Topology, Document]:
    """Read, parse and validate a spec file (``-``: standard input; PEM paths relative to the cwd)."""
    from aiogen.yamlio.parse import parse_yaml
    from aiogen.yamlio.read import read_stream, read_text

    if path == STDIN:
        import sys

        name = display or "<stdin>"
        text = read_stream(sys.stdin.buffer, name)
        doc = parse_yaml(text, source=name, base_dir=Path.cwd())
    else:
        name = display or str(path)
        text = read_text(path, display=name)
        doc = parse_yaml(text, source=name, base_dir=path.resolve().parent)
    return topology_from_document(doc), doc


def topology_from_document(doc: Document) -> Topology:
    from aiogen.yamlio.validate import refuse_private_keys, validate_topology

    if not isinstance(doc.data, dict):
        raise AiogenError.single("a spec must be a YAML mapping (apiVersion, kind, metadata, spec)",
                                 location=doc.locate(()))
    refuse_private_keys(doc)
    return validate_topology(doc)


def plan_from_document(doc: Document, *, now: datetime | None = None, allow_outside_files: bool = False) -> Plan:
    """The Plan of a spec already parsed (the KRM function's Topology config)."""
    from aiogen.resolve import resolve

    return resolve(topology_from_document(doc), doc, now=now, allow_outside_files=allow_outside_files)


def load_plan(path: Path, *, display: str | None = None, now: datetime | None = None,
              allow_outside_files: bool = False) -> Plan:
    from aiogen.resolve import resolve

    topology, doc = load_topology(path, display=display)
    doc.data = None  # the Topology holds it now; resolve locates problems from the text (peak memory)
    return resolve(topology, doc, now=now, allow_outside_files=allow_outside_files)


def plan_from_text(text: str, *, source: str, base_dir: Path, now: datetime | None = None,
                   allow_outside_files: bool = False) -> Plan:
    from aiogen.yamlio.parse import parse_yaml

    doc = parse_yaml(text, source=source, base_dir=base_dir)
    return plan_from_document(doc, now=now, allow_outside_files=allow_outside_files)


def render_spec(path: Path, *, clusters: Sequence[str] | None = None, now: datetime | None = None,
                allow_outside_files: bool = False) -> tuple[Plan, list[RenderedCluster]]:
    from aiogen.render import render

    plan = load_plan(path, now=now, allow_outside_files=allow_outside_files)
    return plan, render(plan, clusters)


def load_phase_plans(path: Path, *, now: datetime | None = None, allow_outside_files: bool = False
                     ) -> tuple[Plan, dict[str, dict[Phase, Plan]]]:
    """The spec's Plan, and for each rotation its Plan in every phase.

    Phases the spec has not reached get the earliest dates the schedule allows
    (`aiogen.rollout.schedule.phase_dates`); the recorded phase is the spec itself.
    """
    from aiogen.resolve import resolve, resolve_phase
    from aiogen.rollout.schedule import phase_dates

    topology, doc = load_topology(path)
    plan = resolve(topology, doc, now=now, allow_outside_files=allow_outside_files)
    phases: dict[str, dict[Phase, Plan]] = {}
    for rotation in plan.rotations:
        dates = phase_dates(plan, rotation)
        phases[rotation.name] = {
            phase: plan if phase == rotation.phase else resolve_phase(
                topology, doc, rotation.name, phase, {p: dates[p] for p in PHASES[: PHASES.index(phase) + 1]},
                now=now, allow_outside_files=allow_outside_files)
            for phase in PHASES
        }
    return plan, phases
