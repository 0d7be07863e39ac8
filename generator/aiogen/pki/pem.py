"""Is this PEM input a usable list of certificates, and what do they say?

Input PEMs (roots, intermediates, client roots) are checked here once: only ``CERTIFICATE``
blocks, no private keys (refused without echoing the key, whether armoured as a key or hidden under
a CERTIFICATE label), no garbage, bounded size and block count, linear time. trust-manager
rejects a source holding any other block type or PEM headers (https://cert-manager.io/docs/trust/trust-manager/), so
aiogen rejects it before it reaches a cluster.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import stat
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from aiogen.model.record import record

if TYPE_CHECKING:
    from cryptography import x509

MAX_PEM_BYTES = 1024 * 1024  # trust-manager's inLine limit is 1 MiB; no CA file is larger
MAX_CERTS = 10  # cert-manager's maxCertsInChain (https://cert-manager.io/docs/configuration/ca/)

# Any armour whose label names a private key: PRIVATE KEY, RSA/EC/ENCRYPTED/OPENSSH PRIVATE KEY,
# PGP PRIVATE KEY BLOCK. Searched before anything else so that no later message can quote one.
_PRIVATE_KEY_ARMOUR = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY")
_BEGIN = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----")
_END = re.compile(rb"-----END ([A-Z0-9 ]+)-----")


class PemError(ValueError):
    """The PEM is unusable; the message never contains key material."""


@record
class CertSummary:
    """What aiogen needs to know of one certificate.

    ``subject``, ``issuer`` and ``common_name`` come from the certificate, which anyone can fill
    with any text: they are made printable (`printable`) so that writing one into a comment line
    (ca-bundle.pem) cannot start a new line, let alone smuggle in a PEM block.
    """

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


@record
class _Block:
    label: str
    line: int  # of its BEGIN line, 1-based
    body: bytes


def read_pem_file(path: Path, *, source: str) -> bytes:
    """The bytes of a PEM file named in a spec: a regular file, at most `MAX_PEM_BYTES`.

    Opened without blocking and checked through the descriptor, so a FIFO, a device such as
    /dev/zero, or a symlink to one is refused at once instead of hanging or filling memory.
    Raises `PemError` for those and for size; ``OSError`` (FileNotFoundError, ...) as ``open`` does.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise PemError(f"{source} is not a regular file")
        if info.st_size > MAX_PEM_BYTES:
            raise PemError(f"{source} is {info.st_size} bytes; a certificate file may be at most {MAX_PEM_BYTES}")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(MAX_PEM_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_PEM_BYTES:
        raise PemError(f"{source} is over {MAX_PEM_BYTES} bytes; a certificate file may be at most {MAX_PEM_BYTES}")
    return data


def parse_certificates(data: bytes, *, source: str) -> list[x509.Certificate]:
    """Parse a PEM file that must hold only certificates.

    ``source`` names the input in messages (a file name). Raises `PemError`, whose message never
    quotes the input. Linear in the input: a file of a million unterminated BEGIN lines is as
    cheap to refuse as a good one is to read.
    """
    return [cert for cert, _ in _parse(data, source)]


def summaries(data: bytes, *, source: str) -> tuple[CertSummary, ...]:
    """`parse_certificates`, then `summarize` each, from the DER the file holds (no re-encoding)."""
    return tuple(_summary(cert, der) for cert, der in _parse(data, source))


def _parse(data: bytes, source: str) -> list[tuple[x509.Certificate, bytes]]:
    from cryptography import x509

    if len(data) > MAX_PEM_BYTES:
        raise PemError(f"{source} is {len(data)} bytes; a certificate file may be at most {MAX_PEM_BYTES}")
    if _PRIVATE_KEY_ARMOUR.search(data) or b"PRIVATE KEY-----" in data:
        raise PemError(
            f"{source} contains a private key; aiogen only takes public certificates "
            "(split the key out and keep it out of the repository)"
        )
    if b"\x00" in data:
        if _looks_like_private_key(data):
            raise PemError(
                f"{source} contains a private key (binary DER); aiogen only takes public certificates "
                "(split the key out and keep it out of the repository)"
            )
        raise PemError(f"{source} is binary, not PEM text (DER? convert it with `openssl x509 -inform der`)")
    blocks = _blocks(data, source)
    if not blocks:
        raise PemError(f"{source} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)")
    certs: list[tuple[x509.Certificate, bytes]] = []
    for index, block in enumerate(blocks, start=1):
        where = f"{source}: PEM block {index} (line {block.line})"
        if block.label != "CERTIFICATE":
            raise PemError(f"{where} is a {block.label}; only CERTIFICATE blocks are accepted")
        try:
            der = base64.b64decode(block.body, validate=True)
        except (binascii.Error, ValueError):
            raise PemError(f"{where} is not valid base64") from None
        if _looks_like_private_key(der):
            raise PemError(
                f"{source} contains a private key (labelled CERTIFICATE); aiogen only takes public certificates "
                "(split the key out and keep it out of the repository)"
            )
        try:
            cert = x509.load_der_x509_certificate(der)
            _check_readable(cert)
        except Exception:  # ValueError, UnsupportedAlgorithm, ...: the DER is not a certificate we can use
            raise PemError(f"{where} is not a valid X.509 certificate") from None
        certs.append((cert, der))
    return certs


def _blocks(data: bytes, source: str) -> list[_Block]:
    """The armoured blocks of ``data``, one pass over its lines; text between blocks is ignored."""
    blocks: list[_Block] = []
    label: str | None = None
    begin_line = 0
    body: list[bytes] = []
    for number, raw_line in enumerate(data.split(b"\n"), start=1):
        line = raw_line.strip()
        begin = _BEGIN.fullmatch(line)
        end = _END.fullmatch(line)
        if begin:
            if label is not None:
                raise PemError(f"{source}: the PEM block at line {begin_line} is not closed before line {number}")
            if len(blocks) >= MAX_CERTS:
                raise PemError(f"{source} holds more than {MAX_CERTS} PEM blocks; at most {MAX_CERTS} are accepted")
            label, begin_line, body = begin.group(1).decode("ascii"), number, []
        elif end:
            end_label = end.group(1).decode("ascii")
            if label is None:
                raise PemError(f"{source}: line {number} ends a PEM block that never began")
            if end_label != label:
                raise PemError(
                    f"{source}: the PEM block at line {begin_line} begins as {label} but ends as {end_label}"
                )
            blocks.append(_Block(label, begin_line, b"".join(body)))
            label = None
        elif label is not None:
            if b":" in line:
                raise PemError(
                    f"{source}: the PEM block at line {begin_line} has headers; trust-manager rejects PEM headers"
                )
            body.append(line)
        elif b"-----BEGIN" in line or b"-----END" in line:
            raise PemError(f"{source}: line {number} is not a well-formed PEM boundary")
    if label is not None:
        raise PemError(f"{source}: the PEM block at line {begin_line} is not closed (truncated file?)")
    return blocks


def _looks_like_private_key(der: bytes) -> bool:
    from aiogen.output.keyscan import der_private_key_kind

    return der_private_key_kind(der) is not None


def _check_readable(cert: x509.Certificate) -> None:
    """cryptography parses lazily; touch every field aiogen reads so a bad one fails here."""
    _ = (cert.extensions, cert.subject.rfc4514_string(), cert.issuer.rfc4514_string(), cert.public_key())
    _ = (cert.not_valid_before_utc, cert.not_valid_after_utc, cert.serial_number)


def printable(text: str) -> str:
    """``text`` safe to print on one line of any file aiogen writes.

    Every non-printable character (newline, NUL, bidi controls) becomes ``\\uXXXX``, and so does
    the first hyphen of a run of five, so that no PEM armour (``-----BEGIN``) survives either: some
    PEM readers find armour in the middle of a line.
    """
    if text.isprintable() and "-----" not in text:
        return text
    out = "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in text)
    return out.replace("-----", "\\u002d----")


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
    from cryptography.hazmat.primitives.serialization import Encoding

    return _summary(cert, cert.public_bytes(Encoding.DER))


def pem_of(der: bytes) -> str:
    """The PEM armour of a DER certificate, as ``Certificate.public_bytes(Encoding.PEM)`` writes it
    (64 base64 characters a line): made here so that reading a spec's PEMs does not import
    cryptography's serialization package (its SSH and cipher modules, ~4 ms of a cold start)."""
    text = base64.b64encode(der).decode("ascii")
    lines = "".join(f"{text[i:i + 64]}\n" for i in range(0, len(text), 64))
    return f"-----BEGIN CERTIFICATE-----\n{lines}-----END CERTIFICATE-----\n"


def _summary(cert: x509.Certificate, der: bytes) -> CertSummary:
    from cryptography import x509 as _x509
    from cryptography.hazmat.primitives import hashes as _hashes

    try:
        bc = cert.extensions.get_extension_for_class(_x509.BasicConstraints).value
        is_ca, path_length = bc.ca, bc.path_length
    except _x509.ExtensionNotFound:
        is_ca, path_length = False, None
    cns = cert.subject.get_attributes_for_oid(_x509.NameOID.COMMON_NAME)
    family, algorithm = _key_description(cert)
    return CertSummary(
        subject=printable(cert.subject.rfc4514_string()),
        common_name=printable(str(cns[0].value)) if cns else "",
        issuer=printable(cert.issuer.rfc4514_string()),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        is_ca=is_ca,
        path_length=path_length,
        key_family=family,
        key_algorithm=algorithm,
        self_signed=cert.subject == cert.issuer and signed_by(cert, cert),
        sha256=cert.fingerprint(_hashes.SHA256()).hex(),
        pem=pem_of(der),
    )


def signed_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    """Does ``parent``'s key verify ``child``'s signature (and do the names link)?"""
    if child.issuer != parent.subject:
        return False
    try:
        child.verify_directly_issued_by(parent)
    except ValueError:  # "Unsupported signature algorithm": SHA-1/MD5, which cryptography will not verify
        return _legacy_signature_verifies(child, parent)
    except TypeError:
        return False
    except Exception:  # InvalidSignature and friends
        return False
    return True


def _legacy_signature_verifies(child: x509.Certificate, parent: x509.Certificate) -> bool:
    """Verify a SHA-1 or MD5 signature with the raw key API, so that a weakly signed link is
    judged weak (aiogen.pki.judge) rather than mistaken for a broken one."""
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    try:
        digest = child.signature_hash_algorithm
        key = parent.public_key()
    except Exception:  # a signature algorithm that does not parse (the inner and outer ones differ, ...)
        return False
    if digest is None or digest.name not in ("sha1", "md5"):
        return False
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(child.signature, child.tbs_certificate_bytes, padding.PKCS1v15(), digest)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(child.signature, child.tbs_certificate_bytes, ec.ECDSA(digest))
        else:
            return False
    except Exception:  # InvalidSignature, UnsupportedAlgorithm
        return False
    return True
