"""When may a rotation take its next step? The schedule of a rollover, from the spec's dates.

`remaining_steps(plan, rotation)` gives the phases a rotation has left and the earliest moment
each may be taken: `minDwell` after prepare and distribute began, and for retire the longest leaf
lifetime under the old chain after the switch day (cert-manager does not reissue leaves when a CA
Secret changes: https://cert-manager.io/docs/configuration/ca/). `phase_dates` fills in the dates
of the phases a spec has not reached yet, so simulate and timeline walk exactly this schedule.

Dates in the spec are days. A phase "began" on a day means at some moment of it, so leaves issued
under the old chain may carry that whole day: the switch day counts until its end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from aiogen.model.durations import describe
from aiogen.model.phases import PHASES, Phase, StepPhase, dwells
from aiogen.model.plan import Plan, RotationState
from aiogen.rollout.days import end_of_day, first_day_at_or_after, start_of_day
from aiogen.rollout.state import DEFAULT_LISTENER_LABEL, DEFAULT_LISTENER_LIFETIME, cluster_state


def dwell_over(rotation: RotationState) -> datetime | None:
    """When ``minDwell`` lets a rotation leave prepare or distribute (None in switch and retire)."""
    if not dwells(rotation.phase):
        return None
    began = rotation.started_at(rotation.phase)
    return None if began is None else start_of_day(began) + rotation.min_dwell


def retire_wait(plan: Plan, rotation: RotationState) -> tuple[timedelta | None, str]:
    """How long after the switch day certificates under the old chain may live, and whose they are.

    None when nobody knows (a client root without maxLeafLifetime). An intermediate rotation needs
    no wait: leaves under the old intermediate still chain to the same root.
    """
    if rotation.kind == "intermediate":
        return timedelta(0), "an intermediate rotation keeps the root, so certificates under the old " \
                             "intermediate stay trusted"
    if rotation.kind == "clientRoot":
        if rotation.from_max_leaf_lifetime is None:
            return None, (f"client root {rotation.from_} has no maxLeafLifetime, so aiogen cannot tell when the "
                          "last device certificate under it expires")
        return rotation.from_max_leaf_lifetime, f"maxLeafLifetime of {rotation.from_}"
    longest: tuple[timedelta, str] | None = None
    for name in rotation.clusters:
        try:
            cluster = plan.cluster(name)
        except KeyError:
            continue
        for server in cluster_state(cluster).servers:
            if server.lifetime is not None and (longest is None or server.lifetime > longest[0]):
                longest = (server.lifetime, f"{server.label} on {name}")
    if longest is None:
        return DEFAULT_LISTENER_LIFETIME, f"longest leaf lifetime under {rotation.from_} ({DEFAULT_LISTENER_LABEL})"
    return longest[0], f"longest leaf lifetime under {rotation.from_} ({longest[1]})"



@dataclass(frozen=True)
class Step:
    """A step a rotation has left, and the earliest moment it may be taken."""

    phase: StepPhase
    ready: datetime | None  # None: aiogen cannot tell (see `because`)
    because: str

    @property
    def earliest(self) -> date | None:
        return None if self.ready is None else first_day_at_or_after(self.ready)

    def status(self, now: datetime) -> Literal["unknown", "ready", "waiting"]:
        """Whether the step may be taken at ``now``."""
        if self.ready is None:
            return "unknown"
        return "ready" if now >= self.ready else "waiting"

    def days_left(self, now: datetime) -> int | None:
        """Whole days from ``now`` to the earliest day the step may be taken (None: unknown)."""
        return None if self.earliest is None else (self.earliest - now.date()).days


def remaining_steps(plan: Plan, rotation: RotationState) -> tuple[Step, ...]:
    """The phases after the current one (then `finish`), each at its earliest, from the spec's durations."""
    steps: list[Step] = []
    index = PHASES.index(rotation.phase)
    began: datetime | None = None
    recorded = rotation.started_at(rotation.phase)
    if recorded is not None:
        began = start_of_day(recorded)
    switched = rotation.started_at("switch")
    for phase in PHASES[index + 1 :]:
        previous = PHASES[PHASES.index(phase) - 1]
        ready: datetime | None
        if dwells(previous):
            ready = None if began is None else began + rotation.min_dwell
            since = (f"{previous} began {began.date().isoformat()}" if previous == rotation.phase and began
                     else f"{previous} at the earliest")
            because = f"{since}, plus minDwell {describe(rotation.min_dwell)}"
        else:  # retire
            switch_day = switched or (began.date() if began else None)
            wait, whose = retire_wait(plan, rotation)
            if rotation.kind == "intermediate":
                ready = start_of_day(switch_day) if switch_day else None
                because = f"any time after the switch: {whose}"
            elif wait is None or switch_day is None:
                ready = None
                because = whose
            else:
                ready = end_of_day(switch_day) + wait
                because = f"the switch day {switch_day.isoformat()} + {describe(wait)}, the {whose}"
        steps.append(Step(phase, ready, because))
        began = ready
    finish_ready = began if rotation.phase != "retire" else start_of_day(recorded) if recorded else None
    if rotation.kind == "clientRoot":
        finish = f"{rotation.to} replaces {rotation.from_} in trustedClientRoots"
    else:
        finish = "each cluster's pki.next becomes its pki"
    steps.append(Step("finish", finish_ready, f"after retire: {finish} and the rotation goes; the rendered output "
                      "does not change"))
    return tuple(steps)


# Device certificates of a client root without maxLeafLifetime are issued for this long.
DEFAULT_DEVICE_LIFETIME = timedelta(days=365)


def phase_dates(baseline: Plan, rotation: RotationState) -> dict[Phase, date]:
    """Recorded start dates, then the earliest date each later phase may begin.

    The earliest dates are the rollout check's (`remaining_steps`), so the
    simulation walks exactly the schedule ``aiogen rollout`` would allow. Where that says "cannot
    tell" (a client root without ``maxLeafLifetime``), the device lifetime the simulation issues
    with (`DEFAULT_DEVICE_LIFETIME`) stands in.
    """
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
                wait = max(wait, longest_old_leaf(baseline, rotation) + timedelta(days=1))
            found = previous + _whole_days(wait)
        dates[phase] = found
    return dates


def longest_old_leaf(baseline: Plan, rotation: RotationState) -> timedelta:
    """How long a leaf issued under the old signer just before ``switch`` stays valid."""
    if rotation.kind == "clientRoot":
        return rotation.from_max_leaf_lifetime or DEFAULT_DEVICE_LIFETIME
    leaves = [server.lifetime for name in rotation.clusters if any(c.name == name for c in baseline.clusters)
              for server in cluster_state(baseline.cluster(name)).servers if server.lifetime is not None]
    return max(leaves, default=timedelta(0))  # AIO's default listener (90-day leaves) included


def _whole_days(value: timedelta) -> timedelta:
    days = value.days + (1 if value - timedelta(days=value.days) > timedelta(0) else 0)
    return timedelta(days=days)
