"""Which states does a fleet pass through during a rollover, and which of them meet in the field?

A rotation moves prepare → distribute → switch → retire (`aiogen.model.phases`). The spec records
the phase it is in and the date each phase so far began; the simulation needs every phase. Each
phase's Plan comes from the resolver itself (`aiogen.pipeline.load_phase_plans`), so the phase
table stays in one place. Phases the spec has not reached yet get the earliest dates the schedule
allows (`aiogen.rollout.schedule.phase_dates`): ``minDwell`` after the phase before, and for
``retire`` also the longest leaf lifetime after ``switch``, because cert-manager does not reissue
leaves when a CA changes (https://cert-manager.io/docs/usage/certificate/#renewal).

Servers and clients never change at the same instant, so consecutive states meet: each
`Transition` pairs the state before with the state after. A phase recorded as shorter than the
rotation's ``minDwell`` counts as skipped (clients slower than it never saw it), so its neighbours
meet directly as well. Several spec files given in order (commits of a rollout) form one
`Sequence` whose consecutive specs meet the same way.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta

from aiogen.model.durations import describe
from aiogen.model.phases import PHASES, Phase
from aiogen.model.plan import Plan, RotationState
from aiogen.rollout.schedule import phase_dates

PhasePlans = Mapping[str, Mapping[Phase, Plan]]  # rotation name → phase → the spec's Plan in that phase


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


def for_plan(baseline: Plan, phase_plans: PhasePlans) -> list[Sequence]:
    """The spec as written for clusters no rotation moves, and every phase of every rotation."""
    moved = {name for rotation in baseline.rotations for name in rotation.clusters}
    still = tuple(c.name for c in baseline.clusters if c.name not in moved)
    out: list[Sequence] = []
    if still:
        out.append(Sequence("current", (State("current", "current", baseline, None),), (), still))
    for rotation in baseline.rotations:
        dates = phase_dates(baseline, rotation)
        states: list[State] = []
        for phase in PHASES:
            plan = phase_plans[rotation.name][phase]
            recorded = PHASES.index(phase) <= PHASES.index(rotation.phase)
            state_rotation = plan.rotation(rotation.name)
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


def _days(value: timedelta) -> str:
    return f"{value.days}d" if value == timedelta(days=value.days) else describe(value)


def _transitions(states: list[State], min_dwell: timedelta) -> tuple[Transition, ...]:
    out = [Transition(a, b) for a, b in itertools.pairwise(states)]
    # A middle phase shorter than minDwell: clients slower than it go straight from the phase
    # before to the phase after (docs/rollover.md: a skipped phase is a break).
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


def within_spec(sequences: list[Sequence], index: int, source: str) -> list[Sequence]:
    """``sequences`` of spec ``index`` of several, their states named after it ("spec 2 (b.yaml): ...")."""
    out: list[Sequence] = []
    for seq in sequences:
        renamed = {id(state): replace(state, key=f"spec-{index}.{state.key}",
                                      label=f"spec {index} ({source}): {state.label}") for state in seq.states}
        transitions = tuple(replace(t, before=renamed[id(t.before)], after=renamed[id(t.after)])
                            for t in seq.transitions)
        states = tuple(renamed[id(state)] for state in seq.states)
        out.append(Sequence(f"spec {index} ({source}): {seq.name}", states, transitions, seq.clusters))
    return out
