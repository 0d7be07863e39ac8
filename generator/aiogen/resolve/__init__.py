"""Topology → Plan: every default applied, every name derived, every cross-object rule checked.

Only this package (and `aiogen.pipeline`, which calls it) sees the Topology; everything
downstream reads the Plan. Resolution collects every problem (errors and warnings) before
raising, so `aiogen validate` can print them all at once.

The PEM files the spec names are read first (`inputs`); the rules are pure functions of the
Topology and those certificates, one module per question: `roots`, `ca`, `lifetimes`, `signers`,
`chains`, `key_vault`, `rotations`, `trust`, `client_auth`, `listeners`, `tls`, per cluster
`cluster`, and the chain rules (`chain_rules`) last.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from aiogen.model.phases import Phase
from aiogen.model.plan import Cluster, Plan
from aiogen.model.problems import AiogenError, Problem
from aiogen.resolve.ca import CONTROL_CHARACTERS
from aiogen.resolve.cluster import resolve_cluster
from aiogen.resolve.context import Context
from aiogen.resolve.fleet import Fleet, S
from aiogen.resolve.inputs import read_inputs
from aiogen.resolve.roots import resolve_roots, warn_unused_roots
from aiogen.resolve.rotations import resolve_rotations
from aiogen.yamlio.document import Document, PathKey, shown

if TYPE_CHECKING:
    from aiogen.model import spec

__all__ = ["resolve", "resolve_phase"]

MIN_CLUSTER_NAME = 3  # docs/spec.md: cluster names are 3-63 characters


def resolve(
    topology: spec.Topology,
    doc: Document | None = None,
    *,
    now: datetime | None = None,
    allow_outside_files: bool = False,
) -> Plan:
    """Resolve a Topology into a Plan, or raise `AiogenError` listing every problem."""
    from aiogen.model.clock import now_utc

    ctx = Context(doc, now or now_utc(), allow_outside_files)
    fleet = Fleet(topology, ctx, read_inputs(topology, ctx))
    plan = _plan(fleet)
    if ctx.errors:
        raise AiogenError(tuple(ctx.errors), warnings=tuple(ctx.warnings))
    return Plan(plan.name, plan.clusters, plan.rotations, tuple(ctx.warnings))


def _plan(fleet: Fleet) -> Plan:
    ctx = fleet.ctx
    ctx.check_name(("metadata", "name"), fleet.topology.metadata.name, "subdomain")
    organization = fleet.spec.defaults.organization
    if organization is not None and not organization.isprintable():
        ctx.error((*S, "defaults", "organization"), CONTROL_CHARACTERS)
    resolve_roots(fleet)
    rotations = resolve_rotations(fleet)
    seen: dict[str, int] = {}
    clusters: list[Cluster] = []
    for index, cluster in enumerate(fleet.spec.clusters):
        path: PathKey = (*S, "clusters", index)
        if cluster.name in seen:
            ctx.error(
                (*path, "name"), f"cluster {shown(cluster.name)} is already defined at clusters[{seen[cluster.name]}]"
            )
            continue
        seen[cluster.name] = index
        ctx.check_name((*path, "name"), cluster.name, "label")
        if len(cluster.name) < MIN_CLUSTER_NAME:
            ctx.error(
                (*path, "name"), f"{shown(cluster.name)} is shorter than {MIN_CLUSTER_NAME} characters (docs/spec.md)"
            )
        mine = tuple(r for r in rotations if cluster.name in r.clusters)
        resolved = resolve_cluster(fleet, cluster, path, mine)
        if resolved is not None:
            clusters.append(resolved)
    warn_unused_roots(fleet, clusters)
    return Plan(fleet.topology.metadata.name, tuple(clusters), tuple(rotations))


def resolve_phase(
    topology: spec.Topology,
    doc: Document | None,
    rotation_name: str,
    phase: Phase,
    started: dict[Phase, date],
    *,
    now: datetime | None,
    allow_outside_files: bool,
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
        prefix = f"in phase {phase} of rotation {shown(rotation_name)}: "
        raise AiogenError(
            tuple(Problem(prefix + p.message, p.path, p.location, p.severity, p.hint) for p in error.problems),
            error.exit_code,
        ) from None
