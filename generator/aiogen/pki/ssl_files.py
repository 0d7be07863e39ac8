"""Python's ssl loads a certificate chain and its key only from files: hand it private temporaries.

Each is made by `tempfile.mkstemp` (0600, a fresh name no one else can open) and removed as soon
as `load_cert_chain` returns, whether it succeeded or not.
"""

from __future__ import annotations

import os
import ssl
import tempfile


def load_cert_chain(context: ssl.SSLContext, chain_pem: bytes, key_pem: bytes | None = None) -> None:
    """``context.load_cert_chain`` from PEM bytes (``key_pem`` None: the key is in ``chain_pem``)."""
    files = [_private_file(chain_pem)]
    try:
        if key_pem is not None:
            files.append(_private_file(key_pem))
        context.load_cert_chain(*files)
    finally:
        for name in files:
            os.unlink(name)


def _private_file(data: bytes) -> str:
    fd, name = tempfile.mkstemp(prefix="aiogen-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except BaseException:
        os.unlink(name)
        raise
    return name
