"""The local CA API: roots, intermediates, leaves, PEM/PFX out, and a real TLS handshake."""

from __future__ import annotations

import socket
import ssl
import threading
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key, pkcs12

from aiogen.pki.authority import CertificateAuthority, IssuanceRefused
from aiogen.pki.keys import KeySpec, same_public_key
from aiogen.pki.pem import PemError, parse_certificates

NOW = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def root() -> CertificateAuthority:
    return CertificateAuthority.root("API Root", not_before=NOW, not_after=NOW + 3650 * DAY, organization="Contoso")


@pytest.fixture(scope="module")
def ica(root: CertificateAuthority) -> CertificateAuthority:
    return root.child_ca("API ICA", not_after=NOW + 1000 * DAY, path_length=0)


def test_root_is_its_own_chain_top(root: CertificateAuthority) -> None:
    assert root.is_root
    assert root.chain == (root.certificate,)
    assert root.root_certificate == root.certificate
    assert root.key_spec is KeySpec.Ec256
    secret = root.ca_secret()
    assert secret.tls_crt == secret.ca_crt == root.cert_pem


def test_intermediate_chain_excludes_the_root(root: CertificateAuthority, ica: CertificateAuthority) -> None:
    assert not ica.is_root
    assert ica.parents == (root.certificate,)
    assert ica.chain == (ica.certificate,)
    assert ica.root_certificate == root.certificate
    assert ica.chain_pem == ica.cert_pem
    assert ica.root_pem == root.cert_pem
    secret = ica.ca_secret()
    assert (secret.tls_crt, secret.ca_crt) == (ica.cert_pem, root.cert_pem)
    assert ica.certificate.not_valid_before_utc == root.certificate.not_valid_before_utc


def test_leaf_chain_is_leaf_plus_intermediates(root: CertificateAuthority) -> None:
    int1 = root.child_ca("Level 1", not_after=NOW + 900 * DAY)
    int2 = int1.child_ca("Level 2", not_after=NOW + 800 * DAY)
    leaf = int2.issue_leaf("srv", dns=["srv.example"], not_before=NOW, not_after=NOW + 30 * DAY)
    assert leaf.chain == (leaf.certificate, int2.certificate, int1.certificate)
    assert leaf.ca_certificate == root.certificate
    assert parse_certificates(leaf.chain_pem, source="chain") == list(leaf.chain)
    secret = leaf.tls_secret()
    assert (secret.tls_crt, secret.ca_crt) == (leaf.chain_pem, root.cert_pem)
    assert same_public_key(load_pem_private_key(secret.tls_key, None), leaf.certificate.public_key())


def test_child_validity_must_lie_inside_the_parent(root: CertificateAuthority) -> None:
    with pytest.raises(IssuanceRefused) as caught:
        root.child_ca("Too Long", not_after=NOW + 3651 * DAY)
    assert str(caught.value) == (
        "'Too Long' would be valid until 2035-12-31T00:00:00Z, after its issuer 'API Root' expires "
        "(2035-12-30T00:00:00Z); the issuer has 3650d left"
    )
    with pytest.raises(IssuanceRefused, match="'Early' would be valid from 2025-12-31T00:00:00Z, before its issuer"):
        root.child_ca("Early", not_before=NOW - DAY, not_after=NOW + DAY)
    with pytest.raises(IssuanceRefused, match="the issuer 'API Root' expired on 2035-12-30T00:00:00Z"):
        root.issue_leaf("late", not_before=NOW + 3700 * DAY, not_after=NOW + 3701 * DAY)


def test_path_length_zero_issues_leaves_only(ica: CertificateAuthority) -> None:
    with pytest.raises(IssuanceRefused, match="'API ICA' has path length 0: it may issue leaves only, not CAs"):
        ica.child_ca("Sub", not_after=NOW + DAY)


def test_child_path_length_must_shrink(root: CertificateAuthority) -> None:
    constrained = root.child_ca("Two Levels", not_after=NOW + 100 * DAY, path_length=1)
    with pytest.raises(IssuanceRefused, match="path length 1 does not fit under 'Two Levels'"):
        constrained.child_ca("Sub", not_after=NOW + DAY, path_length=1)
    assert constrained.child_ca("Sub", not_after=NOW + DAY).path_length is None


