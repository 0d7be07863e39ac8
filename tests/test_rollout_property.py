"""Property tests: the rollout check agrees with brute force, and the schedule it gives is always safe.

Random fleets (single-root or root+intermediate, pinned or in-cluster roots, 1-3 clusters, extra
listeners, Manual TLS ports, client bundles, X.509 clients) in random rotation states (any pair of
stages, forwards, backwards or skipping, at any time) are compared with `tests.rollout_oracle`,
which renders both specs and walks every order in which the changed resources can land.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from aiogen.model.plan import Plan
from aiogen.rollout import check as rollout_check
from aiogen.rollout import schedule
from tests import rollout_oracle as oracle
from tests.regen_golden_rollover import SEQUENCES, sequence
from tests.rollout_fleets import Fleet, State, fleets, moments, plan_for, spec_for, states

SETTINGS = settings(max_examples=60, deadline=timedelta(seconds=10), derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def transitions(draw: st.DrawFn) -> tuple[Fleet, State, State, datetime]:
    fleet = draw(fleets())
    old = draw(states(fleet))
    new = draw(states(fleet))
    return fleet, old, new, draw(moments(fleet, old, new))


@SETTINGS
@given(transitions())
def test_check_agrees_with_every_interleaving(case: tuple[Fleet, State, State, datetime]) -> None:
    fleet, old, new, now = case
    deployed, proposed = plan_for(fleet, old, now), plan_for(fleet, new, now)
    report = rollout_check.check(deployed, proposed, now)
    assert report.broken_pairs() == oracle.per_cluster(deployed, proposed, now)
    if not report.breaks:
        assert len(report.summary) == len(fleet.clusters)


def _interleavings_bound(deployed: Plan, proposed: Plan) -> int:
    return math.prod(2 ** len(m.updates) for m in oracle.models(deployed, proposed))


@settings(SETTINGS, max_examples=25)
@given(transitions())
def test_across_clusters_is_the_same_as_per_cluster(case: tuple[Fleet, State, State, datetime]) -> None:
    """Walking all clusters' updates together finds exactly what walking each cluster alone finds."""
    fleet, old, new, now = case
    assume(len(fleet.clusters) > 1)
    deployed, proposed = plan_for(fleet, old, now), plan_for(fleet, new, now)
    assume(_interleavings_bound(deployed, proposed) <= 2**9)
    together = oracle.every_interleaving(deployed, proposed, now)
    assert together is not None
    assert together == oracle.per_cluster(deployed, proposed, now) == rollout_check.check(deployed, proposed, now) \
        .broken_pairs()


@pytest.mark.parametrize("name", sorted(SEQUENCES))
def test_example_steps_across_both_clusters(name: str) -> None:
    """Each consecutive step of the examples, with every order of both plants' updates."""
    from aiogen.pipeline import load_plan

    days = ["2026-12-01", "2026-12-01", "2026-12-08", "2026-12-15", "2027-03-16" if name == "root" else "2027-12-16"]
    files = sequence(SEQUENCES[name])
    for index in range(1, 5):
        now = datetime.fromisoformat(days[index]).replace(tzinfo=UTC)
        deployed, proposed = load_plan(files[index - 1], now=now), load_plan(files[index], now=now)
        assert oracle.every_interleaving(deployed, proposed, now) == set() == rollout_check.check(deployed, proposed, now) \
            .broken_pairs()


@settings(SETTINGS, max_examples=10)
@given(fleet=fleets(max_clusters=2))
def test_the_schedule_is_always_safe(fleet: Fleet, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Taking every step on the earliest date `rollout plan` gives passes `rollout check` (advance runs it)."""
    from aiogen.pipeline import load_plan
    from aiogen.rollout.advance import advance
    from tests.test_rollout_check import write

    directory = tmp_path_factory.mktemp("schedule")
    start = datetime(2026, 12, 1, tzinfo=UTC)
    devices = "prepare" if any(c.devices_moved for c in fleet.clusters) else "before"
    spec: Path = write(directory, spec_for(fleet, State("prepare", devices)), "spec.yaml")
    now = start
    plan = load_plan(spec, now=now)
    for _ in range(20):
        if not plan.rotations:
            return
        rotation = min(plan.rotations, key=lambda r: schedule.remaining_steps(plan, r)[0].ready or now)
        step = schedule.remaining_steps(plan, rotation)[0]
        assume(step.ready is not None)  # a client root without maxLeafLifetime never retires
        assert step.ready is not None
        now = max(now, step.ready)
        result = advance(spec, rotation.name, now)  # raises unless `rollout check` passes
        spec.write_text(result.text)
        plan = result.plan
    raise AssertionError("the rotations did not finish")
