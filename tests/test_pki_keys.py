"""Key specs, key loading and the signer-driven hash choice (https://cert-manager.io/docs/usage/certificate/)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from aiogen.cli.commands import ca as ca_command
from aiogen.pki import keys
from aiogen.pki.keys import KeySpec, UnsupportedKeyError
from aiogen.pki.pem import PemError


def _rsa_public(bits: int) -> rsa.RSAPublicKey:
    """An RSA public key of the given size without the cost of generating one."""
    return rsa.RSAPublicNumbers(65537, (1 << (bits - 1)) | 1).public_key()


def test_specs_use_aio_spellings_and_nothing_weaker() -> None:
    assert keys.names() == ["Ec256", "Ec384", "Ec521", "Rsa2048", "Rsa3072", "Rsa4096", "Rsa8192"]
    assert [(s.family, s.size) for s in KeySpec] == [
        ("EC", 256),
        ("EC", 384),
        ("EC", 521),
        ("RSA", 2048),
        ("RSA", 3072),
        ("RSA", 4096),
        ("RSA", 8192),
    ]


def test_cli_offers_exactly_the_key_specs() -> None:
    # cli/commands/ca.py may not import cryptography at module level, so it spells them out itself.
    assert list(ca_command.KEY_CHOICES) == keys.names()


def test_parse_refuses_other_spellings() -> None:
    assert KeySpec.parse("Ec384") is KeySpec.Ec384
    with pytest.raises(UnsupportedKeyError, match=r"'Rsa1024' is not a supported key; use one of Ec256, Ec384"):
        KeySpec.parse("Rsa1024")


@pytest.mark.parametrize("spec", [KeySpec.Ec256, KeySpec.Ec384, KeySpec.Ec521, KeySpec.Rsa2048])
def test_generate_round_trips_through_of(spec: KeySpec) -> None:
    key = spec.generate()
    assert KeySpec.of(key) is spec
    assert KeySpec.of(key.public_key()) is spec


def test_of_refuses_unsupported_keys() -> None:
    with pytest.raises(UnsupportedKeyError, match="EC curve secp224r1 is not supported"):
        KeySpec.of(ec.generate_private_key(ec.SECP224R1()))
    assert KeySpec.of(_rsa_public(8192)) is KeySpec.Rsa8192
    with pytest.raises(UnsupportedKeyError, match="RSA 1024-bit keys are not supported"):
        KeySpec.of(_rsa_public(1024))
    with pytest.raises(UnsupportedKeyError, match="Ed25519PrivateKey keys are not supported"):
        KeySpec.of(ed25519.Ed25519PrivateKey.generate())


@pytest.mark.parametrize(
    ("signer", "expected"),
    [
        (lambda: ec.generate_private_key(ec.SECP256R1()), hashes.SHA256),
        (lambda: ec.generate_private_key(ec.SECP384R1()), hashes.SHA384),
        (lambda: _rsa_public(2048), hashes.SHA256),
        (lambda: _rsa_public(3072), hashes.SHA384),
        (lambda: _rsa_public(4096), hashes.SHA512),
    ],
    ids=["P-256", "P-384", "RSA-2048", "RSA-3072", "RSA-4096"],
)
def test_signature_hash_follows_the_signer_key(signer: object, expected: type[hashes.HashAlgorithm]) -> None:
    assert callable(signer)
    assert isinstance(keys.signature_hash(signer()), expected)


@pytest.mark.parametrize(
    "form",
    [serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL],
    ids=["PKCS8", "SEC1"],
)
def test_load_private_key_reads_what_cert_manager_reads(form: serialization.PrivateFormat) -> None:
    key = KeySpec.Ec256.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, form, serialization.NoEncryption())
    loaded = keys.load_private_key(pem, source="tls.key")
    assert keys.same_public_key(loaded, key)


def test_private_key_pem_is_unencrypted_pkcs8() -> None:
    pem = keys.private_key_pem(KeySpec.Ec256.generate())
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")


def test_load_private_key_refuses_encrypted_keys_without_quoting_them() -> None:
    pem = KeySpec.Ec256.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    with pytest.raises(PemError) as caught:
        keys.load_private_key(pem, source="root.key")
    assert str(caught.value).startswith("root.key is an encrypted private key; decrypt it first")
    body = pem.decode().splitlines()[1]
    assert body not in str(caught.value)


def test_load_private_key_refuses_garbage_and_certificates() -> None:
    with pytest.raises(PemError, match=r"root\.key holds no PEM private key"):
        keys.load_private_key(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", source="root.key")
    with pytest.raises(PemError, match=r"root\.key is not a readable PEM private key"):
        keys.load_private_key(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", source="root.key")


def test_same_public_key() -> None:
    a, b = KeySpec.Ec256.generate(), KeySpec.Ec256.generate()
    assert keys.same_public_key(a, a.public_key())
    assert not keys.same_public_key(a, b)
    assert not keys.same_public_key(a, "not a key")
