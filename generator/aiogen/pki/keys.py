"""Which keys may a certificate have, and which hash signs with them?

Only the key types AIO and cert-manager both handle well are offered: EC P-256/P-384/P-521 and
RSA 2048/3072/4096/8192 (the BrokerListener spellings ``Ec256``, ``Rsa2048``...:
https://learn.microsoft.com/azure/iot-operations/manage-mqtt-broker/howto-configure-tls-auto).
Weaker choices are not refused at use: they simply do not exist here.

The hash that signs a certificate follows the *signer's* key, exactly as cert-manager's CA and
SelfSigned signers choose it (``signatureAlgorithmFromPublicKey``, https://cert-manager.io/docs/usage/certificate/):
RSA ≥4096 → SHA-512, ≥3072 → SHA-384, else SHA-256; P-521 → SHA-512; P-384 → SHA-384; P-256 → SHA-256.
"""

from __future__ import annotations

import enum
from typing import Literal, TypeAlias

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from aiogen.pki.pem import PemError

PrivateKey: TypeAlias = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey: TypeAlias = ec.EllipticCurvePublicKey | rsa.RSAPublicKey

SignatureHash: TypeAlias = hashes.SHA256 | hashes.SHA384 | hashes.SHA512
KeyFamily = Literal["EC", "RSA"]

_CURVES: dict[int, type[ec.EllipticCurve]] = {256: ec.SECP256R1, 384: ec.SECP384R1, 521: ec.SECP521R1}


class UnsupportedKeyError(ValueError):
    """A key aiogen does not issue with (Ed25519, P-224, RSA 1024, ...)."""


class KeySpec(enum.Enum):
    """A private key algorithm and size, named as AIO's BrokerListener names them."""

    Ec256 = "Ec256"
    Ec384 = "Ec384"
    Ec521 = "Ec521"
    Rsa2048 = "Rsa2048"
    Rsa3072 = "Rsa3072"
    Rsa4096 = "Rsa4096"
    Rsa8192 = "Rsa8192"

    @property
    def family(self) -> KeyFamily:
        return "EC" if self.value.startswith("Ec") else "RSA"

    @property
    def size(self) -> int:
        """Curve size or modulus length in bits."""
        return int(self.value[2:] if self.family == "EC" else self.value[3:])

    def generate(self) -> PrivateKey:
        """A fresh private key of this kind."""
        if self.family == "EC":
            return ec.generate_private_key(_CURVES[self.size]())
        return rsa.generate_private_key(public_exponent=65537, key_size=self.size)

    @classmethod
    def parse(cls, text: str) -> KeySpec:
        """``Ec256`` → `KeySpec.Ec256`; anything else raises `UnsupportedKeyError` naming the choices."""
        for spec in cls:
            if spec.value == text:
                return spec
        raise UnsupportedKeyError(f"{text!r} is not a supported key; use one of {', '.join(names())}")

    @classmethod
    def of(cls, key: object) -> KeySpec:
        """The spec of an existing key (private or public); `UnsupportedKeyError` if it has none."""
        if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
            size = key.curve.key_size
            if isinstance(key.curve, ec.SECP256R1 | ec.SECP384R1 | ec.SECP521R1):
                return cls(f"Ec{size}")
            raise UnsupportedKeyError(
                f"EC curve {key.curve.name} is not supported; use P-256 (Ec256), P-384 (Ec384) or P-521 (Ec521)"
            )
        if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
            if key.key_size in (2048, 3072, 4096, 8192):
                return cls(f"Rsa{key.key_size}")
            raise UnsupportedKeyError(
                f"RSA {key.key_size}-bit keys are not supported; use 2048, 3072, 4096 or 8192 bits"
            )
        raise UnsupportedKeyError(
            f"{type(key).__name__.lstrip('_')} keys are not supported; use EC P-256/P-384/P-521 or RSA 2048-8192"
        )


def names() -> list[str]:
    """The accepted spellings, in a fixed order (for argparse choices and messages)."""
    return [spec.value for spec in KeySpec]


def generate_private_key(spec: KeySpec = KeySpec.Ec256) -> PrivateKey:
    """A fresh key; ECDSA P-256 unless told otherwise (the safe modern default)."""
    return spec.generate()


def signature_hash(signer: PrivateKey | PublicKey) -> SignatureHash:
    """The hash cert-manager signs with, chosen from the signer's key (https://cert-manager.io/docs/usage/certificate/)."""
    if isinstance(signer, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        if signer.key_size >= 4096:
            return hashes.SHA512()
        if signer.key_size >= 3072:
            return hashes.SHA384()
        return hashes.SHA256()
    if signer.curve.key_size >= 521:
        return hashes.SHA512()
    if signer.curve.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()


def same_public_key(a: object, b: object) -> bool:
    """Do two keys (private or public) share a public key? Compared by SubjectPublicKeyInfo DER."""

    def spki(key: object) -> bytes | None:
        if isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            key = key.public_key()
        if isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
            return key.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        return None

    left, right = spki(a), spki(b)
    return left is not None and left == right


def private_key_pem(key: PrivateKey) -> bytes:
    """PKCS#8, unencrypted: what Key Vault and cert-manager (``encoding: PKCS8``) both read."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_private_key(data: bytes, *, source: str) -> PrivateKey:
    """Read a PEM private key (PKCS#8, PKCS#1 or SEC1), as cert-manager's CA Secret allows.

    Raises `PemError` (never quoting the input) or `UnsupportedKeyError`. Encrypted keys are
    refused: cert-manager cannot use them either.
    """
    if b"ENCRYPTED" in data:
        raise PemError(
            f"{source} is an encrypted private key; decrypt it first "
            "(openssl pkey -in KEY -out PLAIN.key) and keep the result offline"
        )
    if b"-----BEGIN" not in data or b"PRIVATE KEY-----" not in data:
        raise PemError(f"{source} holds no PEM private key (expected -----BEGIN PRIVATE KEY-----)")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise PemError(f"{source} is not a readable PEM private key") from None
    except Exception:  # UnsupportedAlgorithm and other backend errors
        raise PemError(f"{source} is a private key of a kind aiogen cannot read") from None
    KeySpec.of(key)  # raises UnsupportedKeyError for Ed25519, P-224, RSA 1024, ...
    assert isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
    return key
