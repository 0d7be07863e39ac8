"""Certificate lint: one test per finding, with the exact line a user sees."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from aiogen.pki.keys import KeySpec, PrivateKey, signature_hash
from aiogen.pki.lint import lint_certificates, lint_pem
from aiogen.pki.pem import PemError

NOW = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
UNSET = object()


class Made:
    """A certificate built field by field, so each can be wrong on purpose."""

    def __init__(
        self,
        cn: str,
        issuer: Made | None = None,
        *,
        ca: bool | None = True,
        path_length: int | None = None,
        key_cert_sign: bool | None = True,
        eku: Sequence[x509.ObjectIdentifier] | None = (ExtendedKeyUsageOID.SERVER_AUTH,),
        days: tuple[int, int] = (-1, 365),
        key: KeySpec | PrivateKey = KeySpec.Ec256,
        sign_with: PrivateKey | None = None,
    ) -> None:
        self.key = key.generate() if isinstance(key, KeySpec) else key
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(self.name)
            .issuer_name(issuer.name if issuer else self.name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW + days[0] * DAY)
            .not_valid_after(NOW + days[1] * DAY)
        )
        if ca is not None:
            builder = builder.add_extension(x509.BasicConstraints(ca, path_length if ca else None), critical=True)
        if key_cert_sign is not None:
            builder = builder.add_extension(
                x509.KeyUsage(True, False, False, False, False, bool(key_cert_sign and ca), bool(ca), False, False),
                critical=True,
            )
        if not ca and eku is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
        signer = sign_with or (issuer.key if issuer else self.key)
        self.cert = builder.sign(signer, signature_hash(signer))


def leaf(issuer: Made, cn: str = "mqtt.contoso.example", **kwargs: object) -> Made:
    return Made(cn, issuer, ca=False, **kwargs)  # type: ignore[arg-type]


def lint(*made: Made, warn_within: timedelta = 30 * DAY) -> list[str]:
    findings = lint_certificates([m.cert for m in made], source="chain.pem", now=NOW, warn_within=warn_within)
    return [f.format() for f in findings]


@pytest.fixture(scope="module")
def root() -> Made:
    return Made("Root", days=(-1, 3650))


@pytest.fixture(scope="module")
def ica(root: Made) -> Made:
    return Made("ICA", root, path_length=0, days=(-1, 1000))


def test_a_good_served_chain_has_no_findings(root: Made, ica: Made) -> None:
    assert lint(leaf(ica), ica) == []
    assert lint(ica) == []
    assert lint(root) == []
    assert lint(ica, root) == []


def test_issuer_without_basic_constraints(root: Made) -> None:
    not_ca = Made("Not A CA", root, ca=None, key_cert_sign=None)
    assert lint(leaf(not_ca), not_ca) == [
        "chain.pem: Not A CA: error: signs 'mqtt.contoso.example' (certificate 1) but is not a CA "
        "(no BasicConstraints CA:TRUE); reissue it as a CA (cert-manager: isCA: true)"
    ]


def test_ca_without_key_cert_sign(root: Made) -> None:
    assert lint(Made("No Cert Sign", root, key_cert_sign=False)) == [
        "chain.pem: No Cert Sign: error: is a CA whose KeyUsage lacks keyCertSign, so nothing it signs "
        "validates; reissue it with the cert sign usage"
    ]


def test_ca_without_key_usage(root: Made) -> None:
    assert lint(Made("No KU", root, key_cert_sign=None)) == [
        "chain.pem: No KU: error: is a CA without a KeyUsage extension (RFC 5280 §4.2.1.3 requires one; "
        "WebPKI verifiers such as Python cryptography's refuse the chain); "
        "reissue it with the cert sign and crl sign usages"
    ]


def test_path_length_violated(root: Made, ica: Made) -> None:
    below = Made("Sub ICA", ica, days=(-1, 900))
    assert lint(below, ica) == [
        "chain.pem: ICA: error: has path length 0 but 1 CA certificate(s) follow below it: "
        "'Sub ICA' (certificate 1); issue the lower CA from a CA whose path length allows it, "
        "or reissue this CA with a larger path length"
    ]


def test_root_before_intermediate(root: Made, ica: Made) -> None:
    assert lint(root, ica) == [
        "chain.pem: Root: error: is a self-signed root but more certificates follow it; "
        "order the file child → parent with the root last, or drop the root",
        "chain.pem: ICA: error: comes after its issuer 'Root' (certificate 1); "
        "order the file child → parent: each certificate followed by its issuer",
    ]


def test_parent_before_child(ica: Made) -> None:
    assert lint(ica, leaf(ica)) == [
        "chain.pem: ICA: error: is followed by 'mqtt.contoso.example' (certificate 2), which it issued: "
        "the file runs parent → child; order the file child → parent: each certificate followed by its issuer",
        "chain.pem: mqtt.contoso.example: error: comes after its issuer 'ICA' (certificate 1); "
        "order the file child → parent: each certificate followed by its issuer",
    ]


def test_issuer_elsewhere_in_the_file(root: Made, ica: Made) -> None:
    other = Made("Other Root", days=(-1, 3650))
    assert lint(leaf(ica), other, ica)[0] == (
        "chain.pem: mqtt.contoso.example: error: is followed by 'Other Root' (certificate 2), which did not "
        "issue it; its issuer is 'ICA' (certificate 3); order the file child → parent: each certificate "
        "followed by its issuer"
    )


def test_missing_intermediate(root: Made, ica: Made) -> None:
    assert lint(leaf(ica), root) == [
        "chain.pem: mqtt.contoso.example: error: is followed by 'Root' (certificate 2), which did not issue it, "
        "and its issuer 'CN=ICA' is not in the file; add the missing issuer after it, or remove the "
        "certificates that belong to another chain",
        "chain.pem: Root: warning: is a self-signed root inside a served chain; clients must already trust it; "
        "serve leaf + intermediates only, as cert-manager's tls.crt does",
    ]


def test_signature_does_not_verify(root: Made) -> None:
    # Same name, new key: a re-keyed generation of the intermediate.
    old, new = Made("ICA", root, days=(-1, 900)), Made("ICA", root, days=(-1, 900))
    assert lint(leaf(old), new) == [
        "chain.pem: mqtt.contoso.example: error: does not verify with the key of the next certificate "
        "'ICA' (certificate 2), though the names match; use the issuer certificate whose key signed it "
        "(another generation of that CA?)"
    ]


def test_root_inside_a_served_chain(root: Made, ica: Made) -> None:
    assert lint(leaf(ica), ica, root) == [
        "chain.pem: Root: warning: is a self-signed root inside a served chain; clients must already trust it; "
        "serve leaf + intermediates only, as cert-manager's tls.crt does"
    ]


def test_mixed_key_families(root: Made) -> None:
    rsa_ica = Made("RSA ICA", root, key=KeySpec.Rsa2048, days=(-1, 900))
    assert lint(leaf(rsa_ica), rsa_ica) == [
        "chain.pem: RSA ICA: warning: has an RSA key but 'mqtt.contoso.example' (certificate 1) has EC; "
        "AIO X.509 authentication needs one key family per chain; reissue the chain with one key family "
        "(EC or RSA) throughout"
    ]


def test_expired(ica: Made) -> None:
    assert lint(leaf(ica, days=(-30, -1))) == [
        "chain.pem: mqtt.contoso.example: error: expired on 2025-12-31T00:00:00Z; renew it and replace it everywhere"
    ]


def test_not_yet_valid(ica: Made) -> None:
    assert lint(leaf(ica, days=(2, 30))) == [
        "chain.pem: mqtt.contoso.example: error: is not valid until 2026-01-03T00:00:00Z; "
        "check the clock of the machine that issued it, or wait"
    ]


def test_expiring_soon(ica: Made) -> None:
    assert lint(leaf(ica, days=(-1, 10))) == [
        "chain.pem: mqtt.contoso.example: warning: expires on 2026-01-11T00:00:00Z, in 10 day(s); renew it before then"
    ]
    assert lint(leaf(ica, days=(-1, 10)), warn_within=5 * DAY) == []


def test_child_outlives_its_issuer(ica: Made) -> None:
    assert lint(leaf(ica, days=(-1, 2000)), ica) == [
        "chain.pem: mqtt.contoso.example: error: is valid until 2031-06-24T00:00:00Z, after its issuer 'ICA' "
        "(certificate 2) expires (2028-09-27T00:00:00Z); reissue it to end by 2028-09-27T00:00:00Z: the chain "
        "stops validating when the issuer expires"
    ]


def test_bundle_with_a_non_root(root: Made, ica: Made) -> None:
    other = Made("Other Root", days=(-1, 3650))
    other_ica = Made("Other ICA", other, days=(-1, 900))
    assert lint(root, other_ica) == [
        "chain.pem: Other ICA: error: is not self-signed, but this file is a bundle of roots; "
        "keep only root certificates in a trust bundle"
    ]


def test_bundle_of_roots_may_mix_families(root: Made) -> None:
    assert lint(root, Made("RSA Root", key=KeySpec.Rsa2048, days=(-1, 3650))) == []


def test_bundle_root_without_basic_constraints(root: Made) -> None:
    old_style = Made("V3 Root Without BC", ca=None, key_cert_sign=None, days=(-1, 3650))
    assert lint(root, old_style) == [
        "chain.pem: V3 Root Without BC: error: is a root but is not a CA (no BasicConstraints CA:TRUE); "
        "reissue it as a CA (cert-manager: isCA: true)"
    ]


def test_leaf_without_eku(ica: Made) -> None:
    assert lint(leaf(ica, eku=None)) == [
        "chain.pem: mqtt.contoso.example: warning: has no ExtendedKeyUsage, so nothing says what it is for; "
        "issue it with usages: [server auth] for servers or [client auth] for clients"
    ]


def test_leaf_with_a_non_tls_eku(ica: Made) -> None:
    assert lint(leaf(ica, eku=[ExtendedKeyUsageOID.CODE_SIGNING])) == [
        "chain.pem: mqtt.contoso.example: error: has an ExtendedKeyUsage without server auth or client auth; "
        "TLS peers reject it; issue it with usages: [server auth] for servers or [client auth] for clients"
    ]


def test_duplicates_in_a_bundle(root: Made) -> None:
    other = Made("Other Root", days=(-1, 3650))
    assert lint(root, other, root) == [
        "chain.pem: Root: warning: repeats 'Root' (certificate 1); remove the duplicate"
    ]


def test_findings_follow_certificate_order(root: Made, ica: Made) -> None:
    expired_ica = Made("Old ICA", root, days=(-900, -1))
    lines = lint(leaf(expired_ica, days=(-30, 2)), expired_ica)
    assert [line.split(": ")[1:3] for line in lines] == [
        ["mqtt.contoso.example", "error"],  # outlives its issuer
        ["mqtt.contoso.example", "warning"],  # expires in 2 days
        ["Old ICA", "error"],  # expired
    ]


def test_lint_pem_refuses_a_private_key_without_echoing_it(ica: Made) -> None:
    from cryptography.hazmat.primitives import serialization

    key_pem = ica.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cert_pem = ica.cert.public_bytes(serialization.Encoding.PEM)
    with pytest.raises(PemError) as caught:
        lint_pem(cert_pem + key_pem, source="bundle.pem", now=NOW)
    body = b"".join(key_pem.splitlines()[1:-1]).decode()
    assert body[:40] not in str(caught.value)
    assert str(caught.value).startswith("bundle.pem contains a private key")
