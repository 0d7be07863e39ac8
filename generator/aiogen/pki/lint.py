"""What is wrong with these certificate files? The checks behind ``aiogen ca lint``.

A file is read as one of three things, decided from its contents:

* a **bundle of roots**: two or more CA certificates, none issued by another in the file (a
  trust bundle, a client-CA ConfigMap key);
* a **served chain**: a leaf first, then its issuers (a server's or client's ``tls.crt``);
* a **CA chain**: anything else, e.g. a CA Secret's ``tls.crt`` (intermediate, then parents) or a
  single certificate.

Each finding names the file, the certificate, a severity, what is wrong and what to do. Errors
are things that break validation or that cert-manager/AIO reject; warnings are things that work
today but are wasteful, fragile or about to break.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from aiogen.pki import judge
from aiogen.pki.pem import parse_certificates, signed_by, summarize

_E = TypeVar("_E", bound=x509.ExtensionType)

Severity = Literal["error", "warning"]
FileKind = Literal["bundle", "served", "chain"]

_ISO = "%Y-%m-%dT%H:%M:%SZ"
_TLS_EKUS = {
    ExtendedKeyUsageOID.SERVER_AUTH,
    ExtendedKeyUsageOID.CLIENT_AUTH,
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
}


@dataclass(frozen=True)
class Finding:
    """One problem with one certificate of one file."""

    source: str
    subject: str
    severity: Severity
    message: str
    hint: str

    def format(self) -> str:
        return f"{self.source}: {self.subject}: {self.severity}: {self.message}; {self.hint}"


class _Cert:
    """One certificate of the file, with the facts the checks need."""

    def __init__(self, index: int, cert: x509.Certificate) -> None:
        summary = summarize(cert)
        self.index = index
        self.number = index + 1  # 1-based, as users count
        self.cert = cert
        self.der = cert.public_bytes(Encoding.DER)
        self.label = _label(cert, summary.common_name)
        self.family = summary.key_family
        self.self_signed = signed_by(cert, cert)
        self.self_issued = cert.issuer == cert.subject
        self.not_before = summary.not_before
        self.not_after = summary.not_after
        self.has_basic_constraints = _has(cert, x509.BasicConstraints)
        self.is_ca = summary.is_ca
        self.path_length = summary.path_length
        self.key_usage = _get(cert, x509.KeyUsage)
        self.eku = _get(cert, x509.ExtendedKeyUsage)

    def ref(self) -> str:
        return f"{self.label!r} (certificate {self.number})"


def _label(cert: x509.Certificate, common_name: str) -> str:
    if common_name:
        return common_name
    san = _get(cert, x509.SubjectAlternativeName)
    if san is not None:
        for name in san:
            if isinstance(name, x509.DNSName | x509.IPAddress):
                return str(name.value)
    return cert.subject.rfc4514_string() or "<empty subject>"


def _has(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> bool:
    return _get(cert, kind) is not None


def _get(cert: x509.Certificate, kind: type[_E]) -> _E | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _date(value: datetime) -> str:
    return value.strftime(_ISO)


def lint_pem(
    data: bytes, *, source: str, now: datetime, warn_within: timedelta = timedelta(days=30)
) -> list[Finding]:
    """Lint a PEM file's certificates; raises `aiogen.pki.pem.PemError` if it is not one."""
    certs = parse_certificates(data, source=source)
    return lint_certificates(certs, source=source, now=now, warn_within=warn_within)


def lint_certificates(
    certs: Sequence[x509.Certificate],
    *,
    source: str,
    now: datetime,
    warn_within: timedelta = timedelta(days=30),
) -> list[Finding]:
    """Findings for ``certs`` (one file's contents, in file order), in certificate order."""
    return _FileLint(certs, source, now, warn_within).run()


