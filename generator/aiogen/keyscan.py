"""Does this text hold private key material? Checked on every file aiogen writes.

aiogen never renders a private key. Every rendered file and every exported file that is not an
explicit key file passes through `assert_no_private_key` before it is written; a hit is a bug in
aiogen, so aiogen stops instead of writing it.
"""

from __future__ import annotations

import re

from aiogen.errors import AiogenError

# PEM labels of private keys: "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY",
# "OPENSSH PRIVATE KEY", ...; also base64 of a PEM header inside YAML/JSON (a Secret's data field).
_PEM_KEY = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")


def _base64_markers(needle: bytes) -> tuple[bytes, ...]:
    """The base64 text of ``needle`` at each of the three byte alignments it can have."""
    import base64

    out = []
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + needle)
        skip = (shift * 4 + 2) // 3  # characters that still carry the padding bytes
        out.append(encoded[skip : len(encoded) - 4])
    return tuple(out)


_B64_KEY_MARKERS = _base64_markers(b"PRIVATE KEY-----")


def find_private_key(data: str | bytes) -> str | None:
    """A short description of the first private key found, or None. Never returns key bytes."""
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    match = _PEM_KEY.search(raw)
    if match:
        return match.group(0).decode("ascii").strip("-").removeprefix("BEGIN ").lower()
    for marker in _B64_KEY_MARKERS:
        if marker in raw:
            return "base64-encoded private key"
    return None


def assert_no_private_key(name: str, data: str | bytes) -> None:
    found = find_private_key(data)
    if found:
        raise AiogenError.single(
            f"refusing to write {name}: it would contain a {found}",
            hint="aiogen never writes private keys outside explicit key files; this is a bug, please report it",
        )
