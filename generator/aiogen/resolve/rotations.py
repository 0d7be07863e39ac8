"""Which rotations are in progress, which clusters do they move, and in each phase who signs and
which roots are trusted? The phase table follows `aiogen.model.phases` (docs/rollover.md)."""

from __future__ import annotations

from itertools import pairwise
from typing import TYPE_CHECKING

from aiogen.model.phases import PHASES, signs_with_new, trusts_new, trusts_old
from aiogen.model.plan import RootCA, RotationState, Signer
from aiogen.resolve.fleet import ClusterScope, Fleet, S
from aiogen.resolve.roots import inline_name
from aiogen.yamlio.document import PathKey, shown

if TYPE_CHECKING:  # the Topology's classes, for annotations: resolve never builds one
    from aiogen.model import spec


def resolve_rotations(fleet: Fleet) -> list[RotationState]:
    """Every rotation of spec.rotations, checked, with the clusters it moves."""
    ctx = fleet.ctx
    out: list[RotationState] = []
    names_seen: set[str] = set()
    for index, rotation in enumerate(fleet.spec.rotations):
        path = (*S, "rotations", index)
        ctx.check_name((*path, "name"), rotation.name, "label")
        if rotation.name in names_seen:
            ctx.error((*path, "name"), f"rotation {shown(rotation.name)} is defined twice")
        names_seen.add(rotation.name)
        _check_started(fleet, path, rotation)
        clusters = _moved_clusters(fleet, path, rotation)
        retiring = fleet.spec.client_roots.get(rotation.from_ or "") if rotation.kind == "clientRoot" else None
        out.append(
            RotationState(
                rotation.name,
                rotation.kind,
                rotation.from_,
                rotation.to,
                rotation.phase,
                tuple((p, rotation.started[p]) for p in PHASES if p in rotation.started),
                rotation.min_dwell,
                clusters,
                retiring.max_leaf_lifetime if retiring else None,
            )
        )
    return out


def _check_started(fleet: Fleet, path: PathKey, rotation: spec.Rotation) -> None:
    """``started`` records every phase up to the current one, in order, and none after it."""
    upto = PHASES[: PHASES.index(rotation.phase) + 1]
    missing = [p for p in upto if p not in rotation.started]
    extra = [p for p in rotation.started if p not in upto]
    if missing:
        fleet.ctx.error(
            (*path, "started"),
            f"phase {rotation.phase!r} needs the date each phase began; missing: {', '.join(missing)}",
        )
    if extra:
        fleet.ctx.error(
            (*path, "started"), f"records {', '.join(extra)}, which come after the current phase {rotation.phase!r}"
        )
    dates = [(p, rotation.started[p]) for p in PHASES if p in rotation.started]
    for (p1, d1), (p2, d2) in pairwise(dates):
        if d2 < d1:
            fleet.ctx.error((*path, "started", p2), f"{p2} began {d2.isoformat()}, before {p1} ({d1.isoformat()})")


def _moved_clusters(fleet: Fleet, path: PathKey, rotation: spec.Rotation) -> tuple[str, ...]:
    """The clusters a rotation moves (reporting a rotation that moves none)."""
    ctx = fleet.ctx
    all_names = {c.name for c in fleet.spec.clusters}
    for i, name in enumerate(rotation.clusters or ()):
        if name not in all_names:
            ctx.error((*path, "clusters", i), f"cluster {shown(name)} is not defined")
    scope = [c for c in fleet.spec.clusters if rotation.clusters is None or c.name in rotation.clusters]
    if rotation.kind == "intermediate":
        affected = _intermediate_scope(fleet, path, rotation, scope)
    else:
        affected = _root_scope(fleet, path, rotation, scope)
    if affected is None:
        return ()
    if not affected:
        ctx.error(
            path,
            f"rotation {shown(rotation.name)} moves no cluster",
            "when a rotation is finished, remove it from spec.rotations",
        )
    return tuple(affected)


def _intermediate_scope(
    fleet: Fleet, path: PathKey, rotation: spec.Rotation, scope: list[spec.Cluster]
) -> list[str] | None:
    if rotation.from_ is not None or rotation.to is not None:
        fleet.ctx.error(
            path,
            "an intermediate rotation names no roots; drop from/to",
            "the new intermediate is each cluster's pki.next.intermediate",
        )
    if rotation.clusters is None:
        fleet.ctx.error((*path, "clusters"), "an intermediate rotation must list the clusters it moves")
        return None
    return [c.name for c in scope]


