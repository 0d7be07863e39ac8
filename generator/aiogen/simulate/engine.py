"""Would every client accept every broker, in every phase of every rollover? ``aiogen simulate``.

The simulation builds a throwaway PKI from the Plan (`aiogen.simulate.material`, stand-ins that
keep every property of a supplied certificate: `aiogen.simulate.stand_in`), issues every listener
certificate as cert-manager's CA issuer would, and for every listener port (AIO's default listener
included) and every client population (`aiogen.simulate.populations`) checks the pair twice
(`aiogen.simulate.handshake`): OpenSSL's path validation and a real TLS handshake on loopback (mTLS
where the port authenticates clients by X.509). Which pairs: `aiogen.simulate.planning`; running
them: `aiogen.simulate.running`; why one failed: `aiogen.simulate.diagnosis`. docs/simulate.md has
the full model.

Several specs (commits in order) are judged as strictly as each one alone (every phase of its
rotations), plus the half-deployed pairs between consecutive specs.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiogen.model.plan import Plan
from aiogen.model.problems import Problem
from aiogen.simulate import sequences as sequences_module
from aiogen.simulate.material import ThrowawayPki
from aiogen.simulate.planning import Planner
from aiogen.simulate.report import SimulationReport
from aiogen.simulate.running import Progress, run
from aiogen.simulate.sequences import Sequence

__all__ = ["Progress", "simulate", "simulate_specs"]


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a simulation runs (as for render: `aiogen.cli.fast`).

    A 1,000-cluster simulation holds every phase's Plan and 121,000 checks, and makes few cycles:
    CPython's collector walked that heap ~2,000 times, 14 % of the command's own CPU. Freed by
    reference counting as before; the collector is back on (if it was) as soon as the run ends.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def simulate(sequences: Iterable[Sequence], *, source: str = "", clock: datetime | None = None,
             workers: int | None = None, progress: Progress | None = None) -> SimulationReport:
    """Simulate every state of ``sequences``; material is issued at ``clock`` (default: now)."""
    at = (clock or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    pki = ThrowawayPki(at - timedelta(minutes=1))
    planner = Planner()
    for index, seq in enumerate(sequences):
        planner.sequence(index, seq)
    run(planner.jobs, pki, at, workers, progress)
    checks = sorted(planner.checks, key=lambda c: c.order)
    return SimulationReport(source, at, tuple(checks), tuple(pki.notes))


def simulate_specs(paths: list[Path], *, now: datetime | None = None, allow_outside_files: bool = False,
                   workers: int | None = None, progress: Progress | None = None
                   ) -> tuple[SimulationReport, tuple[Problem, ...]]:
    """Load one spec (every phase of its rotations) or several (commits in order) and simulate.

    Returns the report and the resolver's warnings. ``now`` is the resolver's clock (expiry
    checks); certificates are always issued at the real clock, because the handshake's TLS
    library checks validity against it.
    """
    with _collector_paused():
        return _simulate_specs(paths, now=now, allow_outside_files=allow_outside_files, workers=workers,
                               progress=progress)


def _simulate_specs(paths: list[Path], *, now: datetime | None, allow_outside_files: bool, workers: int | None,
                    progress: Progress | None) -> tuple[SimulationReport, tuple[Problem, ...]]:
    from aiogen.pipeline import load_phase_plans

    if len(paths) == 1:
        plan, phase_plans = load_phase_plans(paths[0], now=now, allow_outside_files=allow_outside_files)
        sequences = sequences_module.for_plan(plan, phase_plans)
        warnings = plan.warnings
    else:
        # each spec as strictly as alone (every phase of its rotations), then the commits as they meet
        plans: list[tuple[str, Plan]] = []
        alone: list[Sequence] = []
        for index, path in enumerate(paths, start=1):
            plan, phase_plans = load_phase_plans(path, now=now, allow_outside_files=allow_outside_files)
            plans.append((path.name, plan))
            alone += sequences_module.within_spec(sequences_module.for_plan(plan, phase_plans), index, path.name)
        sequences = [sequences_module.for_specs(plans), *alone]
        warnings = tuple(w for _, p in plans for w in p.warnings)
    source = " → ".join(str(p) for p in paths)
    return simulate(sequences, source=source, workers=workers, progress=progress), warnings

