"""Stand-ins keep every property path validation reads, and refuse what they cannot reproduce."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from aiogen.pki import judge
from aiogen.pki.keys import PrivateKey
from aiogen.simulate.stand_in import CannotStandIn, stand_in_certificate, stand_in_key

NOW = datetime.now(UTC).replace(microsecond=0)
SHA384 = hashes.SHA384()
CA_KU = x509.KeyUsage(False, False, False, False, False, True, True, False, False)


def _cert(cn: str, key: PrivateKey, issuer: tuple[x509.Certificate, PrivateKey] | None,
          extensions: list[tuple[x509.ExtensionType, bool]], digest: hashes.HashAlgorithm = SHA384,
          pss: bool = False) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "C")])
    issuer_name, issuer_key = (issuer[0].subject, issuer[1]) if issuer else (name, key)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name).public_key(key.public_key())
               .serial_number(0x1234 + len(cn)).not_valid_before(NOW - timedelta(days=1))
               .not_valid_after(NOW + timedelta(days=300)))
    for value, critical in extensions:
        builder = builder.add_extension(value, critical)
    builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False)
    if pss:
        assert isinstance(issuer_key, rsa.RSAPrivateKey) and isinstance(digest, hashes.SHA256)
        return builder.sign(issuer_key, digest, rsa_padding=padding.PSS(padding.MGF1(digest), padding.PSS.DIGEST_LENGTH))
    return builder.sign(issuer_key, digest)  # type: ignore[arg-type]


def _real_chain() -> tuple[x509.Certificate, x509.Certificate]:
    root_key = ec.generate_private_key(ec.SECP384R1())
    root = _cert("Root", root_key, None, [(x509.BasicConstraints(True, 1), True), (CA_KU, True)])
    int_key = rsa.generate_private_key(65537, 3072)
    intermediate = _cert("Int", int_key, (root, root_key), [
        (x509.BasicConstraints(True, 0), True),
        (x509.KeyUsage(True, False, False, False, False, True, True, False, False), True),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False),
        (x509.NameConstraints([x509.DNSName(".contoso.example")], [x509.DNSName("svc.cluster.local")]), True),
        (x509.PolicyConstraints(0, None), True),
        (x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.7"), b"\x05\x00"), False),
    ])
    return root, intermediate


def _remake(real: x509.Certificate, issuer: tuple[x509.Certificate, PrivateKey] | None
            ) -> tuple[x509.Certificate, PrivateKey]:
    key = stand_in_key(real)
    cert = stand_in_certificate(real, key, issuer=issuer[0] if issuer else None,
                                issuer_key=issuer[1] if issuer else key,
                                not_before=real.not_valid_before_utc, not_after=real.not_valid_after_utc)
    return cert, key


def _kept(cert: x509.Certificate) -> list[tuple[str, bool, object]]:
    return [(e.oid.dotted_string, e.critical, e.value) for e in cert.extensions
            if not isinstance(e.value, x509.SubjectKeyIdentifier | x509.AuthorityKeyIdentifier)]


def test_a_stand_in_keeps_every_property_path_validation_reads() -> None:
    root, intermediate = _real_chain()
    new_root, root_key = _remake(root, None)
    new_int, _ = _remake(intermediate, (new_root, root_key))
    for real, made in ((root, new_root), (intermediate, new_int)):
        assert made.subject == real.subject and made.issuer == real.issuer
        assert made.serial_number == real.serial_number
        assert (made.not_valid_before_utc, made.not_valid_after_utc) == (real.not_valid_before_utc,
                                                                       real.not_valid_after_utc)
        assert made.signature_algorithm_oid == real.signature_algorithm_oid
        assert judge.describe_key(made.public_key()) == judge.describe_key(real.public_key())
        assert made.public_key() != real.public_key()
        assert _kept(made) == _kept(real)
        ski = made.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        assert ski == x509.SubjectKeyIdentifier.from_public_key(made.public_key())
    aki = new_int.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == x509.SubjectKeyIdentifier.from_public_key(new_root.public_key()).digest
    new_int.verify_directly_issued_by(new_root)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl CLI is not installed")
def test_openssl_judges_the_stand_in_as_it_judges_the_original(tmp_path: Path) -> None:
    root, intermediate = _real_chain()
    new_root, root_key = _remake(root, None)
    new_int, int_key = _remake(intermediate, (new_root, root_key))
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = _cert("mqtt.contoso.example", leaf_key, (new_int, int_key), [
        (x509.SubjectAlternativeName([x509.DNSName("mqtt.contoso.example"), x509.DNSName("aio-broker")]), False),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)], digest=hashes.SHA256())
    for name, cert in (("root", new_root), ("int", new_int), ("leaf", leaf)):
        (tmp_path / f"{name}.pem").write_bytes(cert.public_bytes(Encoding.PEM))
    out = subprocess.run(["openssl", "verify", "-purpose", "sslserver", "-auth_level", "2", "-CAfile", "root.pem",
                          "-untrusted", "int.pem", "leaf.pem"], cwd=tmp_path, capture_output=True, text=True)
    said = out.stdout + out.stderr
    assert "error 26 at 1 depth lookup: unsuitable certificate purpose" in said  # the EKU survived
    assert "error 47 at 0 depth lookup: permitted subtree violation" in said  # the name constraints too
    assert {(r.code, r.depth) for r in judge.judge_chain([leaf, new_int, new_root])} >= {(26, 1), (47, 0)}


def test_what_cannot_be_reproduced_fails_closed() -> None:
    key = ec.generate_private_key(ec.SECP224R1())
    p224 = _cert("P224", key, None, [(x509.BasicConstraints(True, None), True)], digest=hashes.SHA256())
    with pytest.raises(CannotStandIn, match="its EC secp224r1 key cannot be reproduced"):
        stand_in_key(p224)


def test_a_p521_key_is_reproduced() -> None:
    key = ec.generate_private_key(ec.SECP521R1())
    p521 = _cert("P521", key, None, [(x509.BasicConstraints(True, None), True)], digest=hashes.SHA512())
    made = stand_in_key(p521)
    assert isinstance(made, ec.EllipticCurvePrivateKey) and made.curve.name == "secp521r1"


def test_simulate_fails_closed_and_says_so_when_a_supplied_root_cannot_be_stood_in(tmp_path: Path) -> None:
    from tests.helpers import aiogen

    key = ec.generate_private_key(ec.SECP224R1())
    root = _cert("Big Root", key, None, [(x509.BasicConstraints(True, None), True), (CA_KU, True)],
                 digest=hashes.SHA256())
    (tmp_path / "root.pem").write_bytes(root.public_bytes(Encoding.PEM))
    (tmp_path / "spec.yaml").write_text("""apiVersion: aiogen.io/v1alpha1
kind: Topology
metadata: {name: big}
spec:
  roots:
    big: {certificate: {file: root.pem}, secret: {name: big-ca}}
  clusters:
    - name: lab-1
      pki: {mode: single-root, root: big}
      broker:
        listeners:
          - name: lab-mqtts
            serviceType: LoadBalancer
            ports:
              - {port: 8883, authentication: serviceAccountToken, tls: {san: {dns: [mqtt.example]}}}
""")
    run = aiogen("simulate", tmp_path / "spec.yaml", "--json")
    assert run.code == 3
    data = json.loads(run.out)
    assert data["summary"]["passed"] == 0 and data["summary"]["handshakes"] == 0
    assert {c["reason"] for c in data["checks"]} == {
        "cannot stand in for root big: its EC secp224r1 key cannot be reproduced (aiogen.pki signs with EC "
        "P-256/P-384/P-521 and RSA 2048-8192 only); the simulation cannot judge a chain it cannot reproduce "
        "(docs/simulate.md)"}
    assert "cannot be stood in, so the simulation fails closed: root big (its EC secp224r1 key cannot be " \
        "reproduced (aiogen.pki signs with EC P-256/P-384/P-521 and RSA 2048-8192 only))" in data["notes"]
