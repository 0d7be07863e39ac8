"""Rules on the CA chains a cluster uses, judged as the TLS libraries its clients run would judge them.

`check_chains` runs after every other rule of a cluster, when its signers (with the certificates
the user supplied) and its listeners (with every SAN each certificate will request) are known.
The judgement itself is `aiogen.pki.judge` (OpenSSL 3 at its default security level 2, what
Python, mosquitto and the broker run); here each refusal becomes an error located at the file
that holds the certificate, naming the listener and the names it concerns. Every command goes
through resolve, so validate, render, simulate, rollout check and timeline all see these errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import TYPE_CHECKING

from aiogen.model.dialing import (
    DEFAULT_LISTENER_LABEL,
    DEFAULT_LISTENER_PORT,
    DEFAULT_LISTENER_SERVICE,
    in_cluster_names,
)
from aiogen.model.plan import AutomaticTls, ClientAuth, Listener, Signer
from aiogen.resolve.context import Context
from aiogen.yamlio.document import PathKey

if TYPE_CHECKING:  # cryptography is imported only when a spec supplies a certificate (~20 ms of a cold start)
    from cryptography import x509

    from aiogen.pki import judge
    from aiogen.pki.pem import CertSummary


def check_chains(ctx: Context, path: PathKey, signers: tuple[Signer, ...], listeners: tuple[Listener, ...],
                 client_auth: ClientAuth | None, aio_namespace: str) -> None:
    """Report every property of a supplied chain that makes OpenSSL-based clients refuse it."""
    if client_auth is None and not any(_issuers(signer) for signer in signers):
        return  # no certificate supplied: nothing to judge, and cryptography stays unloaded
    from aiogen.pki import judge

    reported: set[tuple[str, ...]] = set()
    for signer in signers:
        issuers = _issuers(signer)
        if not issuers:
            continue
        _unseen_intermediate(ctx, path, signer)
        certs = [_load(summary.pem) for summary in issuers]
        for listener, port, names in _requested_names(listeners, aio_namespace):
            refusals = judge.judge_issuers(certs, "sslserver", names)
            default = (listener, port) == (DEFAULT_LISTENER_SERVICE, DEFAULT_LISTENER_PORT)
            _report(ctx, path, issuers, refusals, DEFAULT_LISTENER_LABEL if default else
                    f"listener {listener!r} port {port}", reported)
        _report(ctx, path, issuers, judge.judge_issuers(certs, "sslserver", []), "", reported)
        _cautions(ctx, path, issuers, reported)
    if client_auth is not None:
        for root in client_auth.roots:
            refusals = judge.judge_issuers([_load(root.certificate.pem)], "sslclient", [])
            _report(ctx, path, (root.certificate,), refusals, f"client root {root.name!r}", reported,
                    clients="the broker refuses every device certificate under it")


def _issuers(signer: Signer) -> tuple[CertSummary, ...]:
    """The supplied certificates above a leaf the signer issues: its chain, then its root."""
    chain = tuple(summary for summary in signer.chain if summary.pem)
    root = signer.root.certificate
    if root is not None and root.pem and not any(summary.sha256 == root.sha256 for summary in chain):
        chain += (root,)
    return chain


def _unseen_intermediate(ctx: Context, path: PathKey, signer: Signer) -> None:
    """An intermediate without a certificate in the spec still stands below its root: pathLen 0 breaks it."""
    root = signer.root.certificate
    if signer.role != "intermediate" or signer.chain or root is None or root.path_length != 0:
        return
    ctx.error(_where(ctx, path, root),
              f"{root.subject!r}: its pathLenConstraint is 0 but intermediate {signer.generation!r} stands between "
              "it and the leaf: OpenSSL-based clients refuse every handshake with 'path length constraint exceeded' "
              "(OpenSSL error 25)",
              "sign leaves with the root directly (mode: single-root), or use a root whose pathLenConstraint "
              "allows an intermediate")


def _requested_names(listeners: tuple[Listener, ...], aio_namespace: str
                     ) -> Iterator[tuple[str, int, list[x509.GeneralName]]]:
    """Every port's SANs, and those of AIO's default listener, which the same issuer signs."""
    from ipaddress import ip_address

    from cryptography import x509

    shell = Listener(DEFAULT_LISTENER_SERVICE, aio_namespace, "default", DEFAULT_LISTENER_SERVICE, "ClusterIp", ())
    yield DEFAULT_LISTENER_SERVICE, DEFAULT_LISTENER_PORT, [x509.DNSName(n) for n in in_cluster_names(shell)]
    for listener in listeners:
        for port in listener.ports:
            if isinstance(port.tls, AutomaticTls):
                names: list[x509.GeneralName] = [x509.DNSName(name) for name in port.tls.san_dns]
                names += [x509.IPAddress(ip_address(address)) for address in port.tls.san_ip]
                yield listener.name, port.port, names


def _report(ctx: Context, path: PathKey, issuers: tuple[CertSummary, ...], refusals: list[judge.Refusal],
            concerns: str, reported: set[tuple[str, ...]],
            clients: str = "OpenSSL-based clients refuse every handshake") -> None:
    grouped: dict[tuple[int, int, str], list[judge.Refusal]] = {}
    for refusal in refusals:
        grouped.setdefault((refusal.code, refusal.depth, refusal.constraint_by or refusal.detail), []).append(refusal)
    for (code, depth, _), group in grouped.items():
        first = group[0]
        holder = issuers[depth - 1] if first.depth > 0 else issuers[0]
        key = (holder.sha256, str(code), concerns if first.name else "", first.detail if not first.name else "")
        if key in reported:
            continue
        reported.add(key)
        if first.name:
            names = ", ".join(refusal.name for refusal in group)
            what = (f"the name constraints of {first.constraint_by!r} refuse names that {concerns} requests: "
                    f"{names} ({first.detail.split(': ', 1)[1]})")
            holder = next((s for s in issuers if _load(s.pem).subject.rfc4514_string() == first.constraint_by), holder)
        else:
            what = f"{first.subject!r}: {first.detail}"
        hint = first.hint
        if first.name and concerns == DEFAULT_LISTENER_LABEL:
            hint = ("AIO's default listener always requests the in-cluster names of aio-broker: reissue the CA "
                    "with permitted names that include them, or without name constraints")
        ctx.error(_where(ctx, path, holder), f"{what}: {clients} with {first.openssl!r} (OpenSSL error {code})", hint)


def _cautions(ctx: Context, path: PathKey, issuers: tuple[CertSummary, ...], reported: set[tuple[str, ...]]) -> None:
    from aiogen.pki import judge

    for summary in issuers:
        caution = judge.key_caution(_load(summary.pem).public_key(), leaf=False)
        key = (summary.sha256, "caution")
        if caution and key not in reported:
            reported.add(key)
            ctx.warn(_where(ctx, path, summary), f"{summary.subject!r}: {caution}",
                     "prefer an EC P-256/P-384 or RSA 2048+ key for a CA")


@lru_cache(maxsize=256)
def _load(pem: str) -> x509.Certificate:
    from cryptography import x509

    return x509.load_pem_x509_certificate(pem.encode("ascii"))


def _where(ctx: Context, path: PathKey, summary: CertSummary) -> PathKey:
    """The spec path of the ``file`` field that brought ``summary`` in (else the cluster's)."""
    for file_path, certs in ctx.certificates_by_field.items():
        if any(cert.sha256 == summary.sha256 for cert in certs):
            return file_path
    return path



