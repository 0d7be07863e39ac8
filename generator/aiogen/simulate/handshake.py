"""Does this client accept this server, and this server this client? Path validation and a real handshake.

Two independent answers, which must agree:

* **path validation as OpenSSL does it** (`aiogen.simulate.path`), modelling the clients users
  run: MQTT clients are OpenSSL-based (mosquitto, paho-mqtt through Python's ``ssl``), and OpenSSL
  without ``X509_V_FLAG_PARTIAL_CHAIN`` accepts only a **self-signed root** as a trust anchor: an
  intermediate in the trust bundle helps build the path but does not end it (docs/simulate.md,
  "The model"). The path's rules are `aiogen.pki.judge`'s (OpenSSL 3 at security level 2), not a
  WebPKI profile. Device certificates are validated as OpenSSL does too: no SubjectAltName is
  required of a client certificate.
* **A real TLS handshake** on 127.0.0.1 with Python's ``ssl`` (`aiogen.simulate.loopback`): the
  server presents the chain (leaf + intermediates), the client verifies it against the bundle and
  checks the name it dialled (``server_hostname``: SNI and hostname verification; the certificate
  need not name 127.0.0.1). Where the port authenticates clients by X.509, the server asks for (or
  requires) a client certificate and verifies it against the client-CA bundle. Partial-chain
  validation is switched off explicitly on both sides (Python 3.13's default contexts switch it on).

A `LoopbackServer` serves one server configuration; each attempt against it is one connection
and one handshake, driven to its end before the next.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType

from cryptography import x509

from aiogen.pki.pem import parse_certificates
from aiogen.pki.ssl_files import load_cert_chain
from aiogen.simulate import path
from aiogen.simulate.loopback import HandshakeOutcome, Loopback

__all__ = ["ClientConfig", "HandshakeOutcome", "LoopbackServer", "ServerConfig", "certificates", "client_context",
           "handshake", "server_context", "verify_client_path", "verify_server_path"]


@dataclass(frozen=True)
class ServerConfig:
    """What a broker port presents, and which client certificates it accepts."""

    chain_pem: bytes  # leaf + intermediates (tls.crt)
    key_pem: bytes
    client_ca_pem: bytes | None = None  # None: no client certificate is asked for
    require_client_cert: bool = False


@dataclass(frozen=True)
class ClientConfig:
    """What a client trusts, the name it dials, and its certificate for mTLS."""

    trust_pem: bytes
    hostname: str
    chain_pem: bytes | None = None
    key_pem: bytes | None = None

    @property
    def context_key(self) -> tuple[bytes, bytes | None, bytes | None]:
        """What its `ssl` context is made of: everything but the name it dials (given per connection)."""
        return self.trust_pem, self.chain_pem, self.key_pem


# ------------------------------------------------------------------------------ path validation


def verify_server_path(chain: Sequence[x509.Certificate], bundle: Sequence[x509.Certificate], hostname: str,
                       at: datetime, memo: path.Memo | None = None) -> str | None:
    """OpenSSL's validation of a served chain for ``hostname`` (`aiogen.simulate.path`); None if valid."""
    return path.refusal(chain, bundle, "sslserver", at, hostname, memo)


def verify_client_path(chain: Sequence[x509.Certificate], client_cas: Sequence[x509.Certificate],
                       at: datetime, memo: path.Memo | None = None) -> str | None:
    """OpenSSL's validation of a client (device) chain against the broker's client CAs; None if valid."""
    if not any(path.self_signed(c, memo) for c in client_cas):
        return "the client-CA bundle holds no self-signed root"
    return path.refusal(chain, client_cas, "sslclient", at, memo=memo)


# ------------------------------------------------------------------------------ handshakes


def _no_partial_chain(context: ssl.SSLContext) -> ssl.SSLContext:
    partial = getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", None)
    if partial is not None:
        context.verify_flags &= ~partial
    return context


def server_context(config: ServerConfig) -> ssl.SSLContext:
    """The broker port's `ssl` context: its chain and key, and the client CAs it verifies devices with."""
    context = _no_partial_chain(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # No TLS 1.3 session tickets: no attempt resumes a session, so a ticket would only cost its
    # encryption (a third of a handshake here); the handshake and both verdicts are the same.
    context.num_tickets = 0
    load_cert_chain(context, config.chain_pem, config.key_pem)
    if config.client_ca_pem is not None:
        context.verify_mode = ssl.CERT_REQUIRED if config.require_client_cert else ssl.CERT_OPTIONAL
        if config.client_ca_pem.strip():
            context.load_verify_locations(cadata=config.client_ca_pem.decode("ascii"))
    return context


def client_context(client: ClientConfig) -> ssl.SSLContext:
    """The client's `ssl` context: its trust bundle and, for mTLS, its certificate (the name is per connection)."""
    context = _no_partial_chain(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    if client.trust_pem.strip():
        context.load_verify_locations(cadata=client.trust_pem.decode("ascii"))
    if client.chain_pem is not None and client.key_pem is not None:
        load_cert_chain(context, client.chain_pem, client.key_pem)
    return context


class LoopbackServer:
    """A broker port on 127.0.0.1 for one `ServerConfig`; `attempt` runs one real handshake against it."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self._context = server_context(config)
        self._loopback = Loopback()
        self.port = self._loopback.port

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._loopback.close()

    def attempt(self, client: ClientConfig, context: ssl.SSLContext | None = None) -> HandshakeOutcome:
        """Connect, handshake as ``client`` would (``context``: its `client_context`, made once and shared by
        the caller), and collect both sides' verdicts."""
        return self._loopback.attempt(self._context, context or client_context(client), client.hostname)


def handshake(server: ServerConfig, client: ClientConfig) -> HandshakeOutcome:
    """One handshake against a server started for it (for tests and one-off checks)."""
    with LoopbackServer(server) as running:
        return running.attempt(client)


def certificates(pem: bytes, source: str) -> list[x509.Certificate]:
    return parse_certificates(pem, source=source) if pem.strip() else []
