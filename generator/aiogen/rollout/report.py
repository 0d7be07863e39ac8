"""The outcome of a rollout check: broken (server, population) pairs, holds, and a summary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from aiogen.model.problems import Problem
from aiogen.rollout.state import EarlierLeaves

Reason = Literal["signing", "new", "earlier"]


@dataclass(frozen=True)
class Presented:
    """A root a server (or the devices) may present while the change lands, and why."""

    root: str
    reasons: frozenset[Reason]
    earlier: EarlierLeaves | None = None  # the latest-living earlier batch under this root
    until: datetime | None = None  # when that batch expires; None with `earlier`: unknown


@dataclass(frozen=True)
class Break:
    """One (server, client population) pair the change would break, in the user's terms."""

    cluster: str
    server: str  # Server.key, or "devices"
    population: str  # Population.key
    root: str
    subject: str  # "plant-berlin: clients in ... (Bundle ...)"
    target: str  # "listener plant-mqtts:8883"
    when: str  # "after the switch"
    why: str  # "root contoso-root-2028 is not in their bundle yet"
    hint: str | None = None

    @property
    def message(self) -> str:
        return f"{self.subject} would not trust {self.target} {self.when}: {self.why}"


@dataclass(frozen=True)
class Hold:
    """A reason the step is not safe that is not about one pair: wait longer, or fix the spec."""

    subject: str  # "rotation root-2028", "plant-berlin"
    message: str
    hint: str | None = None


@dataclass(frozen=True)
class RolloutReport:
    deployed: str  # display names of the two specs
    proposed: str
    now: datetime
    breaks: tuple[Break, ...]
    holds: tuple[Hold, ...]
    summary: tuple[str, ...]  # one line per cluster: what changes and why it is safe
    notes: tuple[str, ...]  # what the check could not judge, and things worth knowing

    @property
    def safe(self) -> bool:
        return not self.breaks and not self.holds

    def broken_pairs(self) -> set[tuple[str, str, str]]:
        """(cluster, server key, population key) of every pair that breaks."""
        return {(b.cluster, b.server, b.population) for b in self.breaks}

    def problems(self) -> list[Problem]:
        """The failures as Problems: one per broken pair (servers sharing a reason together), then holds."""
        problems: list[Problem] = []
        hints: set[str] = set()
        for message, hint in [*self.grouped_breaks(), *((h.message, h.hint) for h in self.holds)]:
            problems.append(Problem(message, hint=hint if hint not in hints else None))  # each hint once
            if hint:
                hints.add(hint)
        return problems

    def grouped_breaks(self) -> list[tuple[str, str | None]]:
        """Break messages with the servers sharing one reason listed together: (message, hint)."""
        groups: dict[tuple[str, str, str, str | None], list[str]] = {}
        for b in self.breaks:
            groups.setdefault((b.subject, b.when, b.why, b.hint), []).append(b.target)
        out: list[tuple[str, str | None]] = []
        for (subject, when, why, hint), targets in groups.items():
            out.append((f"{subject} would not trust {join_list(targets)} {when}: {why}", hint))
        return out


def join_list(items: Sequence[str]) -> str:
    unique = list(dict.fromkeys(items))
    return unique[0] if len(unique) == 1 else ", ".join(unique[:-1]) + " and " + unique[-1]
