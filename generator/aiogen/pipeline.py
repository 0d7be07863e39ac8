"""The pipeline of DESIGN.md as three calls: spec file → Plan → rendered clusters.

Every entry point (CLI, KRM function, rollout check, simulation, tests) goes through here, so
there is one code path from a spec to its output.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from aiogen.load import Document, load_topology, parse_yaml, topology_from_document
from aiogen.plan import Plan, resolve
from aiogen.render import RenderedCluster, render


def load_plan(path: Path, *, display: str | None = None, now: datetime | None = None,
              allow_outside_files: bool = False) -> Plan:
    import dataclasses

    topology, doc = load_topology(path, display=display)
    plan = resolve(topology, doc, now=now, allow_outside_files=allow_outside_files)
    return dataclasses.replace(plan, inputs=(str(path.resolve()), *plan.inputs))


def plan_from_text(text: str, *, source: str, base_dir: Path, now: datetime | None = None,
                   allow_outside_files: bool = False) -> Plan:
    doc: Document = parse_yaml(text, source=source, base_dir=base_dir)
    return resolve(topology_from_document(doc), doc, now=now, allow_outside_files=allow_outside_files)


def render_spec(path: Path, *, clusters: Sequence[str] | None = None, now: datetime | None = None,
                allow_outside_files: bool = False) -> tuple[Plan, list[RenderedCluster]]:
    plan = load_plan(path, now=now, allow_outside_files=allow_outside_files)
    return plan, render(plan, clusters)