def _root_scope(fleet: Fleet, path: PathKey, rotation: spec.Rotation, scope: list[spec.Cluster]) -> list[str] | None:
    ctx, s = fleet.ctx, fleet.spec
    if rotation.from_ is None or rotation.to is None:
        ctx.error(path, f"a {rotation.kind} rotation needs both `from` and `to`")
        return None
    if rotation.from_ == rotation.to:
        ctx.error((*path, "to"), "`to` must differ from `from`")
    registry = s.roots if rotation.kind == "serverRoot" else s.client_roots
    kind_name = "spec.roots" if rotation.kind == "serverRoot" else "spec.clientRoots"
    inline = {inline_name(c, c.pki.root) for c in s.clusters} | {
        inline_name(c, c.pki.next.root) for c in s.clusters if c.pki.next
    }
    for key, value in (("from", rotation.from_), ("to", rotation.to)):
        if value not in registry and (rotation.kind == "clientRoot" or value not in inline):
            ctx.error((*path, key), f"{shown(value)} is not defined in {kind_name}")
    if rotation.kind == "serverRoot":
        return [c.name for c in scope if inline_name(c, c.pki.root) == rotation.from_]
    return [
        c.name
        for c in scope
        if c.broker.authentication.x509 is not None
        and rotation.from_ in c.broker.authentication.x509.trusted_client_roots
    ]


def server_rotation(scope: ClusterScope) -> RotationState | None:
    """The one rotation that moves this cluster's server chain (reporting a second)."""
    moving = [r for r in scope.rotations if r.kind in ("serverRoot", "intermediate")]
    for r in moving[1:]:
        scope.ctx.error(
            (*scope.path, "name"),
            f"cluster {shown(scope.cluster.name)} is moved by two rotations at once ({moving[0].name}, {r.name})",
            "finish one before starting the next",
        )
    return moving[0] if moving else None


def check_rotation_target(scope: ClusterScope, rotation: RotationState, current: Signer, nxt: Signer) -> None:
    """pki.next is the chain the rotation names, and its material is new."""
    ctx, path = scope.ctx, (*scope.path, "pki", "next")
    if rotation.kind == "serverRoot" and nxt.root.name != rotation.to:
        ctx.error(
            (*path, "root"),
            f"rotation {shown(rotation.name)} moves to root {shown(rotation.to)}, "
            f"but pki.next.root is {shown(nxt.root.name)}",
        )
    elif rotation.kind == "intermediate":
        if nxt.root.name != current.root.name:
            ctx.error(
                (*path, "root"),
                f"intermediate rotation {shown(rotation.name)} keeps the root; pki.next.root "
                f"is {shown(nxt.root.name)}, pki.root is {shown(current.root.name)}",
                "use a serverRoot rotation to change roots",
            )
        if scope.cluster.pki.mode != "intermediate":
            ctx.error((*scope.path, "pki", "mode"), "an intermediate rotation needs mode: intermediate")
    if nxt.generation == current.generation or nxt.secret_name == current.secret_name:
        ctx.error(
            path,
            f"the new chain uses the same Secret {shown(nxt.secret_name)} as the current one",
            "give the new CA material its own name (keyVault.secretName, secret.name or name)",
        )


def phase_table(
    rotation: RotationState | None, current: Signer, nxt: Signer | None
) -> tuple[Signer, tuple[Signer, ...], tuple[RootCA, ...]]:
    """Who signs, which CA material exists, which server roots are trusted, in the rotation's phase."""
    if rotation is None or nxt is None:
        return current, (current,), (current.root,)
    phase = rotation.phase
    signer = nxt if signs_with_new(phase) else current
    signers = (current, nxt) if trusts_old(phase) else (nxt,)
    if rotation.kind == "intermediate":
        roots: tuple[RootCA, ...] = (current.root,)
    else:
        roots = (*((current.root,) if trusts_old(phase) else ()), *((nxt.root,) if trusts_new(phase) else ()))
    return signer, signers, tuple(sorted(roots, key=lambda r: r.name))


def trusted_client_roots(names: list[str], rotations: tuple[RotationState, ...], defined: set[str]) -> set[str]:
    """The client roots a broker trusts in the current phase of the client-root rotations moving it."""
    trusted = set(names)
    for rotation in rotations:
        if rotation.kind != "clientRoot" or rotation.from_ not in trusted or rotation.to is None:
            continue
        if rotation.to not in defined:
            continue
        if not trusts_old(rotation.phase):
            trusted.discard(rotation.from_)
        if trusts_new(rotation.phase):
            trusted.add(rotation.to)
    return trusted