class _FileLint:
    def __init__(
        self, certs: Sequence[x509.Certificate], source: str, now: datetime, warn_within: timedelta
    ) -> None:
        self.source = source
        self.now = now
        self.warn_within = warn_within
        self.all = [_Cert(i, c) for i, c in enumerate(certs)]
        first_seen: dict[bytes, _Cert] = {}
        self.duplicate_of: dict[int, _Cert] = {}
        for item in self.all:
            if item.der in first_seen:
                self.duplicate_of[item.index] = first_seen[item.der]
            else:
                first_seen[item.der] = item
        self.unique = [c for c in self.all if c.index not in self.duplicate_of]
        self.parent = {c.index: p for c in self.unique if (p := self._find_parent(c)) is not None}
        self.children: dict[int, list[_Cert]] = {}
        for c in self.unique:
            if c.index in self.parent:
                self.children.setdefault(self.parent[c.index].index, []).append(c)
        self.kind = self._kind()
        self.findings: list[Finding] = []

    def _find_parent(self, child: _Cert) -> _Cert | None:
        if child.self_signed:
            return None
        position = self.unique.index(child)
        following = self.unique[position + 1 : position + 2]
        others = following + [c for c in self.unique if c is not child and c not in following]
        for candidate in others:
            if signed_by(child.cert, candidate.cert):
                return candidate
        return None

    def _kind(self) -> FileKind:
        if len(self.unique) >= 2 and not self.parent and all(c.is_ca or c.self_signed for c in self.unique):
            return "bundle"
        head = self.unique[0]
        if not head.is_ca and head.index not in self.children:
            return "served"
        return "chain"

    def _acts_as_ca(self, c: _Cert) -> bool:
        return c.is_ca or c.index in self.children or (self.kind == "bundle" and c.self_signed)

    def add(self, c: _Cert, severity: Severity, message: str, hint: str) -> None:
        self.findings.append(Finding(self.source, c.label, severity, message, hint))

    def run(self) -> list[Finding]:
        over_long = self._path_length_violations()
        for c in self.all:
            original = self.duplicate_of.get(c.index)
            if original is not None:
                self.add(c, "warning", f"repeats {original.ref()}", "remove the duplicate")
                continue
            self._check_order(c)
            self._check_kind(c)
            if self._acts_as_ca(c):
                self._check_ca(c)
            else:
                self._check_leaf(c)
            if c.index in over_long:
                self._report_path_length(c, over_long[c.index])
            self._check_nesting(c)
            self._check_family(c)
            self._check_validity(c)
        self._judge()
        return self.findings

    # -- what OpenSSL refuses (aiogen.pki.judge) -----------------------------------------------

    def _judge(self) -> None:
        """Weak keys and digests, purposes, name constraints, critical extensions, as OpenSSL 3 judges them."""
        if self.kind == "bundle":
            for c in self.unique:
                self._judge_ca_path([c])
            return
        path = self._path()
        if self.kind == "served":
            leaf_eku = path[0].eku
            purpose: judge.Purpose = "sslclient" if leaf_eku is not None and \
                ExtendedKeyUsageOID.SERVER_AUTH not in leaf_eku and ExtendedKeyUsageOID.CLIENT_AUTH in leaf_eku \
                else "sslserver"
            self._add_refusals(path, judge.judge_chain([c.cert for c in path], purpose), "served")
        else:
            self._judge_ca_path(path)

    def _judge_ca_path(self, path: list[_Cert]) -> None:
        """A CA chain signs leaves of a purpose the file does not say: an extendedKeyUsage that
        rules out both TLS purposes is an error, one that rules out servers only a warning."""
        certs = [c.cert for c in path]
        server = judge.judge_issuers(certs, "sslserver", [])
        client = {(r.code, r.depth) for r in judge.judge_issuers(certs, "sslclient", [])}
        kept = [r for r in server if r.code != 26 or (r.code, r.depth) in client]
        limited = [r for r in server if r.code == 26 and (r.code, r.depth) not in client]
        self._add_refusals([path[0], *path], kept, "ca")
        for refusal in limited:
            self.add(path[refusal.depth - 1], "warning",
                     f"{refusal.detail}: server certificates under it fail with {refusal.openssl!r}",
                     "fine for a CA of client certificates only; " + refusal.hint)

    def _path(self) -> list[_Cert]:
        path: list[_Cert] = []
        node: _Cert | None = self.unique[0]
        while node is not None and node not in path:
            path.append(node)
            node = self.parent.get(node.index)
        return path

    def _add_refusals(self, by_depth: Sequence[_Cert], refusals: list[judge.Refusal], kind: str) -> None:
        """Report the refusals the structural checks above do not already cover."""
        covered = {9, 10, 25, 26, 32, 79}
        for refusal in refusals:
            if refusal.code in covered and not (refusal.code == 26 and "extendedKeyUsage" in refusal.detail):
                continue
            if kind == "served" and refusal.code == 26 and refusal.depth == 0:
                continue  # _check_leaf says it in its own words
            c = by_depth[refusal.depth] if refusal.depth < len(by_depth) else by_depth[-1]
            self.add(c, "error", f"{refusal.detail}; OpenSSL refuses the chain with {refusal.openssl!r} "
                     f"(error {refusal.code})", refusal.hint)

    # -- structure -----------------------------------------------------------------------------

    def _check_order(self, c: _Cert) -> None:
        if self.kind == "bundle":
            return
        position = self.unique.index(c)
        parent = self.parent.get(c.index)
        if parent is not None and parent.index < c.index:
            self.add(
                c,
                "error",
                f"comes after its issuer {parent.ref()}",
                "order the file child → parent: each certificate followed by its issuer",
            )
            return
        if position + 1 >= len(self.unique):
            return
        following = self.unique[position + 1]
        if parent is following:
            return
        if c.self_signed:
            self.add(
                c,
                "error",
                "is a self-signed root but more certificates follow it",
                "order the file child → parent with the root last, or drop the root",
            )
        elif c.cert.issuer == following.cert.subject:
            self.add(
                c,
                "error",
                f"does not verify with the key of the next certificate {following.ref()}, "
                "though the names match",
                "use the issuer certificate whose key signed it (another generation of that CA?)",
            )
        elif self.parent.get(following.index) is c:
            self.add(
                c,
                "error",
                f"is followed by {following.ref()}, which it issued: the file runs parent → child",
                "order the file child → parent: each certificate followed by its issuer",
            )
        elif parent is not None:
            self.add(
                c,
                "error",
                f"is followed by {following.ref()}, which did not issue it; its issuer is {parent.ref()}",
                "order the file child → parent: each certificate followed by its issuer",
            )
        else:
            self.add(
                c,
                "error",
                f"is followed by {following.ref()}, which did not issue it, and its issuer "
                f"{c.cert.issuer.rfc4514_string()!r} is not in the file",
                "add the missing issuer after it, or remove the certificates that belong to another chain",
            )

    def _check_kind(self, c: _Cert) -> None:
        if self.kind == "bundle" and not c.self_signed:
            self.add(
                c,
                "error",
                "is not self-signed, but this file is a bundle of roots",
                "keep only root certificates in a trust bundle",
            )
        if self.kind == "served" and c is self.unique[-1] and len(self.unique) > 1 and c.self_signed:
            self.add(
                c,
                "warning",
                "is a self-signed root inside a served chain; clients must already trust it",
                "serve leaf + intermediates only, as cert-manager's tls.crt does",
            )

    # -- what each certificate may do ----------------------------------------------------------

    def _check_ca(self, c: _Cert) -> None:
        if not c.is_ca:
            signs = self.children.get(c.index, [])
            what = f"signs {signs[0].ref()}" if signs else "is a root"
            self.add(
                c,
                "error",
                f"{what} but is not a CA (no BasicConstraints CA:TRUE)",
                "reissue it as a CA (cert-manager: isCA: true)",
            )
            return
        if c.key_usage is None:
            self.add(
                c,
                "error",
                "is a CA without a KeyUsage extension (RFC 5280 §4.2.1.3 requires one; "
                "WebPKI verifiers such as Python cryptography's refuse the chain)",
                "reissue it with the cert sign and crl sign usages",
            )
        elif not c.key_usage.key_cert_sign:
            self.add(
                c,
                "error",
                "is a CA whose KeyUsage lacks keyCertSign, so nothing it signs validates",
                "reissue it with the cert sign usage",
            )

    def _check_leaf(self, c: _Cert) -> None:
        hint = "issue it with usages: [server auth] for servers or [client auth] for clients"
        if c.eku is None:
            self.add(c, "warning", "has no ExtendedKeyUsage, so nothing says what it is for", hint)
        elif not _TLS_EKUS.intersection(c.eku):
            self.add(
                c,
                "error",
                "has an ExtendedKeyUsage without server auth or client auth; TLS peers reject it",
                hint,
            )

    def _path_length_violations(self) -> dict[int, list[_Cert]]:
        """For each CA whose path length the chain from the file's first certificate exceeds."""
        path: list[_Cert] = []
        node: _Cert | None = self.unique[0]
        while node is not None and node not in path:
            path.append(node)
            node = self.parent.get(node.index)
        violations: dict[int, list[_Cert]] = {}
        for position, ca in enumerate(path):
            if ca.path_length is None:
                continue
            below = [c for c in path[:position] if c.is_ca and not c.self_issued]
            if len(below) > ca.path_length:
                violations[ca.index] = below
        return violations

    def _report_path_length(self, c: _Cert, below: list[_Cert]) -> None:
        names = ", ".join(b.ref() for b in below)
        self.add(
            c,
            "error",
            f"has path length {c.path_length} but {len(below)} CA certificate(s) follow below it: {names}",
            "issue the lower CA from a CA whose path length allows it, or reissue this CA "
            "with a larger path length",
        )

    # -- time ----------------------------------------------------------------------------------

    def _check_nesting(self, c: _Cert) -> None:
        parent = self.parent.get(c.index)
        if parent is None or c.not_after <= parent.not_after:
            return
        self.add(
            c,
            "error",
            f"is valid until {_date(c.not_after)}, after its issuer {parent.ref()} expires "
            f"({_date(parent.not_after)})",
            f"reissue it to end by {_date(parent.not_after)}: "
            "the chain stops validating when the issuer expires",
        )

    def _check_family(self, c: _Cert) -> None:
        head = self.unique[0]
        if self.kind == "bundle" or c.family == head.family:
            return
        self.add(
            c,
            "warning",
            f"has an {c.family} key but {head.ref()} has {head.family}; "
            "AIO X.509 authentication needs one key family per chain",
            "reissue the chain with one key family (EC or RSA) throughout",
        )

    def _check_validity(self, c: _Cert) -> None:
        if c.not_before > self.now:
            self.add(
                c,
                "error",
                f"is not valid until {_date(c.not_before)}",
                "check the clock of the machine that issued it, or wait",
            )
        elif c.not_after <= self.now:
            self.add(c, "error", f"expired on {_date(c.not_after)}", "renew it and replace it everywhere")
        elif c.not_after - self.now <= self.warn_within:
            days = (c.not_after - self.now).days
            self.add(
                c,
                "warning",
                f"expires on {_date(c.not_after)}, in {days} day(s)",
                "renew it before then",
            )
