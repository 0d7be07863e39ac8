"""The phases of a rollover: the one definition every module imports.

A rotation moves a cluster (or the fleet) from one CA chain to another in four phases, each a
commit (docs/rollover.md):

    prepare     trust {old}        signs with old   new material present, unused
    distribute  trust {old, new}   signs with old
    switch      trust {old, new}   signs with new
    retire      trust {new}        signs with new   old material removed

After retire the rotation is finished: the new chain becomes the cluster's chain (`finish`, a
step of `aiogen rollout advance`, not a phase the spec can be in).
"""

from __future__ import annotations

from typing import Literal

Phase = Literal["prepare", "distribute", "switch", "retire"]
PHASES: tuple[Phase, ...] = ("prepare", "distribute", "switch", "retire")
StepPhase = Literal["prepare", "distribute", "switch", "retire", "finish"]  # a step `rollout advance` takes


def signs_with_new(phase: Phase) -> bool:
    """Whether the new chain signs leaves in ``phase`` (switch and retire)."""
    return phase in ("switch", "retire")


def dwells(phase: Phase) -> bool:
    """Whether ``minDwell`` holds a rotation in ``phase`` (prepare and distribute, before the new chain signs):
    every client must have seen the trust change before the next step."""
    return not signs_with_new(phase)


def trusts_old(phase: Phase) -> bool:
    """Whether clients still trust the old root in ``phase`` (every phase but retire)."""
    return phase != "retire"


def trusts_new(phase: Phase) -> bool:
    """Whether clients already trust the new root in ``phase`` (every phase after prepare)."""
    return phase != "prepare"
