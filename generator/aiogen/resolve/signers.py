"""Who signs a cluster's broker certificates? For one chain of a cluster (its current pki, or the
pki.next a rotation moves it to): the root, and in intermediate mode the intermediate under it,
with where its keypair comes from (Key Vault, a Secret, or cert-manager in the cluster)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiogen.model.plan import IssuerRef, RootCA, Signer
from aiogen.resolve.ca import in_cluster_ca
from aiogen.resolve.chains import intermediate_chain
from aiogen.resolve.fleet import ClusterScope, S
from aiogen.resolve.key_vault import key_vault_sync
from aiogen.resolve.roots import root_for
from aiogen.yamlio.document import PathKey, shown

if TYPE_CHECKING:  # the Topology's classes, for annotations: resolve never builds one
    from aiogen.model import spec
    from aiogen.pki.pem import CertSummary


def chain_signer(
    scope: ClusterScope,
    path: PathKey,
    root_ref: str | spec.InlineRoot,
    intermediate: spec.Intermediate | None,
    *,
    next_chain: bool,
) -> Signer | None:
    """The signer of the chain at ``path`` (pki or pki.next), or None after reporting why not."""
    ctx, c = scope.ctx, scope.cluster
    root = root_for(scope.fleet, (*path, "root"), root_ref, c.name, scope.ca_namespace, taken_default=next_chain)
    if c.pki.mode == "single-root":
        if intermediate is not None:
            ctx.error(
                (*path, "intermediate"),
                "single-root mode signs with the root itself; use mode: intermediate for a per-cluster intermediate",
            )
            return None
        return None if root is None else _root_signer(scope, path, root_ref, root)
    if intermediate is None:
        ctx.error(
            (*path, "intermediate"),
            "intermediate mode needs the cluster's intermediate CA (keyVault, secret or inCluster)",
        )
        return None
    return None if root is None else _intermediate_signer(scope, (*path, "intermediate"), root, intermediate)


def _root_signer(scope: ClusterScope, path: PathKey, root_ref: str | spec.InlineRoot, root: RootCA) -> Signer | None:
    """Single-root mode: the root signs leaves, so its keypair must reach the cluster."""
    definition = scope.fleet.spec.roots[root_ref] if isinstance(root_ref, str) else root_ref
    namespace = scope.ca_namespace
    if root.in_cluster is not None:
        return Signer(root.name, "root", "in-cluster", root, root.in_cluster.secret_name, namespace)
    rpath = (*S, "roots", root_ref) if isinstance(root_ref, str) else (*path, "root")
    chain = (root.certificate,) if root.certificate else ()
    if definition.key_vault is not None:
        kv = key_vault_sync(scope.ctx, (*rpath, "keyVault"), definition.key_vault, namespace)
        return Signer(root.name, "root", "key-vault", root, kv.secret_name, namespace, key_vault=kv, chain=chain)
    if definition.secret is not None:
        scope.ctx.check_name((*rpath, "secret", "name"), definition.secret.name, "subdomain")
        return Signer(root.name, "root", "secret", root, definition.secret.name, namespace, chain=chain)
    scope.ctx.error(
        (*path, "root"),
        f"single-root mode signs with root {shown(root.name)}, but its keypair has no source",
        f"give spec.roots.{root.name} a keyVault or secret, or use selfSigned",
    )
    return None


def _intermediate_signer(scope: ClusterScope, path: PathKey, root: RootCA, source: spec.Intermediate) -> Signer | None:
    ctx, namespace = scope.ctx, scope.ca_namespace
    chain: tuple[CertSummary, ...] = ()
    if source.certificate is not None:
        fpath = (*path, "certificate", "file")
        chain = intermediate_chain(ctx, fpath, scope.fleet.inputs.certificates(fpath), root) or ()
    if source.key_vault is not None:
        kv = key_vault_sync(ctx, (*path, "keyVault"), source.key_vault, namespace)
        return Signer(
            kv.secret_name, "intermediate", "key-vault", root, kv.secret_name, namespace, key_vault=kv, chain=chain
        )
    if source.secret is not None:
        name = source.secret.name
        ctx.check_name((*path, "secret", "name"), name, "subdomain")
        return Signer(name, "intermediate", "secret", root, name, namespace, chain=chain)
    assert source.in_cluster is not None
    if root.in_cluster is None:
        ctx.error(
            (*path, "inCluster"),
            f"an in-cluster intermediate needs an in-cluster root to sign it; root "
            f"{shown(root.name)} is known only by its certificate",
            "bring the intermediate through keyVault or secret (sign it offline with `aiogen ca intermediate`)",
        )
        return None
    name = source.name or f"{scope.issuer.name}-{root.name}"
    ca = in_cluster_ca(
        ctx,
        (*path, "inCluster"),
        source.in_cluster,
        name,
        namespace,
        IssuerRef(f"{root.name}-ca", "Issuer"),
        scope.fleet.organization,
        is_root=False,
    )
    return Signer(name, "intermediate", "in-cluster", root, name, namespace, in_cluster=ca)


def check_signer_secrets(scope: ClusterScope, signers: tuple[Signer, ...]) -> None:
    """Two CA generations of one cluster never share a Secret."""
    seen: dict[str, str] = {}
    for signer in signers:
        if signer.secret_name in seen and seen[signer.secret_name] != signer.generation:
            scope.ctx.error(
                (*scope.path, "pki"), f"two CA generations would share the Secret {shown(signer.secret_name)}"
            )
        seen[signer.secret_name] = signer.generation
