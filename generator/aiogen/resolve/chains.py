"""Is a supplied intermediate chain one unbroken chain up to the cluster's root? Order, links,
CA flags and validity of the PEM a user gives for an intermediate (child first, root excluded:
https://cert-manager.io/docs/configuration/ca/)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiogen.model.plan import RootCA
from aiogen.resolve.context import Context
from aiogen.resolve.lifetimes import check_outlives_issuer
from aiogen.resolve.roots import check_validity
from aiogen.yamlio.document import PathKey, shown

if TYPE_CHECKING:
    from cryptography import x509

    from aiogen.pki.pem import CertSummary


def intermediate_chain(
    ctx: Context, path: PathKey, certs: tuple[CertSummary, ...] | None, root: RootCA
) -> tuple[CertSummary, ...] | None:
    """The chain read from the file at ``path``, if every link holds (None after reporting)."""
    if not certs or not _all_intermediates(ctx, path, certs) or not _linked(ctx, path, certs, root):
        return None
    for cert in certs:
        check_validity(ctx, path, cert, False)
        if root.certificate is not None:
            check_outlives_issuer(ctx, path, cert, root.name, root.certificate)
    return certs


def _all_intermediates(ctx: Context, path: PathKey, certs: tuple[CertSummary, ...]) -> bool:
    for index, cert in enumerate(certs):
        if cert.self_signed:
            ctx.error(
                path,
                f"certificate {index + 1} ({shown(cert.subject)}) is a self-signed root; the intermediate "
                "chain must exclude the root (https://cert-manager.io/docs/configuration/ca/)",
                "remove the root from the file",
            )
            return False
        if not cert.is_ca:
            ctx.error(path, f"certificate {index + 1} ({shown(cert.subject)}) is not a CA")
            return False
    return True


def _linked(ctx: Context, path: PathKey, certs: tuple[CertSummary, ...], root: RootCA) -> bool:
    from aiogen.pki import pem

    x509s = [_load(c.pem) for c in certs]
    for index in range(len(certs) - 1):
        if not pem.signed_by(x509s[index], x509s[index + 1]):
            ctx.error(
                path,
                f"certificate {index + 1} ({shown(certs[index].subject)}) is not signed by certificate "
                f"{index + 2} ({shown(certs[index + 1].subject)})",
                "order the chain child first, then its issuer",
            )
            return False
    if root.certificate is not None and not pem.signed_by(x509s[-1], _load(root.certificate.pem)):
        ctx.error(
            path,
            f"{shown(certs[-1].subject)} is not signed by root {shown(root.name)} ({shown(root.certificate.subject)})",
            "the intermediate must chain to the cluster's root",
        )
        return False
    return True


def _load(pem_text: str) -> x509.Certificate:
    from cryptography import x509

    return x509.load_pem_x509_certificate(pem_text.encode("ascii"))
