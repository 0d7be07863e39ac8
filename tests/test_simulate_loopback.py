"""One thread driving both ends of a loopback handshake gives each end the verdict it gets in its own thread.

`aiogen.simulate.loopback` runs the client and the server of a TLS connection on 127.0.0.1 in one
thread. The reference here is the plain way: a server thread with blocking sockets (as the
simulation ran before), the client in the test's thread, and TLS 1.3 session tickets as OpenSSL
sends them by default (the simulation's servers send none). For every way a check passes or fails
(names, trust, expiry, mTLS required or optional, a device from the wrong CA), both must give the
same client error, server error and TLS version.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from datetime import UTC, datetime, timedelta

import pytest

from aiogen.pki.authority import CertificateAuthority
from aiogen.simulate.handshake import ClientConfig, ServerConfig, client_context, handshake, server_context
from aiogen.simulate.loopback import OK_BYTE, TIMEOUT, HandshakeOutcome, Loopback, describe

NOW = datetime.now(UTC).replace(microsecond=0)


def _threaded(server: ServerConfig, client: ClientConfig) -> HandshakeOutcome:
    """The reference: the server in its own thread on blocking sockets, the client in this one."""
    server_ctx, client_ctx = server_context(server), client_context(client)
    server_ctx.num_tickets = 2  # OpenSSL's default: the simulation sends none, which must change no verdict
    verdict: list[str | None] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)

        def serve() -> None:
            conn, _ = listener.accept()
            conn.settimeout(TIMEOUT)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                with server_ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(OK_BYTE)
                    with contextlib.suppress(OSError):
                        tls.recv(1)
                verdict.append(None)
            except OSError as error:
                verdict.append(describe(error))
            finally:
                conn.close()

        thread = threading.Thread(target=serve)
        thread.start()
        client_error, version = None, None
        try:
            with socket.create_connection(listener.getsockname(), timeout=TIMEOUT) as raw:
                raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with client_ctx.wrap_socket(raw, server_hostname=client.hostname) as tls:
                    version = tls.version()
                    if tls.recv(1) != OK_BYTE:
                        client_error = "the server closed the connection after the handshake"
        except OSError as error:
            client_error = describe(error)
        thread.join(TIMEOUT)
    ok = client_error is None and verdict == [None]
    return HandshakeOutcome(ok, client_error, verdict[0], version if ok else None)


@pytest.fixture(scope="module")
def cases() -> dict[str, tuple[ServerConfig, ClientConfig]]:
    return build_cases()


def build_cases() -> dict[str, tuple[ServerConfig, ClientConfig]]:
    """Every way a check passes or fails: a server configuration and a client, by name (`CASES`)."""
    before, after = NOW - timedelta(days=30), NOW + timedelta(days=99)
    root = CertificateAuthority.root("Loopback Root", not_before=before, not_after=after)
    other = CertificateAuthority.root("Other Root", not_before=before, not_after=after)
    intermediate = root.child_ca("Loopback Intermediate", not_after=NOW + timedelta(days=90))
    leaf = intermediate.issue_leaf(None, dns=["mqtt.example"], ips=["10.0.0.1"], not_before=NOW - timedelta(hours=1),
                                   not_after=NOW + timedelta(days=30))
    expired = intermediate.issue_leaf(None, dns=["mqtt.example"], not_before=NOW - timedelta(days=10),
                                      not_after=NOW - timedelta(days=1))
    devices = CertificateAuthority.root("Devices", not_before=before, not_after=after)
    device = devices.issue_leaf("sensor", not_before=NOW - timedelta(hours=1), not_after=NOW + timedelta(days=30),
                                usages=("client auth",))
    stranger = other.issue_leaf("stranger", not_before=NOW - timedelta(hours=1), not_after=NOW + timedelta(days=30),
                                usages=("client auth",))
    served = ServerConfig(leaf.chain_pem, leaf.private_key_pem())
    trusting = ClientConfig(root.cert_pem, "mqtt.example")
    mtls = ServerConfig(leaf.chain_pem, leaf.private_key_pem(), devices.cert_pem, require_client_cert=True)
    optional = ServerConfig(leaf.chain_pem, leaf.private_key_pem(), devices.cert_pem, require_client_cert=False)
    with_device = ClientConfig(root.cert_pem, "mqtt.example", device.chain_pem, device.private_key_pem())
    with_stranger = ClientConfig(root.cert_pem, "mqtt.example", stranger.chain_pem, stranger.private_key_pem())
    return {
        "accepted": (served, trusting),
        "by IP address": (served, ClientConfig(root.cert_pem, "10.0.0.1")),
        "hostname mismatch": (served, ClientConfig(root.cert_pem, "other.example")),
        "IP address mismatch": (served, ClientConfig(root.cert_pem, "10.0.0.2")),
        "untrusted root": (served, ClientConfig(other.cert_pem, "mqtt.example")),
        "empty trust": (served, ClientConfig(b"", "mqtt.example")),
        "intermediate as anchor": (served, ClientConfig(intermediate.cert_pem, "mqtt.example")),
        "expired leaf": (ServerConfig(expired.chain_pem, expired.private_key_pem()), trusting),
        "mTLS accepted": (mtls, with_device),
        "mTLS without a certificate": (mtls, trusting),
        "mTLS device of another CA": (mtls, with_stranger),
        "optional mTLS without a certificate": (optional, trusting),
        "optional mTLS device of another CA": (optional, with_stranger),
        "mTLS and an untrusted server": (mtls, ClientConfig(other.cert_pem, "mqtt.example", device.chain_pem,
                                                            device.private_key_pem())),
    }


CASES = ("accepted", "by IP address", "hostname mismatch", "IP address mismatch", "untrusted root", "empty trust",
         "intermediate as anchor", "expired leaf", "mTLS accepted", "mTLS without a certificate",
         "mTLS device of another CA", "optional mTLS without a certificate", "optional mTLS device of another CA",
         "mTLS and an untrusted server")


@pytest.mark.parametrize("name", CASES)
def test_one_thread_gives_both_ends_the_verdicts_of_two(name: str,
                                                        cases: dict[str, tuple[ServerConfig, ClientConfig]]) -> None:
    server, client = cases[name]
    reference = _threaded(server, client)
    with Loopback() as loopback:
        pumped = loopback.attempt(server_context(server), client_context(client), client.hostname)
    assert pumped == reference
    assert pumped.ok is (name in ("accepted", "by IP address", "mTLS accepted", "optional mTLS without a certificate"))
    if not pumped.ok:  # a refusal is seen by the end that refused and by its peer, as its alert
        assert pumped.client_error and pumped.server_error, pumped


def test_each_attempt_is_a_new_connection_on_one_listener(cases: dict[str, tuple[ServerConfig, ClientConfig]]
                                                          ) -> None:
    server, client = cases["accepted"]
    with Loopback() as loopback:
        outcomes = [loopback.attempt(server_context(server), client_context(client), name)
                    for name in ("mqtt.example", "other.example", "mqtt.example")]
    assert [o.ok for o in outcomes] == [True, False, True]
    assert outcomes[0].version == "TLSv1.3"
    assert handshake(server, client) == outcomes[0]
