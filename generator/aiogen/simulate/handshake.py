"""Does this client accept this server, and this server this client? Path validation and a real handshake.

Two independent answers, which must agree:

* **path validation as OpenSSL does it** (`aiogen.simulate.path`), modelling the clients users
  run: MQTT clients are OpenSSL-based (mosquitto, paho-mqtt through Python's ``ssl``), and OpenSSL
  without ``X509_V_FLAG_PARTIAL_CHAIN`` accepts only a **self-signed root** as a trust anchor: an
  intermediate in the trust bundle helps build the path but does not end it (docs/simulate.md,
  "The model"). The path's rules are `aiogen.pki.judge`'s (OpenSSL 3 at security level 2), not a
  WebPKI profile. Device certificates are validated as OpenSSL does too: no SubjectAltName is
  required of a client certificate.
* **A real TLS handshake** on 127.0.0.1 with Python's ``ssl``: the server presents the chain
  (leaf + intermediates), the client verifies it against the bundle and checks the name it
  dialled (``server_hostname``: SNI and hostname verification; the certificate need not name
  127.0.0.1). Where the port authenticates clients by X.509, the server asks for (or requires) a
  client certificate and verifies it against the client-CA bundle. Partial-chain validation is
  switched off explicitly on both sides (Python 3.13's default contexts switch it on).

One `LoopbackServer` serves one server configuration on an ephemeral port, in its own thread;
attempts against it run one at a time so the server's verdict belongs to the attempt.
"""

from __future__ import annotations

import contextlib
import functools
import queue
import socket
import ssl
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType

from cryptography import x509

from aiogen.pki.pem import parse_certificates
from aiogen.pki.ssl_files import load_cert_chain
from aiogen.simulate import path

TIMEOUT = 5.0  # seconds, for every socket operation
_OK = b"K"  # the server's byte after a handshake it accepted


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


@dataclass(frozen=True)
class HandshakeOutcome:
    ok: bool
    client_error: str | None = None
    server_error: str | None = None
    version: str | None = None


# ------------------------------------------------------------------------------ path validation


def verify_server_path(chain: Sequence[x509.Certificate], bundle: Sequence[x509.Certificate], hostname: str,
                       at: datetime) -> str | None:
    """OpenSSL's validation of a served chain for ``hostname`` (`aiogen.simulate.path`); None if valid."""
    return path.refusal(chain, bundle, "sslserver", at, hostname)


def verify_client_path(chain: Sequence[x509.Certificate], client_cas: Sequence[x509.Certificate],
                       at: datetime) -> str | None:
    """OpenSSL's validation of a client (device) chain against the broker's client CAs; None if valid."""
    if not any(path.self_signed(c) for c in client_cas):
        return "the client-CA bundle holds no self-signed root"
    return path.refusal(chain, client_cas, "sslclient", at)


# ------------------------------------------------------------------------------ handshakes


def _no_partial_chain(context: ssl.SSLContext) -> ssl.SSLContext:
    partial = getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", None)
    if partial is not None:
        context.verify_flags &= ~partial
    return context


def _describe(error: BaseException) -> str:
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {error.verify_message}"
    if isinstance(error, ssl.SSLError):
        return error.reason.replace("_", " ").lower() if error.reason else str(error)
    if isinstance(error, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(error, ConnectionError):
        return "the peer closed the connection"
    return f"{type(error).__name__}: {error}"


class LoopbackServer:
    """A TLS server on 127.0.0.1, an ephemeral port and its own thread, for one `ServerConfig`."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        context = _no_partial_chain(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        load_cert_chain(context, config.chain_pem, config.key_pem)
        if config.client_ca_pem is not None:
            context.verify_mode = ssl.CERT_REQUIRED if config.require_client_cert else ssl.CERT_OPTIONAL
            if config.client_ca_pem.strip():
                context.load_verify_locations(cadata=config.client_ca_pem.decode("ascii"))
        self._context = context
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self._listener.settimeout(1.0)  # a safety net: close() wakes accept() by shutting the socket
        self.port: int = self._listener.getsockname()[1]
        self._verdicts: queue.Queue[str | None] = queue.Queue()
        self._stop = threading.Event()
        self._attempt_lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, name=f"aiogen-tls-{self.port}", daemon=True)
        self._thread.start()

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() the thread is blocked in
        self._thread.join(timeout=TIMEOUT)
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._verdicts.put(self._handle(conn))

    def _handle(self, conn: socket.socket) -> str | None:
        conn.settimeout(TIMEOUT)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms delayed-ACK stalls
        try:
            with self._context.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(_OK)
                with contextlib.suppress(OSError):
                    tls.recv(1)  # wait for the client to close, so it reads the byte first
            return None
        except (OSError, ssl.SSLError) as error:
            return _describe(error)
        finally:
            conn.close()

    def attempt(self, client: ClientConfig) -> HandshakeOutcome:
        """Connect, handshake as ``client`` would, and collect both sides' verdicts."""
        context = client_context(client)
        with self._attempt_lock:
            client_error: str | None = None
            version: str | None = None
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT) as raw:
                    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    with context.wrap_socket(raw, server_hostname=client.hostname) as tls:
                        version = tls.version()
                        # TLS 1.3 clients finish before the server has checked their certificate:
                        # the server's byte (or its alert) tells whether it accepted.
                        if tls.recv(1) != _OK:
                            client_error = "the server closed the connection after the handshake"
            except (OSError, ssl.SSLError) as error:
                client_error = _describe(error)
            try:
                server_error = self._verdicts.get(timeout=TIMEOUT)
            except queue.Empty:
                server_error = "the server saw no connection"
        ok = client_error is None and server_error is None
        return HandshakeOutcome(ok, client_error, server_error, version if ok else None)


@functools.lru_cache(maxsize=4096)
def client_context(client: ClientConfig) -> ssl.SSLContext:
    """The client's `ssl` context (cached: contexts are costly to build and safe to share)."""
    context = _no_partial_chain(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    if client.trust_pem.strip():
        context.load_verify_locations(cadata=client.trust_pem.decode("ascii"))
    if client.chain_pem is not None and client.key_pem is not None:
        load_cert_chain(context, client.chain_pem, client.key_pem)
    return context


def handshake(server: ServerConfig, client: ClientConfig) -> HandshakeOutcome:
    """One handshake against a server started for it (for tests and one-off checks)."""
    with LoopbackServer(server) as running:
        return running.attempt(client)


def certificates(pem: bytes, source: str) -> list[x509.Certificate]:
    return parse_certificates(pem, source=source) if pem.strip() else []
