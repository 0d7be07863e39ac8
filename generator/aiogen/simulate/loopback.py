"""How does one real TLS handshake run on 127.0.0.1? Both ends in one thread, over a TCP connection.

The client and the server are Python ``ssl`` sockets on the two ends of a loopback TCP connection
(a listener on 127.0.0.1, an ephemeral port). Instead of a server thread per listener, the
calling thread drives both ends with non-blocking sockets: each end's ``do_handshake`` runs when
its socket has something to read, until both have finished or failed. The bytes on the wire,
the order in which each end sends and reads them and each end's verdict are those of a client and
a server in separate threads (tests/test_simulate_loopback.py compares the two), without a thread
switch, and the global interpreter lock, on every flight.

After its handshake the server sends one byte: a TLS 1.3 client finishes before the server has
checked its certificate, and the byte (or the server's alert) tells whether the server accepted.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
from dataclasses import dataclass
from types import TracebackType

TIMEOUT = 5.0  # seconds without progress before an end is said to have timed out
OK_BYTE = b"K"  # the server's byte after a handshake it accepted


@dataclass(frozen=True)
class HandshakeOutcome:
    ok: bool
    client_error: str | None = None
    server_error: str | None = None
    version: str | None = None


def describe(error: BaseException) -> str:
    """An ``ssl``/socket error in the words the report uses."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {error.verify_message}"
    if isinstance(error, ssl.SSLError):
        return error.reason.replace("_", " ").lower() if error.reason else str(error)
    if isinstance(error, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(error, ConnectionError):
        return "the peer closed the connection"
    return f"{type(error).__name__}: {error}"


class _End:
    """One end of the connection: its TLS socket, and how far it got."""

    def __init__(self, tls: ssl.SSLSocket) -> None:
        self.tls = tls
        self.done = False
        self.error: str | None = None

    @property
    def busy(self) -> bool:
        return not self.done and self.error is None

    def step(self) -> bool:
        """Advance the handshake as far as the bytes already here allow; True if it finished or failed."""
        try:
            self.tls.do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return False
        except OSError as error:  # ssl.SSLError included
            self.fail(describe(error))
            return True
        self.done = True
        return True

    def fail(self, error: str) -> None:
        self.error = error
        self.tls.close()  # as a client or server leaving its `with` block: the peer reads the alert, then EOF


def _wait(ends: list[_End]) -> bool:
    """Wait until a busy end's socket has bytes (or EOF) to read; False after `TIMEOUT` without any."""
    readable, _, _ = select.select([end.tls for end in ends], [], [], TIMEOUT)
    return bool(readable)


class Loopback:
    """A TCP listener on 127.0.0.1 (an ephemeral port) whose connections are handshaken in the caller's thread."""

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self._listener.settimeout(TIMEOUT)
        self.port: int = self._listener.getsockname()[1]

    def __enter__(self) -> Loopback:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._listener.close()

    def _connect(self) -> tuple[socket.socket, socket.socket]:
        client = socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT)
        try:
            server, _ = self._listener.accept()
        except BaseException:
            client.close()
            raise
        for end in (client, server):
            end.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no delayed-ACK stalls on small flights
            end.setblocking(False)
        return client, server

    def attempt(self, server_context: ssl.SSLContext, client_context: ssl.SSLContext,
                hostname: str) -> HandshakeOutcome:
        """Connect, handshake as the client (dialling ``hostname``) and as the server, and collect both verdicts."""
        try:
            raw_client, raw_server = self._connect()
        except OSError as error:
            return HandshakeOutcome(False, describe(error), "the server saw no connection")
        with contextlib.ExitStack() as stack:
            stack.callback(raw_client.close)
            stack.callback(raw_server.close)
            try:
                client = _End(client_context.wrap_socket(raw_client, server_hostname=hostname,
                                                         do_handshake_on_connect=False))
                stack.callback(client.tls.close)
                server = _End(server_context.wrap_socket(raw_server, server_side=True,
                                                         do_handshake_on_connect=False))
                stack.callback(server.tls.close)
            except OSError as error:
                return HandshakeOutcome(False, describe(error), None)
            _handshake(client, server)
            version = client.tls.version() if client.done else None
            if server.done:
                _send_ok(server)
            if client.done:
                _read_ok(client)
        ok = client.error is None and server.error is None
        return HandshakeOutcome(ok, client.error, server.error, version if ok else None)


def _handshake(client: _End, server: _End) -> None:
    """Both handshakes, until each end has finished or failed."""
    while client.busy or server.busy:
        progressed = False
        for end in (client, server):
            if end.busy:
                progressed = end.step() or progressed
        busy = [end for end in (client, server) if end.busy]
        if not progressed and busy and not _wait(busy):
            for end in busy:
                end.fail("timed out")


def _send_ok(server: _End) -> None:
    try:
        server.tls.send(OK_BYTE)
    except OSError as error:
        server.fail(describe(error))


def _read_ok(client: _End) -> None:
    """The server's byte, or its alert: what a TLS 1.3 client learns only after its own handshake."""
    while True:
        try:
            data = client.tls.recv(1)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            if not _wait([client]):
                client.fail("timed out")
                return
            continue
        except OSError as error:
            client.fail(describe(error))
            return
        if data != OK_BYTE:
            client.fail("the server closed the connection after the handshake")
        return
