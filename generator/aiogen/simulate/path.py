"""Which path would an OpenSSL client build, and does OpenSSL accept it? The simulation's path validation.

The clients of an AIO broker (mosquitto, paho-mqtt through Python's ``ssl``, ``openssl s_client``)
verify with OpenSSL's ``X509_verify_cert``, so the simulation's path validation models exactly
that, not a WebPKI profile (cryptography's verifier refuses chains OpenSSL accepts: a CA without
keyUsage, a non-critical basicConstraints, policyConstraints, SHA-224 signatures, P-224 keys):

* **path building**: from the leaf, each issuer is a certificate whose subject is the child's
  issuer name and whose key verifies the child's signature, taken from the trust bundle first
  (OpenSSL's default ``X509_V_FLAG_TRUSTED_FIRST``), else from what the peer sent and the
  bundle's other certificates; the path must end at a **self-signed certificate of the trust
  bundle**: without ``X509_V_FLAG_PARTIAL_CHAIN`` an intermediate in the bundle helps build the
  path but does not end it (docs/simulate.md, "The model");
* **the path's rules**: `aiogen.pki.judge.judge_chain` at security level 2 (CA-ness, purpose,
  pathLen, name constraints, critical extensions, validity, key and digest strength);
* **the name**: the dialled DNS name against the leaf's DNS SANs (a wildcard covers one label;
  the CN only when the leaf has no DNS SAN, as Python ``ssl`` and s_client do), an IP address
  against its IP SANs.

A `Memo` remembers, for one run, which signatures verified and what a path's rules said: a
simulation meets the same leaf, intermediate and root again and again (each client of a server,
each phase), and the answers are functions of the certificates' bytes and the clock alone.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from datetime import datetime

from cryptography import x509

from aiogen.pki.judge import Purpose, Refusal, judge_chain

MAX_DEPTH = 10  # more than any AIO chain; OpenSSL's default is 100


class Memo:
    """Signature checks and path judgements already made in this run (certificates compare by their DER)."""

    def __init__(self) -> None:
        self.issued: dict[tuple[x509.Certificate, x509.Certificate], bool] = {}
        self.judged: dict[tuple[tuple[x509.Certificate, ...], Purpose, datetime], list[Refusal]] = {}

    def issued_by(self, child: x509.Certificate, parent: x509.Certificate) -> bool:
        key = (child, parent)
        if key not in self.issued:
            self.issued[key] = _issued_by(child, parent)
        return self.issued[key]

    def judge(self, path: Sequence[x509.Certificate], purpose: Purpose, at: datetime) -> list[Refusal]:
        key = (tuple(path), purpose, at)
        if key not in self.judged:
            self.judged[key] = judge_chain(path, purpose, at=at)
        return self.judged[key]


def _issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    if child.issuer.public_bytes() != parent.subject.public_bytes():
        return False
    try:
        child.verify_directly_issued_by(parent)
    except Exception:  # InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm
        return False
    return True


def self_signed(cert: x509.Certificate, memo: Memo | None = None) -> bool:
    """Its own key verifies it under its own name (OpenSSL's test; CA-ness is judged separately)."""
    return _issued_by(cert, cert) if memo is None else memo.issued_by(cert, cert)


def build_path(leaf: x509.Certificate, untrusted: Sequence[x509.Certificate],
               bundle: Sequence[x509.Certificate], memo: Memo | None = None) -> list[x509.Certificate] | str:
    """The path leaf → self-signed certificate of ``bundle``, or why none exists."""
    issued_by = _issued_by if memo is None else memo.issued_by
    anchors = [c for c in bundle if issued_by(c, c)]
    if not anchors:
        return "the trust bundle holds no self-signed root (OpenSSL clients accept only a root as trust anchor)"
    helpers = [c for c in bundle if not issued_by(c, c)] + [c for c in untrusted if not issued_by(c, c)]
    path = [leaf]
    while len(path) <= MAX_DEPTH:
        current = path[-1]
        anchor = next((a for a in anchors if issued_by(current, a)), None)
        if anchor is not None:
            return path if anchor == current else [*path, anchor]
        issuer = next((h for h in helpers if h not in path and issued_by(current, h)), None)
        if issuer is None:
            name = current.subject.rfc4514_string()
            who = f"'{name}'" if name else "the leaf (it has no subject name)"
            return (f"unable to get local issuer certificate: no certificate of the trust bundle or the chain "
                    f"issued {who} (its issuer is '{current.issuer.rfc4514_string()}')")
        path.append(issuer)
    return "the chain is longer than any OpenSSL client builds here"


def _dns_matches(host: str, name: str) -> bool:
    host, name = host.lower().rstrip("."), name.lower().rstrip(".")
    if name == host:
        return True
    if name.startswith("*.") and "." in host:
        return host.split(".", 1)[1] == name[2:] and "*" not in name[2:]
    return False


def name_refusal(leaf: x509.Certificate, hostname: str) -> str | None:
    """None if the leaf names ``hostname`` as an OpenSSL client checks it, else why not."""
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns, ips = san.get_values_for_type(x509.DNSName), san.get_values_for_type(x509.IPAddress)
    except x509.ExtensionNotFound:
        dns, ips = [], []
    try:
        address = ipaddress.ip_address(hostname)
    except ValueError:
        names = dns or [str(a.value) for a in leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]
        if any(_dns_matches(hostname, name) for name in names):
            return None
        where = "its subjectAltName names" if dns else "it has no DNS subjectAltName and its CN is"
        return f"hostname mismatch: {where} {', '.join(names) or 'nothing'}, not {hostname}"
    if address in ips:
        return None
    return (f"IP address mismatch: its subjectAltName names {', '.join(map(str, ips)) or 'no IP address'}, "
            f"not {hostname}")


def refusal(chain: Sequence[x509.Certificate], bundle: Sequence[x509.Certificate], purpose: Purpose,
            at: datetime, hostname: str | None = None, memo: Memo | None = None) -> str | None:
    """None if an OpenSSL client (or, for ``sslclient``, server) accepts ``chain``; else why not."""
    path = build_path(chain[0], chain[1:], bundle, memo)
    if isinstance(path, str):
        return path
    refusals = judge_chain(path, purpose, at=at) if memo is None else memo.judge(path, purpose, at)
    if refusals:
        return "; ".join(str(r) for r in refusals)
    return name_refusal(chain[0], hostname) if hostname is not None else None
