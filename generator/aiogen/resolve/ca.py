"""Is an in-cluster CA one cert-manager will accept and keep stable? Subject, lifetime and key
policy of a CA Certificate that cert-manager creates and renews (a selfSigned root or an
inCluster intermediate): https://cert-manager.io/docs/usage/certificate/"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiogen.model.plan import InClusterCA, IssuerRef
from aiogen.resolve.context import Context
from aiogen.resolve.lifetimes import check_lifetime
from aiogen.yamlio.document import PathKey

if TYPE_CHECKING:  # the Topology's classes, for annotations: resolve never builds one
    from aiogen.model import spec

MAX_COMMON_NAME = 64  # RFC 5280 ub-common-name; cert-manager's webhook rejects longer
CONTROL_CHARACTERS = "must not hold control characters (a newline, NUL, tab, ...)"


def in_cluster_ca(
    ctx: Context,
    path: PathKey,
    ca: spec.InClusterCA,
    name: str,
    namespace: str,
    issuer_ref: IssuerRef,
    organization: str,
    *,
    is_root: bool,
) -> InClusterCA:
    """An in-cluster CA Certificate (named ``name``, its Secret too), checked as cert-manager's webhook would."""
    check_common_name(ctx, (*path, "commonName"), ca.common_name)
    if ca.organization is not None and not ca.organization.isprintable():
        ctx.error((*path, "organization"), CONTROL_CHARACTERS)
    check_lifetime(ctx, path, ca.duration, ca.renew_before)
    if is_root and ca.private_key.rotation_policy == "Always":
        ctx.warn(
            (*path, "privateKey", "rotationPolicy"),
            "Always gives the root a new key at every renewal; leaves signed by the old key stop verifying "
            "(https://cert-manager.io/docs/usage/certificate/#configuring-private-key-rotation)",
            "use Never and roll the root over with a rotation",
        )
    ctx.check_name(path, name, "subdomain")
    return InClusterCA(
        name,
        name,
        namespace,
        ca.common_name,
        ca.organization or organization,
        ca.duration,
        ca.renew_before,
        ca.private_key.algorithm,
        ca.private_key.rotation_policy,
        issuer_ref,
    )


def check_common_name(ctx: Context, path: PathKey, common_name: str) -> None:
    """A CA needs a CN (cert-manager requires a CN or SAN) of at most 64 printable characters."""
    if not common_name.strip():
        ctx.error(path, "a CA needs a non-empty commonName (cert-manager requires a CN or SAN)")
    elif not common_name.isprintable():
        ctx.error(path, CONTROL_CHARACTERS)
    if len(common_name) > MAX_COMMON_NAME:
        ctx.error(path, f"is {len(common_name)} characters; cert-manager allows at most {MAX_COMMON_NAME}")
