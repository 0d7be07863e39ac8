"""Which root CAs does the fleet have? Pinned roots (known by their PEM), client roots, and the
in-cluster roots cert-manager bootstraps per cluster; each checked for shape and validity."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from aiogen.model.plan import SELF_SIGNED_ISSUER, ClientRoot, Cluster, IssuerRef, RootCA
from aiogen.resolve.ca import in_cluster_ca
from aiogen.resolve.context import Context
from aiogen.resolve.fleet import Fleet, S
from aiogen.yamlio.document import PathKey, listing, shown

if TYPE_CHECKING:  # the Topology's classes, for annotations: resolve never builds one
    from aiogen.model import spec
    from aiogen.pki.pem import CertSummary


def resolve_roots(fleet: Fleet) -> None:
    """Check the names of spec.roots and spec.clientRoots; resolve the ones known by their PEM."""
    ctx = fleet.ctx
    for name, root in fleet.spec.roots.items():
        path: PathKey = (*S, "roots", name)
        ctx.check_name(path, name, "label")
        if root.self_signed is None:
            fleet.roots[name] = pinned_root(fleet, path, name, root)
    for name, client_root in fleet.spec.client_roots.items():
        path = (*S, "clientRoots", name)
        ctx.check_name(path, name, "label")
        fleet.client_roots[name] = _client_root(fleet, path, name, client_root)


def _single_certificate(fleet: Fleet, fpath: PathKey, what: str) -> CertSummary | None:
    """The one certificate of a root's file (None after saying why it is not exactly one)."""
    certs = fleet.inputs.certificates(fpath)
    if certs is None:
        return None
    if len(certs) != 1:
        fleet.ctx.error(fpath, f"holds {len(certs)} certificates; a {what} file holds exactly one")
        return None
    return certs[0]


def pinned_root(fleet: Fleet, path: PathKey, name: str, root: spec.Root) -> RootCA | None:
    """A root known by its certificate: exactly one self-signed CA certificate, valid now."""
    fpath = (*path, "certificate", "file")
    cert = _single_certificate(fleet, fpath, "root")
    if cert is None:
        return None
    ctx = fleet.ctx
    if not cert.self_signed and cert.issuer == cert.subject:
        ctx.error(
            fpath,
            f"{shown(cert.subject)} names itself as its issuer, but its signature does not verify with its own "
            "key: another key of the same name signed it (a renewed or cross-signed CA), the file is damaged, "
            "or its signature algorithm is one cryptography cannot verify; a root must be self-signed",
            "use the certificate that the root's own key signs",
        )
        return None
    if not cert.self_signed:
        ctx.error(
            fpath,
            f"{shown(cert.subject)} is not self-signed (issued by {shown(cert.issuer)}); a root must be",
            "list intermediates under a cluster's pki.intermediate.certificate instead",
        )
        return None
    if not cert.is_ca:
        ctx.error(fpath, f"{shown(cert.subject)} is not a CA certificate (BasicConstraints CA:TRUE missing)")
        return None
    check_validity(ctx, fpath, cert, root.allow_expired)
    return RootCA(name, cert, None)


def _client_root(fleet: Fleet, path: PathKey, name: str, root: spec.ClientRoot) -> ClientRoot | None:
    fpath = (*path, "certificate", "file")
    cert = _single_certificate(fleet, fpath, "client root")
    if cert is None:
        return None
    ctx = fleet.ctx
    if not cert.is_ca:
        ctx.error(fpath, f"{shown(cert.subject)} is not a CA certificate; the broker trusts CAs only")
        return None
    if not cert.self_signed:
        ctx.warn(fpath, f"{shown(cert.subject)} is not self-signed; clients must then send the chain above it")
    check_validity(ctx, fpath, cert, root.allow_expired)
    return ClientRoot(name, cert, root.max_leaf_lifetime)


def check_validity(ctx: Context, path: PathKey, cert: CertSummary, allow_expired: bool) -> None:
    """A certificate in use must not have expired (unless allowed), and should already be valid."""
    if cert.not_after <= ctx.now and not allow_expired:
        ctx.error(
            path,
            f"{shown(cert.subject)} expired on {cert.not_after.date().isoformat()}",
            "replace it, or set allowExpired: true if you know why",
        )
    elif cert.not_before > ctx.now:
        ctx.warn(path, f"{shown(cert.subject)} is not valid before {cert.not_before.isoformat()}")


def root_for(
    fleet: Fleet, path: PathKey, ref: str | spec.InlineRoot, cluster: str, namespace: str, taken_default: bool
) -> RootCA | None:
    """The RootCA a cluster's pki (or next chain) names; in-cluster roots are per cluster."""
    ctx = fleet.ctx
    if isinstance(ref, str):
        if ref not in fleet.spec.roots:
            ctx.error(
                path, f"root {shown(ref)} is not defined in spec.roots (defined: {listing(sorted(fleet.spec.roots))})"
            )
            return None
        definition: spec.Root = fleet.spec.roots[ref]
        if definition.self_signed is None:
            return fleet.roots.get(ref)
        return _in_cluster_root(fleet, path, ref, definition.self_signed, namespace)
    name = ref.name or (f"{cluster}-root" if not taken_default else None)
    if name is None:
        ctx.error((*path, "name"), "an inline root in pki.next needs a `name` different from the current root's")
        return None
    ctx.check_name((*path, "name"), name, "label")
    if ref.self_signed is None:
        return pinned_root(fleet, path, name, ref)
    return _in_cluster_root(fleet, path, name, ref.self_signed, namespace)


def _in_cluster_root(fleet: Fleet, path: PathKey, name: str, ca: spec.InClusterCA, namespace: str) -> RootCA:
    issuer = IssuerRef(SELF_SIGNED_ISSUER, "Issuer")
    plan = in_cluster_ca(
        fleet.ctx, (*path, "selfSigned"), ca, name, namespace, issuer, fleet.organization, is_root=True
    )
    return RootCA(name, None, plan)


def inline_name(cluster: spec.Cluster, ref: str | spec.InlineRoot) -> str:
    """The name a cluster's root goes by: its spec.roots key, or an inline root's (default) name."""
    if isinstance(ref, str):
        return ref
    return ref.name or f"{cluster.name}-root"


def warn_unused_roots(fleet: Fleet, clusters: Iterable[Cluster]) -> None:
    used = {s.root.name for c in clusters for s in c.signers}
    # a rotation in retire still names its old root; that root goes with the finished rotation
    used |= {r.from_ for r in fleet.spec.rotations if r.kind == "serverRoot" and r.from_}
    for name in fleet.spec.roots:
        if name not in used and fleet.roots.get(name, True) is not None:
            fleet.ctx.warn((*S, "roots", name), f"root {shown(name)} is not used by any cluster")
