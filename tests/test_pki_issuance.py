"""cert-manager issuance emulation: one test per rule of https://cert-manager.io/docs/configuration/ca/, plus openssl.

Each row builds a CA Secret as a user (or cert-manager) would, issues a leaf through the CA issuer
emulation, and compares what lands in the leaf Secret's ``tls.crt`` and ``ca.crt``.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from aiogen.pki.authority import CertificateAuthority
from aiogen.pki.chain import pem_of
from aiogen.pki.issuance import CertificateSpec, IssuanceFailed, issue_from_ca_secret, issue_self_signed
from aiogen.pki.keys import KeySpec, same_public_key
from aiogen.pki.tls_secret import TLSSecret

NOW = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
LEAF = CertificateSpec(dns_names=("mqtt.contoso.example",), usages=("server auth",), duration=30 * DAY)


@dataclass(frozen=True)
class Fleet:
    root: CertificateAuthority  # R1
    int1: CertificateAuthority  # signed by R1
    int2: CertificateAuthority  # signed by int1
    other_root: CertificateAuthority  # R2, e.g. the next root during a rollover


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    root = CertificateAuthority.root("Contoso Root R1", not_before=NOW - DAY, not_after=NOW + 3650 * DAY)
    int1 = root.child_ca("Contoso ICA 1", not_after=NOW + 1000 * DAY)
    int2 = int1.child_ca("Contoso ICA 2", not_after=NOW + 900 * DAY)
    other = CertificateAuthority.root("Contoso Root R2", not_before=NOW - DAY, not_after=NOW + 3650 * DAY)
    return Fleet(root, int1, int2, other)


def _certs(pem: bytes | None) -> list[x509.Certificate]:
    return [] if pem is None else x509.load_pem_x509_certificates(pem)


def _names(pem: bytes | None) -> list[str]:
    names = []
    for cert in _certs(pem):
        cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        names.append(str(cn[0].value) if cn else "<leaf>")
    return names


def _secret(tls_crt: list[CertificateAuthority], key_of: CertificateAuthority, ca_crt: bytes | None = None) -> TLSSecret:
    return TLSSecret(
        tls_crt=pem_of([ca.certificate for ca in tls_crt]), tls_key=key_of.private_key_pem(), ca_crt=ca_crt
    )


# -- the table of §2.2 ------------------------------------------------------------------------------


def test_row_self_signed_root_secret(fleet: Fleet) -> None:
    # tls.crt = self-signed root (a cert-manager SelfSigned CA Certificate) → leaf ; root
    out = issue_from_ca_secret(fleet.root.ca_secret(), LEAF, now=NOW)
    assert _names(out.tls_crt) == ["<leaf>"]
    assert _certs(out.ca_crt) == [fleet.root.certificate]


def test_row_intermediate_with_root_in_ca_crt(fleet: Fleet) -> None:
    # tls.crt = intermediate, ca.crt = root (what cert-manager writes for an isCA Certificate) → leaf+int ; root
    ca_secret = _secret([fleet.int1], fleet.int1, ca_crt=fleet.root.cert_pem)
    assert ca_secret == fleet.int1.ca_secret()
    out = issue_from_ca_secret(ca_secret, LEAF, now=NOW)
    assert _names(out.tls_crt) == ["<leaf>", "Contoso ICA 1"]
    assert _names(out.ca_crt) == ["Contoso Root R1"]


def test_row_intermediate_and_root_in_tls_crt(fleet: Fleet) -> None:
    out = issue_from_ca_secret(_secret([fleet.int1, fleet.root], fleet.int1), LEAF, now=NOW)
    assert _names(out.tls_crt) == ["<leaf>", "Contoso ICA 1"]
    assert _names(out.ca_crt) == ["Contoso Root R1"]


def test_row_two_intermediates_and_root(fleet: Fleet) -> None:
    out = issue_from_ca_secret(_secret([fleet.int2, fleet.int1, fleet.root], fleet.int2), LEAF, now=NOW)
    assert _names(out.tls_crt) == ["<leaf>", "Contoso ICA 2", "Contoso ICA 1"]
    assert _names(out.ca_crt) == ["Contoso Root R1"]


def test_row_intermediate_only_makes_ca_crt_the_intermediate(fleet: Fleet) -> None:
    # cert-manager issue #3619: with the root absent, ca.crt is the intermediate.
    out = issue_from_ca_secret(_secret([fleet.int1], fleet.int1), LEAF, now=NOW)
    assert _names(out.tls_crt) == ["<leaf>", "Contoso ICA 1"]
    assert _names(out.ca_crt) == ["Contoso ICA 1"]


def test_row_ca_crt_is_a_different_root(fleet: Fleet) -> None:
    ca_secret = _secret([fleet.int1], fleet.int1, ca_crt=fleet.other_root.cert_pem)
    with pytest.raises(IssuanceFailed) as caught:
        issue_from_ca_secret(ca_secret, LEAF, now=NOW)
    assert (caught.value.reason, str(caught.value)) == ("SigningError", "certificate chain is malformed or broken")


def test_row_key_does_not_match_tls_crt(fleet: Fleet) -> None:
    ca_secret = _secret([fleet.int1], fleet.int2, ca_crt=fleet.root.cert_pem)
    with pytest.raises(IssuanceFailed) as caught:
        issue_from_ca_secret(ca_secret, LEAF, now=NOW)
    assert (caught.value.reason, str(caught.value)) == ("SigningError", "certificate chain is malformed or broken")


# -- around the table -----------------------------------------------------------------------------


def test_only_the_first_certificate_of_ca_crt_is_used(fleet: Fleet) -> None:
    # Old root first: works. New root first (a multi-root bundle in ca.crt during rollover): broken.
    good = _secret([fleet.int1], fleet.int1, ca_crt=fleet.root.cert_pem + fleet.other_root.cert_pem)
    assert _names(issue_from_ca_secret(good, LEAF, now=NOW).ca_crt) == ["Contoso Root R1"]
    bad = _secret([fleet.int1], fleet.int1, ca_crt=fleet.other_root.cert_pem + fleet.root.cert_pem)
    with pytest.raises(IssuanceFailed, match="certificate chain is malformed or broken"):
        issue_from_ca_secret(bad, LEAF, now=NOW)


def test_a_leaf_in_tls_crt_is_not_a_ca(fleet: Fleet) -> None:
    leaf = fleet.int1.issue_leaf("not-a-ca", not_before=NOW, not_after=NOW + DAY)
    with pytest.raises(IssuanceFailed) as caught:
        issue_from_ca_secret(leaf.tls_secret(), LEAF, now=NOW)
    assert (caught.value.reason, caught.value.message) == ("ErrInvalidKeyPair", "certificate is not a CA")


def test_unreadable_secret_data(fleet: Fleet) -> None:
    with pytest.raises(IssuanceFailed) as caught:
        issue_from_ca_secret(TLSSecret(b"garbage", fleet.int1.private_key_pem()), LEAF, now=NOW)
    assert caught.value.reason == "ErrGetKeyPair"
    with pytest.raises(IssuanceFailed) as caught:
        issue_from_ca_secret(TLSSecret(fleet.int1.cert_pem, b"garbage"), LEAF, now=NOW)
    assert caught.value.reason == "ErrGetKeyPair"


def test_the_leaf_may_outlive_its_ca_exactly_as_cert_manager_allows(fleet: Fleet) -> None:
    # cert-manager issue #5864: no clipping of NotAfter to the CA's expiry.
    long = CertificateSpec(common_name="long", usages=("client auth",), duration=2000 * DAY)
    out = issue_from_ca_secret(fleet.int1.ca_secret(), long, now=NOW)
    leaf = _certs(out.tls_crt)[0]
    assert leaf.not_valid_before_utc == NOW
    assert leaf.not_valid_after_utc == NOW + 2000 * DAY > fleet.int1.certificate.not_valid_after_utc


def test_an_is_ca_certificate_becomes_the_next_ca_secret(fleet: Fleet) -> None:
    spec = CertificateSpec(common_name="Cluster ICA", is_ca=True, duration=365 * DAY)
    ica_secret = issue_from_ca_secret(fleet.root.ca_secret(), spec, now=NOW)
    assert _names(ica_secret.tls_crt) == ["Cluster ICA"]
    assert _names(ica_secret.ca_crt) == ["Contoso Root R1"]
    out = issue_from_ca_secret(ica_secret, LEAF, now=NOW)
    assert _names(out.tls_crt) == ["<leaf>", "Cluster ICA"]
    assert _names(out.ca_crt) == ["Contoso Root R1"]


def test_reusing_the_key_keeps_the_public_key(fleet: Fleet) -> None:
    key = KeySpec.Ec256.generate()
    out = issue_from_ca_secret(fleet.int1.ca_secret(), LEAF, now=NOW, private_key=key)
    assert same_public_key(_certs(out.tls_crt)[0].public_key(), key)


def test_self_signed_issuer_writes_the_certificate_twice() -> None:
    spec = CertificateSpec(common_name="lab-1 root", organizations=("Contoso",), is_ca=True, duration=3650 * DAY)
    out = issue_self_signed(spec, now=NOW)
    assert out.tls_crt == out.ca_crt
    root = _certs(out.tls_crt)[0]
    assert root.subject == root.issuer and root.not_valid_after_utc == NOW + 3650 * DAY


def test_duration_below_an_hour_is_refused(fleet: Fleet) -> None:
    with pytest.raises(IssuanceFailed, match="below cert-manager's minimum of 1h"):
        issue_from_ca_secret(fleet.int1.ca_secret(), CertificateSpec(common_name="x", duration=timedelta(minutes=59)), now=NOW)


# -- the emulated chains validate, with openssl and with cryptography's RFC 5280 verifier --------------

SUCCESS_ROWS = {
    "root": lambda f: f.root.ca_secret(),
    "int+ca.crt": lambda f: _secret([f.int1], f.int1, ca_crt=f.root.cert_pem),
    "int+root": lambda f: _secret([f.int1, f.root], f.int1),
    "int2+int1+root": lambda f: _secret([f.int2, f.int1, f.root], f.int2),
    "int only": lambda f: _secret([f.int1], f.int1),
}


def _openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")
@pytest.mark.parametrize("row", list(SUCCESS_ROWS))
def test_openssl_verify_agrees(row: str, fleet: Fleet, tmp_path: Path) -> None:
    out = issue_from_ca_secret(SUCCESS_ROWS[row](fleet), LEAF, now=NOW)
    (tmp_path / "root.pem").write_bytes(fleet.root.cert_pem)
    (tmp_path / "chain.pem").write_bytes(out.tls_crt)
    (tmp_path / "leaf.pem").write_bytes(pem_of(_certs(out.tls_crt)[:1]))
    assert out.ca_crt is not None
    (tmp_path / "ca.pem").write_bytes(out.ca_crt)
    at = str(int((NOW + DAY).timestamp()))
    files = {name: str(tmp_path / f"{name}.pem") for name in ("root", "chain", "leaf", "ca")}

    result = _openssl("verify", "-attime", at, "-CAfile", files["root"], "-untrusted", files["chain"], files["leaf"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{files['leaf']}: OK"

    # Trusting ca.crt works when it is the root; when it is the intermediate, OpenSSL clients
    # need partial-chain validation (docs/simulate.md).
    with_ca = _openssl("verify", "-attime", at, "-CAfile", files["ca"], "-untrusted", files["chain"], files["leaf"])
    ca_is_root = _certs(out.ca_crt) == [fleet.root.certificate]
    assert (with_ca.returncode == 0) is ca_is_root, with_ca.stderr
    if not ca_is_root:
        partial = _openssl(
            "verify", "-partial_chain", "-attime", at, "-CAfile", files["ca"], "-untrusted", files["chain"], files["leaf"]
        )
        assert partial.returncode == 0, partial.stderr


@pytest.mark.parametrize("row", list(SUCCESS_ROWS))
def test_rfc5280_path_validation_agrees(row: str, fleet: Fleet) -> None:
    out = issue_from_ca_secret(SUCCESS_ROWS[row](fleet), LEAF, now=NOW)
    leaf, *intermediates = _certs(out.tls_crt)
    verifier = PolicyBuilder().store(Store([fleet.root.certificate])).time(NOW + DAY).build_server_verifier(
        x509.DNSName("mqtt.contoso.example")
    )
    chain = verifier.verify(leaf, intermediates)
    assert chain[-1] == fleet.root.certificate
    other = PolicyBuilder().store(Store([fleet.other_root.certificate])).time(NOW + DAY).build_server_verifier(
        x509.DNSName("mqtt.contoso.example")
    )
    with pytest.raises(VerificationError):
        other.verify(leaf, intermediates)
