"""What does one cluster get? Its namespaces, issuer, chains (current and next), the phase's
signers and trusted roots, trust objects, client authentication and listeners, in that order;
every rule family checked, then the chain rules on the result."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiogen.model import names
from aiogen.model.plan import (
    CERT_MANAGER_NAMESPACE,
    Cluster,
    IssuerRef,
    Namespaces,
    RotationState,
    Signer,
    TrustSettings,
)
from aiogen.model.spec_compiled import blank
from aiogen.resolve.chain_rules import check_chains
from aiogen.resolve.client_auth import client_auth
from aiogen.resolve.fleet import ClusterScope, Fleet, S
from aiogen.resolve.lifetimes import check_nesting
from aiogen.resolve.listeners import resolve_listeners
from aiogen.resolve.rotations import check_rotation_target, phase_table, server_rotation
from aiogen.resolve.signers import chain_signer, check_signer_secrets
from aiogen.resolve.trust import check_root_sources, trust_objects
from aiogen.yamlio.document import PathKey, shown

if TYPE_CHECKING:
    from aiogen.model import spec


def resolve_cluster(
    fleet: Fleet, cluster: spec.Cluster, path: PathKey, rotations: tuple[RotationState, ...]
) -> Cluster | None:
    """The Plan of one cluster, or None after reporting every problem found in it."""
    ctx = fleet.ctx
    errors_before = ctx.found
    scope = ClusterScope(
        fleet, cluster, path, rotations, _namespaces(fleet, cluster, path), _issuer(fleet, cluster, path)
    )
    chains = _chains(scope)
    if chains is None or ctx.found > errors_before:
        resolve_listeners(scope, None, None)  # still report listener problems
        return None
    rotation, current, nxt = chains
    if rotation is not None and nxt is not None:
        check_rotation_target(scope, rotation, current, nxt)
    signer, signers, server_roots = phase_table(rotation, current, nxt)
    check_signer_secrets(scope, signers)
    d, ns, issuer = fleet.spec.defaults, scope.ns, scope.issuer
    pinned_cm, aio_bundle, client_bundles = trust_objects(scope, cluster.trust or d.trust, ns)
    check_root_sources(scope, signers)
    auth = client_auth(scope)
    listeners = resolve_listeners(scope, signers, auth)
    if ctx.found > errors_before:
        return None
    check_nesting(ctx, (*path, "pki"), signers, listeners)
    check_chains(ctx, path, signers, listeners, auth, ns.aio)
    create = cluster.namespaces.create if cluster.namespaces else None
    return Cluster(
        cluster.name,
        cluster.pki.mode,
        ns,
        issuer,
        ns.aio if issuer.kind == "Issuer" else None,
        scope.ca_namespace,
        signer,
        signers,
        server_roots,
        pinned_cm,
        aio_bundle,
        client_bundles,
        auth,
        listeners,
        TrustSettings(aio_bundle.name, aio_bundle.key, issuer.kind, issuer.name),
        rotations,
        _created_namespaces(ns, d.namespaces.create if create is None else create),
        cluster.broker.resources or d.broker_resources,
    )


def _created_namespaces(ns: Namespaces, create: bool) -> tuple[str, ...]:
    """The Namespace objects aiogen renders: the AIO namespace, unless opted out or cert-manager's
    install owns it (its own namespace, or its cluster resource namespace: a GitOps prune of a
    Namespace aiogen rendered would delete cert-manager)."""
    if not create or ns.aio in {CERT_MANAGER_NAMESPACE, ns.cluster_resource}:
        return ()
    return (ns.aio,)


def _namespaces(fleet: Fleet, cluster: spec.Cluster, path: PathKey) -> Namespaces:
    """The cluster's namespaces, each reported where it was written (a default once, at the default)."""
    d = fleet.spec.defaults.namespaces
    o: spec.NamespacesOverride = cluster.namespaces or blank("NamespacesOverride")
    ns = Namespaces(o.aio or d.aio, o.trust or d.trust, o.cluster_resource or d.cluster_resource)
    for field_name, attr, value in (
        ("aio", "aio", ns.aio),
        ("trust", "trust", ns.trust),
        ("clusterResource", "cluster_resource", ns.cluster_resource),
    ):
        problem = names.label_problem(value)
        if problem:
            written_here = getattr(o, attr) is not None
            where = (*path, "namespaces", field_name) if written_here else (*S, "defaults", "namespaces", field_name)
            fleet.ctx.error(where, f"namespace {shown(value)} {problem}")
    return ns


def _issuer(fleet: Fleet, cluster: spec.Cluster, path: PathKey) -> IssuerRef:
    d = fleet.spec.defaults.issuer
    io: spec.IssuerOverride = cluster.pki.issuer or blank("IssuerOverride")
    issuer = IssuerRef(io.name or d.name, io.kind or d.kind)
    where = (*path, "pki", "issuer", "name") if io.name else (*S, "defaults", "issuer", "name")
    fleet.ctx.check_name(where, issuer.name, "subdomain")
    return issuer


def _chains(scope: ClusterScope) -> tuple[RotationState | None, Signer, Signer | None] | None:
    """The rotation moving the cluster's chain, its current chain's signer and its next's."""
    ctx, c, path = scope.ctx, scope.cluster, scope.path
    rotation = server_rotation(scope)
    current = chain_signer(scope, (*path, "pki"), c.pki.root, c.pki.intermediate, next_chain=False)
    nxt = None
    if c.pki.next is not None:
        nxt = chain_signer(scope, (*path, "pki", "next"), c.pki.next.root, c.pki.next.intermediate, next_chain=True)
        if rotation is None:
            ctx.error(
                (*path, "pki", "next"),
                "pki.next is set but no rotation moves this cluster",
                "add a rotation to spec.rotations, or remove pki.next",
            )
    elif rotation is not None:
        ctx.error(
            (*path, "pki"),
            f"rotation {shown(rotation.name)} moves this cluster, but pki.next (the chain it moves to) is not set",
        )
    if current is None or (c.pki.next is not None and nxt is None):
        return None
    return rotation, current, nxt
