"""aiogen.pki.judge against `openssl verify -purpose P -auth_level 2`: the same verdict, the same errors.

Every chain is built with cryptography (SHA-1/MD5 signatures by re-signing the TBS with the raw
key API, which CertificateBuilder refuses), then judged by both. Agreement means: OpenSSL accepts
exactly when judge finds nothing, and every ``error N at D`` OpenSSL prints is one judge predicts.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from aiogen.pki import judge

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl CLI is not installed")

NOW = datetime.now(UTC)
DAY = timedelta(days=1)
CA_KU = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
LEAF_KU = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
SERVER = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])
CLIENT = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])
SANS = ["aio-broker", "aio-broker.azure-iot-operations", "aio-broker.azure-iot-operations.svc.cluster.local",
        "broker.contoso.example", "127.0.0.1"]
_WEAK_ALG = {("rsa", "sha1"): "300d06092a864886f70d0101050500", ("rsa", "md5"): "300d06092a864886f70d0101040500",
             ("ec", "sha1"): "300906072a8648ce3d0401"}


def _tlv(der: bytes, at: int) -> tuple[int, int]:
    length, start = der[at + 1], at + 2
    if length & 0x80:
        count = length & 0x7F
        length, start = int.from_bytes(der[start:start + count], "big"), start + count
    return start, start + length


def _seq(content: bytes, tag: int = 0x30) -> bytes:
    n = len(content)
    size = bytes([n]) if n < 0x80 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes(
        (n.bit_length() + 7) // 8, "big")
    return bytes([tag]) + size + content


def resign_weak(cert: x509.Certificate, key: Any, digest: str) -> x509.Certificate:
    """``cert`` signed again by ``key`` with SHA-1 or MD5 (AlgorithmIdentifier swapped in the TBS)."""
    der = cert.public_bytes(Encoding.DER)
    kind = "rsa" if isinstance(key, rsa.RSAPrivateKey) else "ec"
    alg = bytes.fromhex(_WEAK_ALG[(kind, digest)])
    start, _ = _tlv(der, 0)
    tbs_start, tbs_end = _tlv(der, start)
    parts, at = [], tbs_start
    while at < tbs_end:
        _, end = _tlv(der, at)
        parts.append(der[at:end])
        at = end
    parts[2 if parts[0][0] == 0xA0 else 1] = alg
    tbs = _seq(b"".join(parts))
    hash_ = hashes.SHA1() if digest == "sha1" else hashes.MD5()
    signature = key.sign(tbs, padding.PKCS1v15(), hash_) if kind == "rsa" else key.sign(tbs, ec.ECDSA(hash_))
    return x509.load_der_x509_certificate(_seq(tbs + alg + _seq(b"\x00" + signature, 0x03)))


@functools.cache
def _rsa(bits: int) -> rsa.RSAPrivateKey:
    """RSA keys are slow to make; no case here needs two different RSA keys of one size."""
    return rsa.generate_private_key(65537, bits)


def _key(spec: str) -> Any:
    if spec.startswith("rsa"):
        return _rsa(int(spec[3:]))
    return ec.generate_private_key({"p256": ec.SECP256R1(), "p192": ec.SECP192R1(), "p224": ec.SECP224R1(),
                                    "k256": ec.SECP256K1()}[spec])


class Node:
    def __init__(self, cn: str, issuer: Node | None = None, *, key: str = "p256", ca: bool = True,
                 pathlen: int | None = None, ku: Any = "default", eku: Any = None, san: list[str] | None = None,
                 nc: x509.NameConstraints | None = None, extra: tuple[tuple[Any, bool], ...] = (),
                 bc: Any = "default", weak: str | None = None, subject: x509.Name | None = None,
                 days: tuple[int, int] = (-1, 30)) -> None:
        self.key = _key(key)
        name = subject or x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        issuer_name, issuer_key = (issuer.cert.subject, issuer.key) if issuer else (name, self.key)
        b = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name).public_key(self.key.public_key())
             .serial_number(x509.random_serial_number()).not_valid_before(NOW + days[0] * DAY)
             .not_valid_after(NOW + days[1] * DAY))
        if bc == "default":
            b = b.add_extension(x509.BasicConstraints(ca, pathlen if ca else None), True)
        elif bc is not None:
            b = b.add_extension(bc, True)
        ku = (CA_KU if ca else LEAF_KU) if ku == "default" else ku
        if ku is not None:
            b = b.add_extension(ku, True)
        eku = SERVER if eku is None and not ca else eku
        if eku is not None:
            b = b.add_extension(eku, False)
        if san:
            names: list[x509.GeneralName] = []
            for value in san:
                try:
                    names.append(x509.IPAddress(ipaddress.ip_address(value)))
                except ValueError:
                    names.append(x509.DNSName(value))
            b = b.add_extension(x509.SubjectAlternativeName(names), False)
        if nc is not None:
            b = b.add_extension(nc, True)
        for ext, critical in extra:
            b = b.add_extension(ext, critical)
        b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), False)
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False)
        self.cert = b.sign(issuer_key, hashes.SHA256())
        if weak:
            self.cert = resign_weak(self.cert, issuer_key, weak)


def leaf(issuer: Node, **kw: Any) -> Node:
    kw.setdefault("san", SANS)
    return Node("leaf", issuer, ca=False, **kw)


def permitted(*names: str) -> x509.NameConstraints:
    return x509.NameConstraints([x509.DNSName(n) for n in names], None)


def _cases() -> list[tuple[str, Callable[[], list[Node]], str]]:
    def chain(make: Callable[[Node], Node], **int_kw: Any) -> Callable[[], list[Node]]:
        def build() -> list[Node]:
            root = Node("root")
            intermediate = Node("int", root, **int_kw)
            return [make(intermediate), intermediate, root]
        return build

    def direct(root_kw: dict[str, Any], **leaf_kw: Any) -> Callable[[], list[Node]]:
        def build() -> list[Node]:
            root = Node("root", **root_kw)
            return [leaf(root, **leaf_kw), root]
        return build

    def sub_under(pathlen_root: int | None, pathlen_int: int | None) -> Callable[[], list[Node]]:
        def build() -> list[Node]:
            root = Node("root", pathlen=pathlen_root)
            intermediate = Node("int", root, pathlen=pathlen_int)
            sub = Node("sub", intermediate)
            return [leaf(sub), sub, intermediate, root]
        return build

    def self_issued() -> list[Node]:
        root = Node("pl0", pathlen=0)
        rollover = Node("pl0", root, subject=root.cert.subject)
        return [leaf(rollover), rollover, root]

    excluded = x509.NameConstraints(None, [x509.DNSName("svc.cluster.local")])
    ip_only = x509.NameConstraints([x509.IPAddress(ipaddress.ip_network("10.0.0.0/8")),
                                    x509.DNSName("contoso.example")], None)
    unknown = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.7"), b"\x05\x00")
    return [
        ("baseline", chain(leaf), "sslserver"),
        ("NC permitted vs in-cluster SANs", chain(leaf, nc=permitted("contoso.example")), "sslserver"),
        ("NC permitted, contoso-only SANs", chain(lambda i: leaf(i, san=["contoso.example", "a.b.contoso.example"]),
                                                  nc=permitted("contoso.example")), "sslserver"),
        ("NC label boundary", chain(lambda i: leaf(i, san=["evilcontoso.example"]), nc=permitted("contoso.example")),
         "sslserver"),
        ("NC leading dot vs apex", chain(lambda i: leaf(i, san=["contoso.example"]), nc=permitted(".contoso.example")),
         "sslserver"),
        ("NC no SAN, hostname CN", chain(lambda i: Node("x.svc.cluster.local", i, ca=False),
                                         nc=permitted("contoso.example")), "sslserver"),
        ("NC excluded", chain(leaf, nc=excluded), "sslserver"),
        ("NC IP 10/8 vs 127.0.0.1", chain(lambda i: leaf(i, san=["contoso.example", "127.0.0.1"]), nc=ip_only),
         "sslserver"),
        ("int EKU clientAuth", chain(leaf, eku=CLIENT), "sslserver"),
        ("int EKU clientAuth, client purpose", chain(lambda i: leaf(i, eku=CLIENT), eku=CLIENT), "sslclient"),
        ("int EKU anyExtendedKeyUsage", chain(leaf, eku=x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE])), "sslserver"),
        ("root EKU clientAuth", direct({"eku": CLIENT}), "sslserver"),
        ("root pathlen 0 + int", lambda: (lambda r: (lambda i: [leaf(i), i, r])(Node("int", r)))(
            Node("root", pathlen=0)), "sslserver"),
        ("int pathlen 0 + sub", sub_under(None, 0), "sslserver"),
        ("root pathlen 0 + self-issued", self_issued, "sslserver"),
        ("int KU without keyCertSign", chain(leaf, ku=x509.KeyUsage(True, False, False, False, False, False, True,
                                                                    False, False)), "sslserver"),
        ("int without KU", chain(leaf, ku=None), "sslserver"),
        ("int CA:FALSE", chain(leaf, bc=x509.BasicConstraints(False, None)), "sslserver"),
        ("int without basicConstraints", chain(leaf, bc=None), "sslserver"),
        ("int policyConstraints", chain(leaf, extra=((x509.PolicyConstraints(0, None), True),)), "sslserver"),
        ("expired int", chain(leaf, days=(-400, -1)), "sslserver"),
        ("unknown critical extension", chain(leaf, extra=((unknown, True),)), "sslserver"),
        ("RSA-1024 root", direct({"key": "rsa1024"}), "sslserver"),
        ("P-192 root", direct({"key": "p192"}), "sslserver"),
        ("P-224 root", direct({"key": "p224"}), "sslserver"),
        ("secp256k1 root", direct({"key": "k256"}), "sslserver"),
        ("RSA-1024 leaf", direct({"key": "rsa2048"}, key="rsa1024"), "sslserver"),
        ("SHA-1 signed leaf", direct({"key": "rsa2048"}, weak="sha1"), "sslserver"),
        ("MD5 signed leaf", direct({"key": "rsa2048"}, weak="md5"), "sslserver"),
        ("ecdsa-with-SHA1 signed leaf", direct({}, weak="sha1"), "sslserver"),
        ("SHA-1 self-signed root", direct({"key": "rsa2048", "weak": "sha1"}), "sslserver"),
    ]


CASES = _cases()


@pytest.mark.parametrize(("name", "build", "purpose"), CASES, ids=[c[0] for c in CASES])
def test_judge_agrees_with_openssl_verify(name: str, build: Callable[[], list[Node]], purpose: str,
                                          tmp_path: Path) -> None:
    certs = [n.cert for n in build()]
    for file, part in (("leaf.pem", certs[:1]), ("ints.pem", certs[1:-1]), ("root.pem", certs[-1:])):
        (tmp_path / file).write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in part))
    command = ["openssl", "verify", "-purpose", purpose, "-auth_level", "2", "-CAfile", "root.pem"]
    if len(certs) > 2:
        command += ["-untrusted", "ints.pem"]
    done = subprocess.run([*command, "leaf.pem"], cwd=tmp_path, capture_output=True, text=True)
    said = done.stdout + done.stderr
    openssl = {(int(code), int(depth)) for code, depth in re.findall(r"error (\d+) at (\d+) depth", said)}
    refusals = judge.judge_chain(certs, "sslserver" if purpose == "sslserver" else "sslclient", at=NOW)
    predicted = {(r.code, r.depth) for r in refusals}
    assert (done.returncode == 0) == (not refusals), (said, [str(r) for r in refusals])
    assert openssl <= predicted, (said, [str(r) for r in refusals])
    for refusal in refusals:
        assert refusal.openssl in judge.OPENSSL_TEXT.values() and refusal.hint
