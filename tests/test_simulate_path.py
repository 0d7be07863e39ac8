"""The simulation's path validation says what OpenSSL clients say (`aiogen.simulate.path`), each
verdict checked against a real handshake with Python's ``ssl`` (OpenSSL) on the same material."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aiogen.pki.authority import CertificateAuthority
from aiogen.simulate.handshake import ClientConfig, ServerConfig, handshake, verify_server_path

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def root() -> CertificateAuthority:
    return CertificateAuthority.root("Path Root", not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(days=9))


@pytest.mark.parametrize(("dns", "ips", "dialled", "refusal"), [
    (["*.a.example"], [], "mqtt.a.example", None),
    (["*.a.example"], [], "x.mqtt.a.example",
     "hostname mismatch: its subjectAltName names *.a.example, not x.mqtt.a.example"),
    (["MQTT.A.example"], [], "mqtt.a.EXAMPLE", None),
    ([], ["10.0.0.1"], "10.0.0.1", None),
    (["mqtt.a.example"], ["10.0.0.1"], "10.0.0.2",
     "IP address mismatch: its subjectAltName names 10.0.0.1, not 10.0.0.2"),
])
def test_the_dialled_name_is_checked_as_openssl_checks_it(root: CertificateAuthority, dns: list[str],
                                                         ips: list[str], dialled: str, refusal: str | None) -> None:
    leaf = root.issue_leaf(None, dns=dns, ips=ips, not_before=NOW - timedelta(hours=1),
                           not_after=NOW + timedelta(days=2))
    assert verify_server_path(leaf.chain, [root.certificate], dialled, NOW) == refusal
    outcome = handshake(ServerConfig(leaf.chain_pem, leaf.private_key_pem()), ClientConfig(root.cert_pem, dialled))
    assert outcome.ok is (refusal is None), outcome


def test_a_missing_intermediate_is_named(root: CertificateAuthority) -> None:
    intermediate = root.child_ca("Path Intermediate", not_after=NOW + timedelta(days=5))
    leaf = intermediate.issue_leaf(None, dns=["mqtt.a.example"], not_before=NOW - timedelta(hours=1),
                                   not_after=NOW + timedelta(days=2))
    refusal = verify_server_path(leaf.chain[:1], [root.certificate], "mqtt.a.example", NOW)
    assert refusal == ("unable to get local issuer certificate: no certificate of the trust bundle or the chain "
                       "issued the leaf (it has no subject name) (its issuer is 'CN=Path Intermediate')")
    outcome = handshake(ServerConfig(leaf.chain_pem.split(b"-----END CERTIFICATE-----")[0]
                                     + b"-----END CERTIFICATE-----\n", leaf.private_key_pem()),
                        ClientConfig(root.cert_pem, "mqtt.a.example"))
    assert not outcome.ok and "unable to get local issuer certificate" in (outcome.client_error or "")
    assert verify_server_path(leaf.chain, [root.certificate], "mqtt.a.example", NOW) is None
