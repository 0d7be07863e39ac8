"""Which states does a fleet pass through during a rollover, and which of them meet in the field?

A rotation moves prepare → distribute → switch → retire (DESIGN.md "Rollover"). The spec records
the phase it is in and the date each phase so far began; the simulation needs every phase. Each
phase's Plan comes from the resolver itself: the Topology is copied with the rotation's ``phase``
and ``started`` replaced and resolved again with `aiogen.plan.resolve`, so the phase table stays
in one place (``plan.py``). Phases the spec has not reached yet get the earliest dates the rules
allow: ``minDwell`` after the phase before, and for ``retire`` also the longest leaf lifetime
after ``switch``, because cert-manager does not reissue leaves when a CA changes
(reference/cert-manager.md §5, §7.4).

Servers and clients never change at the same instant, so consecutive states meet: each
`Transition` pairs the state before with the state after. A phase recorded as shorter than the
rotation's ``minDwell`` counts as skipped (clients slower than it never saw it), so its neighbours
meet directly as well. Several spec files given in order (commits of a rollout) form one
`Sequence` whose consecutive specs meet the same way.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from aiogen import spec
from aiogen.durations import describe
from aiogen.errors import AiogenError, Problem
from aiogen.load import Document
from aiogen.plan import Phase, Plan, RotationState, resolve

PHASES: tuple[Phase, ...] = ("prepare", "distribute", "switch", "retire")
# Device certificates of a client root without maxLeafLifetime are issued for this long.
DEFAULT_DEVICE_LIFETIME = timedelta(days=365)


@dataclass(frozen=True)
class State:
    """One deployed state of the fleet: a Plan, and when it began (None when unknown)."""

    key: str  # stable id, used as the export directory name: "current", "root-2028.switch", "spec-2"
    label: str  # for people: "current", "root-2028 switch", "spec 2 (b.yaml)"
    plan: Plan
    began: date | None
    rotation: RotationState | None = None  # the rotation this state is a phase of
    phase: Phase | None = None
    recorded: bool = True  # the spec says so (False: a later phase with its earliest allowed date)


@dataclass(frozen=True)
class Transition:
    """Two states that are live at once while the change from ``before`` to ``after`` lands."""

    before: State
    after: State
    note: str = ""  # why these two meet, when it is not simply "consecutive"
    tag: str = ""  # the same, in two words for the table: "distribute skipped"


@dataclass(frozen=True)
class Sequence:
    """States in deployment order, the transitions between them, and the clusters they report."""

    name: str
    states: tuple[State, ...]
    transitions: tuple[Transition, ...]
    clusters: tuple[str, ...]


def for_topology(
    topology: spec.Topology,
    doc: Document | None,
    baseline: Plan,
    *,
    now: datetime | None = None,
    allow_outside_files: bool = False,
) -> list[Sequence]:
    """The spec as written for clusters no rotation moves, and every phase of every rotation."""
    moved = {name for rotation in baseline.rotations for name in rotation.clusters}
    still = tuple(c.name for c in baseline.clusters if c.name not in moved)
    out: list[Sequence] = []
    if still:
        out.append(Sequence("current", (State("current", "current", baseline, None),), (), still))
    for rotation in baseline.rotations:
        dates = phase_dates(topology, baseline, rotation)
        states: list[State] = []
        for phase in PHASES:
            started = {p: dates[p] for p in PHASES[: PHASES.index(phase) + 1]}
            plan = baseline if phase == rotation.phase else _resolve_phase(
                topology, doc, rotation.name, phase, started, now=now, allow_outside_files=allow_outside_files)
            recorded = PHASES.index(phase) <= PHASES.index(rotation.phase)
            state_rotation = next(r for r in plan.rotations if r.name == rotation.name)
            states.append(State(f"{rotation.name}.{phase}", f"{rotation.name} {phase}", plan, dates[phase],
                                state_rotation, phase, recorded))
        cluster_order = [c.name for c in baseline.clusters if c.name in rotation.clusters]
        out.append(Sequence(rotation.name, tuple(states), _transitions(states, rotation.min_dwell),
                            tuple(cluster_order)))
    return out


def for_specs(plans: list[tuple[str, Plan]]) -> Sequence:
    """Spec files in deployment order (each a commit); consecutive ones meet."""
    states: list[State] = []
    for index, (source, plan) in enumerate(plans, start=1):
        recorded = [day for r in plan.rotations if (day := r.started_at(r.phase)) is not None]
        began = max(recorded, default=None)
        states.append(State(f"spec-{index}", f"spec {index} ({source})", plan, began))
    clusters: dict[str, None] = {}
    for state in states:
        for cluster in state.plan.clusters:
            clusters.setdefault(cluster.name)
    transitions = tuple(Transition(a, b) for a, b in itertools.pairwise(states))
    return Sequence("specs", tuple(states), transitions, tuple(clusters))


def phase_dates(topology: spec.Topology, baseline: Plan, rotation: RotationState) -> dict[Phase, date]:
    """Recorded start dates, then the earliest date each later phase may begin.

    The earliest dates are the rollout check's (`aiogen.rollout.remaining_steps`), so the
    simulation walks exactly the schedule ``aiogen rollout`` would allow. Where that says "cannot
    tell" (a client root without ``maxLeafLifetime``), the device lifetime the simulation issues
    with (`DEFAULT_DEVICE_LIFETIME`) stands in.
    """
    from aiogen.rollout import remaining_steps

    dates: dict[Phase, date] = dict(rotation.started)
    earliest = {step.phase: step.earliest for step in remaining_steps(baseline, rotation)}
    for index, phase in enumerate(PHASES[1:], start=1):
        if phase in dates:
            continue
        found = earliest.get(phase)
        previous = dates[PHASES[index - 1]]
        if found is None or found < previous:
            wait = rotation.min_dwell
            if phase == "retire":
                wait = max(wait, longest_old_leaf(topology, baseline, rotation) + timedelta(days=1))
            found = previous + _whole_days(wait)
        dates[phase] = found
    return dates


def longest_old_leaf(topology: spec.Topology, baseline: Plan, rotation: RotationState) -> timedelta:
    """How long a leaf issued under the old signer just before ``switch`` stays valid."""
    if rotation.kind == "clientRoot":
        root = topology.spec.client_roots.get(rotation.from_ or "")
        lifetime = root.max_leaf_lifetime if root is not None else None
        return lifetime or DEFAULT_DEVICE_LIFETIME
    leaves = [baseline.cluster(name).longest_leaf for name in rotation.clusters
              if any(c.name == name for c in baseline.clusters)]
    return max(leaves, default=timedelta(0))


def _whole_days(value: timedelta) -> timedelta:
    days = value.days + (1 if value - timedelta(days=value.days) > timedelta(0) else 0)
    return timedelta(days=days)


def _days(value: timedelta) -> str:
    return f"{value.days}d" if value == timedelta(days=value.days) else describe(value)


def _transitions(states: list[State], min_dwell: timedelta) -> tuple[Transition, ...]:
    out = [Transition(a, b) for a, b in itertools.pairwise(states)]
    # A middle phase shorter than minDwell: clients slower than it go straight from the phase
    # before to the phase after (DESIGN.md: "Skipping a phase (prepare → switch) must be rejected").
    for index in range(1, len(states) - 1):
        state, after = states[index], states[index + 1]
        if state.began is None or after.began is None or not after.recorded:
            continue
        dwell = after.began - state.began
        if dwell < min_dwell:
            note = (f"{state.phase} lasted {_days(dwell)}, less than minDwell {_days(min_dwell)}, so clients slower "
                    "than that never saw it")
            out.append(Transition(states[index - 1], after, note, f"{state.phase} skipped"))
    return tuple(out)


def _resolve_phase(
    topology: spec.Topology, doc: Document | None, rotation_name: str, phase: Phase, started: dict[Phase, date],
    *, now: datetime | None, allow_outside_files: bool,
) -> Plan:
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