def test_a_known_key_can_be_re_signed(root: CertificateAuthority) -> None:
    # rotationPolicy: Never renews a CA with the same key: leaves still verify against the new cert.
    renewed = CertificateAuthority.root(
        "API Root", not_before=NOW + DAY, not_after=NOW + 4000 * DAY, key=root.private_key, organization="Contoso"
    )
    leaf = root.issue_leaf("old", not_before=NOW, not_after=NOW + 10 * DAY)
    leaf.certificate.verify_directly_issued_by(renewed.certificate)


def test_from_pem_round_trip_and_refusals(root: CertificateAuthority, ica: CertificateAuthority) -> None:
    loaded = CertificateAuthority.from_pem(ica.cert_pem + root.cert_pem, ica.private_key_pem(), source="ica.pem")
    assert loaded.chain == (ica.certificate,) and loaded.root_certificate == root.certificate
    with pytest.raises(IssuanceRefused, match=r"ica\.pem: the private key does not belong to 'API ICA'"):
        CertificateAuthority.from_pem(ica.cert_pem, root.private_key_pem(), source="ica.pem")
    leaf = root.issue_leaf("leaf", not_before=NOW, not_after=NOW + DAY)
    with pytest.raises(IssuanceRefused, match=r"leaf\.pem: 'leaf' is not a CA certificate"):
        CertificateAuthority.from_pem(leaf.cert_pem, leaf.private_key_pem(), source="leaf.pem")
    with pytest.raises(PemError, match="contains a private key"):
        CertificateAuthority.from_pem(ica.private_key_and_chain_pem(), ica.private_key_pem(), source="kv.pem")


def test_repr_never_shows_the_key(ica: CertificateAuthority) -> None:
    leaf = ica.issue_leaf("srv", not_before=NOW, not_after=NOW + DAY)
    assert repr(ica) == "CertificateAuthority('API ICA', Ec256)"
    assert repr(leaf) == "IssuedCertificate('srv', Ec256)"
    assert repr(leaf.tls_secret()) == "TLSSecret(tls.crt: 2 cert(s), ca.crt: 1 cert(s))"


def test_key_vault_forms_load_back(root: CertificateAuthority, ica: CertificateAuthority) -> None:
    combined = ica.private_key_and_chain_pem()
    assert combined.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert combined.endswith(ica.chain_pem)
    key, cert, extra = pkcs12.load_key_and_certificates(ica.pfx(), None)
    assert cert == ica.certificate and extra == [] and same_public_key(key, ica.private_key)
    key, cert, _ = pkcs12.load_key_and_certificates(ica.pfx(b"s3cret"), b"s3cret")
    assert cert == ica.certificate and same_public_key(key, ica.private_key)


def _handshake(server: ssl.SSLContext, client: ssl.SSLContext, hostname: str) -> x509.Certificate:
    left, right = socket.socketpair()
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            with server.wrap_socket(left, server_side=True) as tls:
                tls.recv(1)
        except (OSError, ssl.SSLError) as error:  # the client hung up or refused the chain
            errors.append(error)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with client.wrap_socket(right, server_hostname=hostname) as tls:
            der = tls.getpeercert(binary_form=True)
            tls.sendall(b"x")
    finally:
        thread.join(5)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def test_real_tls_handshake_with_a_root_only_trust_store() -> None:
    # Real time: OpenSSL checks validity against the wall clock.
    now = datetime.now(UTC)
    root = CertificateAuthority.root("TLS Root", not_before=now - DAY, not_after=now + 30 * DAY)
    ica = root.child_ca("TLS ICA", not_after=now + 20 * DAY, path_length=0)
    leaf = ica.issue_leaf("broker", dns=["mqtt.example"], not_before=now - DAY, not_after=now + 10 * DAY)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    leaf.configure_cert(server)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    root.configure_trust(client)
    assert _handshake(server, client, "mqtt.example") == leaf.certificate

    # An intermediate-only trust store fails for OpenSSL clients unless partial chains are allowed.
    strict = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ica.configure_trust(strict)
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(server, strict, "mqtt.example")
    partial = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    partial.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    ica.configure_trust(partial)
    assert _handshake(server, partial, "mqtt.example") == leaf.certificate
