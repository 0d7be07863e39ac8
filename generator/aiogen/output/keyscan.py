"""Does this text hold private key material? Checked on every file aiogen writes.

aiogen never renders a private key. Every rendered file and every exported file that is not an
explicit key file passes through `assert_no_private_key` before it is written; a hit is a bug in
aiogen, so aiogen stops instead of writing it.

What counts as key material, in the forms it takes in YAML, JSON and PEM files:

* a PEM armour whose label names a private key (``PRIVATE KEY``, ``RSA PRIVATE KEY``, ``EC PRIVATE
  KEY``, ``ENCRYPTED PRIVATE KEY``, ``OPENSSH PRIVATE KEY``, ``PGP PRIVATE KEY BLOCK``);
* that armour base64-encoded, as in a Secret's ``data`` (standard or URL-safe alphabet, at any byte
  alignment, wrapped over lines or not);
* a bare DER key or PKCS#12 file, raw or as one base64 run (a PEM body without its armour): a DER
  SEQUENCE that opens with the version INTEGER of PKCS#1, SEC1, PKCS#8 or PKCS#12, or with the
  algorithm of an encrypted PKCS#8 key. A certificate, CSR or CRL opens with a SEQUENCE instead,
  so the test never mistakes one for a key.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import TYPE_CHECKING

from aiogen.model.problems import AiogenError

if TYPE_CHECKING:
    from collections.abc import Mapping

_PEM_KEY = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY[A-Z0-9 ]*-----")
# A base64 run long enough to hold the start of a DER key (a P-256 PKCS#8 key is 138 characters).
# Matched from the character before it (the text is searched with a newline in front): a search
# then starts only after a character outside the alphabet, never again from every character inside
# a shorter word (quadratic in its length), and finds the same runs.
_BASE64_RUN = re.compile(rb"[^A-Za-z0-9+/_-]([A-Za-z0-9+/_-]{64,})")

# Version INTEGER (02 01 vv) and the tag that follows it, right inside the outer SEQUENCE.
_DER_VERSION_PREFIXES = {
    b"\x02\x01\x00\x02": "RSA or DSA private key (PKCS#1)",
    b"\x02\x01\x01\x04": "EC private key (SEC1)",
    b"\x02\x01\x00\x30": "private key (PKCS#8)",
    b"\x02\x01\x01\x30": "private key (PKCS#8 v2)",
    b"\x02\x01\x03\x30": "PKCS#12 file",
}
# AlgorithmIdentifier OIDs of encrypted PKCS#8 keys (PBES2, PKCS#12 PBE), DER-encoded.
_ENCRYPTED_KEY_OIDS = (bytes.fromhex("06092a864886f70d01050d"), bytes.fromhex("060a2a864886f70d010c01"))


def _base64_markers(needle: bytes, alphabet: bytes | None = None) -> tuple[bytes, ...]:
    """The base64 text of ``needle`` at each of the three byte alignments it can have."""
    out = []
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + needle, altchars=alphabet)
        skip = (shift * 4 + 2) // 3  # characters that still carry the padding bytes
        out.append(encoded[skip : len(encoded) - 4])
    return tuple(out)


_B64_KEY_MARKERS = _base64_markers(b"PRIVATE KEY-----") + _base64_markers(b"PRIVATE KEY-----", b"-_")
# The first base64 character of anything whose first byte is 0x30 (a DER SEQUENCE), in either alphabet.
_DER_SEQUENCE_B64 = base64.b64encode(b"\x30")[:1]


def der_private_key_kind(der: bytes) -> str | None:
    """What kind of private key (or PKCS#12 file) ``der`` begins with, or None."""
    if len(der) < 8 or der[0] != 0x30:
        return None
    length_byte = der[1]
    if length_byte < 0x80:
        start = 2
    elif 0x81 <= length_byte <= 0x84:
        start = 2 + (length_byte & 0x7F)
    else:
        return None
    head = der[start : start + 4]
    kind = _DER_VERSION_PREFIXES.get(head)
    if kind is not None:
        return kind
    if head[:1] == b"\x30" and any(oid in der[start : start + 24] for oid in _ENCRYPTED_KEY_OIDS):
        return "encrypted private key (PKCS#8)"
    return None


def find_private_key(data: str | bytes) -> str | None:
    """A short description of the first private key found, or None. Never returns key bytes."""
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    match = _PEM_KEY.search(raw)
    if match:
        return match.group(0).decode("ascii").strip("-").removeprefix("BEGIN ").lower()
    kind = der_private_key_kind(raw)
    if kind is not None:
        return f"DER-encoded {kind}"
    compact = raw.translate(None, b" \t\r\n")  # same bytes as a regex substitution, ~100x faster
    for marker in _B64_KEY_MARKERS:  # a marker (no white space) in ``raw`` is in ``compact`` too
        if marker in compact:
            return "base64-encoded private key"
    for run in _BASE64_RUN.finditer(b"\n" + raw):
        if run.group(1)[:1] != _DER_SEQUENCE_B64:
            continue  # its first byte is not a SEQUENCE (0x30): no DER key starts there
        kind = der_private_key_kind(_b64_prefix(run.group(1)))
        if kind is not None:
            return f"base64-encoded {kind}"
    return None


def _b64_prefix(text: bytes) -> bytes:
    """The bytes the first 32 characters of a base64 run decode to (either alphabet)."""
    chunk = text[:32]
    try:
        return base64.b64decode(chunk.replace(b"-", b"+").replace(b"_", b"/"), validate=True)
    except (binascii.Error, ValueError):
        return b""


def assert_no_private_key_in(named: Mapping[str, str]) -> None:
    """`assert_no_private_key` of each text (name → text), in order, in one scan of them all.

    Joined by newlines, the texts hold every armour, marker and base64 run any one of them holds
    (none is broken by a newline), and each text's first bytes are checked alone for DER; the joined
    scan may find more (a marker split across two texts), so when it finds anything each text is
    scanned alone, and the first that holds a key is refused, as one scan per text would.
    """
    texts = list(named.values())
    heads = (text[:64].encode("utf-8", "surrogateescape") for text in texts)  # DER's version is in 30 bytes
    if find_private_key("\n".join(texts)) is None and not any(der_private_key_kind(head) for head in heads):
        return
    for name, text in named.items():
        assert_no_private_key(name, text)


def assert_no_private_key(name: str, data: str | bytes) -> None:
    found = find_private_key(data)
    if found:
        raise AiogenError.single(
            f"refusing to write {name}: it would contain a {found}",
            hint="aiogen never writes private keys outside explicit key files; this is a bug, please report it",
        )
