"""Is this PEM input a usable list of certificates, and what do they say?

Input PEMs (roots, intermediates, client roots) are checked here once: only ``CERTIFICATE``
blocks, no private keys (refused without echoing the key), no garbage, bounded size. trust-manager
rejects a source holding any other block type or PEM headers (reference/cert-manager.md §6.2), so
aiogen rejects it before it reaches a cluster.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography import x509

MAX_PEM_BYTES = 1024 * 1024  # trust-manager's inLine limit is 1 MiB; no CA file is larger
MAX_CERTS = 10  # cert-manager's maxCertsInChain (reference/cert-manager.md §2.2)

_BLOCK = re.compile(
    rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END ([A-Z0-9 ]+)-----", re.DOTALL
)


class PemError(ValueError):
    """The PEM is unusable; the message never contains key material."""


@dataclass(frozen=True)
class CertSummary:
    """What aiogen needs to know of one certificate."""

    subject: str  # RFC 4514
    common_name: str
    issuer: str
    not_before: datetime
    not_after: datetime
    is_ca: bool
    path_length: int | None
    key_family: str  # "EC", "RSA", "Ed25519", ...
    key_algorithm: str  # AIO spelling where one exists: Ec256, Ec384, Ec521, Rsa2048, Rsa4096, ...
    self_signed: bool
    sha256: str  # hex fingerprint of the DER
    pem: str  # canonical PEM re-encoded from DER, one trailing newline

    @property
    def lifetime_hours(self) -> float:
        return (self.not_after - self.not_before).total_seconds() / 3600


def parse_certificates(data: bytes, *, source: str) -> list[x509.Certificate]:
    """Parse a PEM file that must hold only certificates.

    ``source`` names the input in messages (a file name). Raises `PemError`.
    """
    from cryptography import x509

    if len(data) > MAX_PEM_BYTES:
        raise PemError(f"{source} is {len(data)} bytes; a certificate file may be at most {MAX_PEM_BYTES}")
    if b"\x00" in data:
        raise PemError(f"{source} is binary, not PEM text (DER? convert it with `openssl x509 -inform der`)")
    blocks = list(_BLOCK.finditer(data))
    if b"PRIVATE KEY-----" in data:
        raise PemError(
            f"{source} contains a private key; aiogen only takes public certificates "
            "(split the key out and keep it out of the repository)"
        )
    if not blocks:
        begins = data.count(b"-----BEGIN ")
        if begins:
            raise PemError(f"{source}: a PEM block is not closed (truncated file?)")
        raise PemError(f"{source} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)")
    if data.count(b"-----BEGIN ") != len(blocks):
        raise PemError(f"{source}: a PEM block is not closed (truncated file?)")
    if len(blocks) > MAX_CERTS:
        raise PemError(f"{source} holds {len(blocks)} certificates; at most {MAX_CERTS} are accepted")
    certs: list[x509.Certificate] = []
    for index, block in enumerate(blocks, start=1):
        label, body, end_label = block.group(1), block.group(2), block.group(3)
        kind = label.decode("ascii")
        if label != end_label:
            raise PemError(f"{source}: PEM block {index} begins as {kind} but ends as {end_label.decode()}")
        if kind != "CERTIFICATE":
            raise PemError(f"{source}: PEM block {index} is a {kind}; only CERTIFICATE blocks are accepted")
        if b":" in body:
            raise PemError(f"{source}: PEM block {index} has headers; trust-manager rejects PEM headers")
        try:
            der = base64.b64decode(b"".join(body.split()), validate=True)
        except (binascii.Error, ValueError):
            raise PemError(f"{source}: PEM block {index} is not valid base64") from None
        try:
            certs.append(x509.load_der_x509_certificate(der))
        except ValueError:
            raise PemError(f"{source}: PEM block {index} is not a valid X.509 certificate") from None
    return certs


def _key_description(cert: x509.Certificate) -> tuple[str, str]:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    key = cert.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", f"Ec{key.curve.key_size}"
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", f"Rsa{key.key_size}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", "Ed25519"
    return type(key).__name__, type(key).__name__


def summarize(cert: x509.Certificate) -> CertSummary:
    from cryptography import x509 as _x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        bc = cert.extensions.get_extension_for_class(_x509.BasicConstraints).value
        is_ca, path_length = bc.ca, bc.path_length
    except _x509.ExtensionNotFound:
        is_ca, path_length = False, None
    cns = cert.subject.get_attributes_for_oid(_x509.NameOID.COMMON_NAME)
    family, algorithm = _key_description(cert)
    der = cert.public_bytes(Encoding.DER)
    return CertSummary(
        subject=cert.subject.rfc4514_string(),
        common_name=str(cns[0].value) if cns else "",
        issuer=cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        is_ca=is_ca,
        path_length=path_length,
        key_family=family,
        key_algorithm=algorithm,
        self_signed=cert.subject == cert.issuer and signed_by(cert, cert),
        sha256=hashlib.sha256(der).hexdigest(),
        pem=cert.public_bytes(Encoding.PEM).decode("ascii"),
    )


def signed_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    """Does ``parent``'s key verify ``child``'s signature (and do the names link)?"""
    if child.issuer != parent.subject:
        return False
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError):
        return False
    except Exception:  # InvalidSignature and friends
        return False
    return True


def now_utc() -> datetime:
    return datetime.now(UTC)
