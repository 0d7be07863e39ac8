"""How long may each certificate live? cert-manager's minimums, and the nesting of lifetimes: a
child (intermediate or leaf) must never outlive the CA that signed it.

cert-manager renews a certificate ``renewBefore`` ahead of its expiry and never shortens a child
to fit its issuer (https://cert-manager.io/docs/usage/certificate/#renewal), so an issuer's
renewBefore must cover the longest child it signs. This module is the one home of that rule.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from aiogen.model.durations import describe
from aiogen.model.plan import AutomaticTls, Listener, Signer
from aiogen.resolve.context import Context
from aiogen.yamlio.document import PathKey, shown

if TYPE_CHECKING:
    from aiogen.pki.pem import CertSummary

MIN_DURATION = timedelta(hours=1)  # cert-manager MinimumCertificateDuration
MIN_RENEW_BEFORE = timedelta(minutes=5)  # cert-manager MinimumRenewBefore


def check_lifetime(
    ctx: Context,
    path: PathKey,
    duration: timedelta,
    renew_before: timedelta,
    *,
    duration_at: PathKey | None = None,
    renew_at: PathKey | None = None,
) -> None:
    """duration ≥ 1h, renewBefore ≥ 5m, renewBefore < duration: what cert-manager's webhook accepts.

    Each problem is reported where its value was written (``duration_at``, ``renew_at``: a value
    inherited from spec.defaults is reported once, at the defaults).
    """
    duration_at = duration_at or (*path, "duration")
    renew_at = renew_at or (*path, "renewBefore")
    if duration < MIN_DURATION:
        ctx.error(duration_at, f"{describe(duration)} is shorter than cert-manager's minimum of 1h")
    if renew_before < MIN_RENEW_BEFORE:
        ctx.error(renew_at, f"{describe(renew_before)} is shorter than cert-manager's minimum of 5m")
    if renew_before >= duration:
        ctx.error(
            renew_at,
            f"{describe(renew_before)} must be shorter than duration {describe(duration)}",
            "cert-manager rejects renewBefore >= duration",
        )


def check_outlives_issuer(
    ctx: Context, path: PathKey, cert: CertSummary, issuer: str, issuer_cert: CertSummary
) -> None:
    """A supplied intermediate must expire no later than the root above it."""
    if cert.not_after > issuer_cert.not_after:
        ctx.error(
            path,
            f"{shown(cert.subject)} expires {cert.not_after.date()} after its root "
            f"{shown(issuer)} ({issuer_cert.not_after.date()})",
            "a child must not outlive its issuer",
        )


def check_nesting(ctx: Context, path: PathKey, signers: tuple[Signer, ...], listeners: tuple[Listener, ...]) -> None:
    """issuer.renewBefore ≥ child.duration at every level, and no leaf longer than its CA's life."""
    leaf = max(
        ((p.tls.duration, lst.name, p.port) for lst in listeners for p in lst.ports if isinstance(p.tls, AutomaticTls)),
        default=None,
    )
    for signer in signers:
        root = signer.root
        if (
            signer.in_cluster is not None
            and root.in_cluster is not None
            and root.in_cluster.renew_before < signer.in_cluster.duration
        ):
            ctx.error(
                path,
                f"intermediate {shown(signer.generation)} lasts {describe(signer.in_cluster.duration)} "
                f"but root {shown(root.name)} renews only {describe(root.in_cluster.renew_before)} before it "
                "expires: an intermediate issued just before the renewal outlives the root",
                "make the root's renewBefore at least the intermediate's duration",
            )
        if leaf is not None:
            _check_leaf(ctx, path, signer, *leaf)


def _check_leaf(ctx: Context, path: PathKey, signer: Signer, duration: timedelta, listener: str, port: int) -> None:
    limit = signer.max_child_duration
    if limit is not None and limit < duration:
        ctx.error(
            path,
            f"listener {listener}:{port} certificates last {describe(duration)} but CA "
            f"{shown(signer.generation)} renews only {describe(limit)} before it expires: a leaf issued "
            "just before the renewal outlives its CA (cert-manager does not shorten it)",
            f"make the CA's renewBefore at least {describe(duration)}, or shorten the leaf duration",
        )
    known = signer.chain[0] if signer.chain else (signer.root.certificate if signer.role == "root" else None)
    if known is None:
        return
    lifetime = known.not_after - known.not_before
    if duration > lifetime:
        ctx.error(
            path,
            f"listener {listener}:{port} certificates last {describe(duration)}, longer than CA "
            f"{shown(known.subject)} itself ({describe(lifetime)})",
            "shorten the leaf duration",
        )
    elif known.not_after - ctx.now < duration:
        ctx.warn(
            path,
            f"CA {shown(known.subject)} expires {known.not_after.date().isoformat()}, within one leaf "
            f"lifetime ({describe(duration)}): leaves issued now would outlive it",
            "renew the CA (rotate to new material) before then",
        )
