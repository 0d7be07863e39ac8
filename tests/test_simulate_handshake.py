"""Path validation and loopback handshakes: the two verdicts the simulation compares."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aiogen.pki.authority import CertificateAuthority, IssuedCertificate
from aiogen.simulate.handshake import (
    ClientConfig,
    LoopbackServer,
    ServerConfig,
    handshake,
    verify_client_path,
    verify_server_path,
)

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def pki() -> tuple[CertificateAuthority, CertificateAuthority, IssuedCertificate, IssuedCertificate]:
    root = CertificateAuthority.root("Test Root", not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(days=99))
    intermediate = root.child_ca("Test Intermediate", not_after=NOW + timedelta(days=90))
    server = intermediate.issue_leaf(None, dns=["mqtt.example"], ips=["10.0.0.1"], not_before=NOW - timedelta(hours=1),
                                     not_after=NOW + timedelta(days=30))
    devices = CertificateAuthority.root("Devices", not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(days=99))
    device = devices.issue_leaf("sensor", not_before=NOW - timedelta(hours=1), not_after=NOW + timedelta(days=30),
                                usages=("client auth",))
    return root, devices, server, device


def test_hostname_and_ip_are_checked_by_both_verdicts(pki: tuple) -> None:  # type: ignore[type-arg]
    root, _, server, _ = pki
    config = ServerConfig(server.chain_pem, server.private_key_pem())
    with LoopbackServer(config) as running:
        for name, ok in (("mqtt.example", True), ("10.0.0.1", True), ("other.example", False), ("10.0.0.2", False)):
            outcome = running.attempt(ClientConfig(root.cert_pem, name))
            path = verify_server_path(server.chain, [root.certificate], name, NOW)
            assert outcome.ok is ok and (path is None) is ok, (name, outcome, path)
        mismatch = running.attempt(ClientConfig(root.cert_pem, "other.example"))
        assert mismatch.client_error is not None and "Hostname mismatch" in mismatch.client_error
        assert mismatch.server_error is not None  # the server saw the client's alert


def test_mtls_requires_a_trusted_client_certificate(pki: tuple) -> None:  # type: ignore[type-arg]
    root, devices, server, device = pki
    config = ServerConfig(server.chain_pem, server.private_key_pem(), devices.cert_pem, require_client_cert=True)
    with LoopbackServer(config) as running:
        assert running.attempt(ClientConfig(root.cert_pem, "mqtt.example", device.chain_pem,
                                            device.private_key_pem())).ok
        without = running.attempt(ClientConfig(root.cert_pem, "mqtt.example"))
        assert not without.ok and without.server_error is not None
    assert verify_client_path(device.chain, [devices.certificate], NOW) is None
    assert verify_client_path(device.chain, [root.certificate], NOW) is not None
    wrong_ca = ServerConfig(server.chain_pem, server.private_key_pem(), root.cert_pem, require_client_cert=True)
    refused = handshake(wrong_ca, ClientConfig(root.cert_pem, "mqtt.example", device.chain_pem,
                                               device.private_key_pem()))
    assert not refused.ok and (refused.server_error or "").startswith("certificate verify failed")


def test_only_a_self_signed_root_anchors_trust(pki: tuple) -> None:  # type: ignore[type-arg]
    root, _, server, _ = pki
    intermediate = server.chain[1]
    message = verify_server_path(server.chain, [intermediate], "mqtt.example", NOW)
    assert message == ("the trust bundle holds no self-signed root (OpenSSL clients accept only a root as trust "
                       "anchor)")
    outcome = handshake(ServerConfig(server.chain_pem, server.private_key_pem()),
                        ClientConfig(server.chain_pem[server.chain_pem.index(b"-----BEGIN", 1):], "mqtt.example"))
    assert not outcome.ok
    # an intermediate next to the root is harmless: the root still ends the path
    assert verify_server_path(server.chain[:1], [root.certificate, intermediate], "mqtt.example", NOW) is None
