"""The extension profile of CA and leaf certificates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID

from aiogen.pki import certificate_template as templates
from aiogen.pki.authority import CertificateAuthority
from aiogen.pki.keys import KeySpec

NOW = datetime(2026, 1, 1, tzinfo=UTC)
YEAR = timedelta(days=365)


def _ext(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.Extension[x509.ExtensionType]:
    return cert.extensions.get_extension_for_class(kind)


@pytest.fixture(scope="module")
def root() -> CertificateAuthority:
    return CertificateAuthority.root("Profile Root", not_before=NOW, not_after=NOW + 10 * YEAR, organization="Contoso")


def test_root_profile(root: CertificateAuthority) -> None:
    cert = root.certificate
    bc = _ext(cert, x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length is None
    ku = _ext(cert, x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign and ku.value.digital_signature
    assert _ext(cert, x509.SubjectKeyIdentifier).value == x509.SubjectKeyIdentifier.from_public_key(
        root.private_key.public_key()
    )
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    assert cert.subject.rfc4514_string() == "CN=Profile Root,O=Contoso"
    assert cert.subject == cert.issuer


def test_intermediate_profile_links_aki_to_the_issuer_ski(root: CertificateAuthority) -> None:
    constraints = templates.dns_name_constraints(["contoso.example"])
    ica = root.child_ca("Profile ICA", not_after=NOW + YEAR, path_length=0, name_constraints=constraints)
    cert = ica.certificate
    assert _ext(cert, x509.BasicConstraints).value.path_length == 0
    aki = _ext(cert, x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == _ext(root.certificate, x509.SubjectKeyIdentifier).value.digest
    nc = _ext(cert, x509.NameConstraints)
    assert nc.critical and nc.value.permitted_subtrees == [x509.DNSName("contoso.example")]


def test_leaf_profile(root: CertificateAuthority) -> None:
    leaf = root.issue_leaf(
        "mqtt", dns=["mqtt.contoso.example"], ips=["10.0.0.1"], not_before=NOW, not_after=NOW + YEAR
    ).certificate
    bc = _ext(leaf, x509.BasicConstraints)
    assert bc.critical and not bc.value.ca
    ku = _ext(leaf, x509.KeyUsage).value
    assert ku.digital_signature and not ku.key_cert_sign and not ku.key_encipherment
    assert list(_ext(leaf, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    san = _ext(leaf, x509.SubjectAlternativeName)
    assert not san.critical
    assert san.value.get_values_for_type(x509.DNSName) == ["mqtt.contoso.example"]
    assert [str(ip) for ip in san.value.get_values_for_type(x509.IPAddress)] == ["10.0.0.1"]


def test_subjectless_leaf_has_a_critical_san(root: CertificateAuthority) -> None:
    leaf = root.issue_leaf(dns=["a.example"], usages=("client auth",), not_before=NOW, not_after=NOW + YEAR)
    assert len(leaf.certificate.subject) == 0
    assert _ext(leaf.certificate, x509.SubjectAlternativeName).critical
    assert list(_ext(leaf.certificate, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_key_encipherment_only_when_asked(root: CertificateAuthority) -> None:
    leaf = root.issue_leaf(
        "rsa", usages=("server auth", "key encipherment"), not_before=NOW, not_after=NOW + YEAR
    ).certificate
    assert _ext(leaf, x509.KeyUsage).value.key_encipherment


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"common_name": "x" * 65}, "has 65 characters; at most 64 are allowed"),
        ({"common_name": None}, "a leaf needs a common name, a DNS name or an IP address"),
        ({"usages": ("digital signature",)}, "a leaf needs 'server auth' or 'client auth' in its usages"),
        ({"usages": ("code signing",)}, "unsupported usage 'code signing'"),
        ({"dns_names": ["bad_name.example"]}, "'bad_name.example' is not a valid DNS name"),
        ({"dns_names": ["a.example", "a.example"]}, "DNS name a.example is listed twice"),
        ({"ip_addresses": ["10.0.0.300"]}, "'10.0.0.300' is not an IP address"),
        ({"not_after": NOW}, "is not after not_before"),
        ({"not_before": datetime(2026, 1, 1)}, "has no time zone; pass an aware datetime"),
    ],
)
def test_leaf_template_refusals(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {
        "common_name": "leaf",
        "not_before": NOW,
        "not_after": NOW + YEAR,
        "usages": ("server auth",),
    }
    arguments.update(kwargs)
    key = KeySpec.Ec256.generate().public_key()
    with pytest.raises(templates.TemplateError, match=message):
        templates.leaf_template(arguments.pop("common_name"), key, **arguments)  # type: ignore[arg-type]


def test_wildcard_dns_names_are_accepted() -> None:
    assert templates.check_dns_name("*.mqtt.example") == "*.mqtt.example"
    with pytest.raises(templates.TemplateError):
        templates.check_dns_name("a.*.example")


def test_times_are_truncated_to_seconds() -> None:
    assert templates.utc(datetime(2026, 1, 1, 0, 0, 0, 999, tzinfo=UTC)) == NOW


@pytest.mark.parametrize(
    ("spec", "expected"),
    [(KeySpec.Ec256, hashes.SHA256), (KeySpec.Ec384, hashes.SHA384), (KeySpec.Rsa2048, hashes.SHA256)],
)
def test_the_signer_key_picks_the_signature_hash(spec: KeySpec, expected: type[hashes.HashAlgorithm]) -> None:
    # An EC P-256 child under the signer: the hash follows the signer, not the child.
    signer = CertificateAuthority.root("Signer", not_before=NOW, not_after=NOW + YEAR, key=spec)
    child = signer.child_ca("Child", not_after=NOW + YEAR, key=KeySpec.Ec256)
    assert isinstance(child.certificate.signature_hash_algorithm, expected)
    assert isinstance(signer.certificate.signature_hash_algorithm, expected)
