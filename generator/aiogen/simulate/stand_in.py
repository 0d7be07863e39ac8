"""What does a stand-in for a supplied CA certificate keep? Everything path validation reads.

The simulation never holds a real CA key, so a CA known only by its public certificate is
re-made with a fresh key of the *same* type and size, signed by its (stood-in) issuer with the
*same* signature algorithm, with every extension copied verbatim — basicConstraints and pathLen,
keyUsage, extendedKeyUsage, name constraints, policy constraints, unknown critical extensions —
and the same subject, serial and validity. Only the key identifiers are recomputed: a copied
authorityKeyIdentifier would name the real issuer's key and break OpenSSL's issuer lookup
(``unable to get local issuer certificate``); each is added only when the original has one.

What cannot be reproduced is refused (`CannotStandIn`), so that the simulation fails closed
rather than judging a stronger chain than the one that ships: keys aiogen.pki does not sign with
(RSA below 2048 or above 4096 bits, curves other than P-256/P-384, Ed25519), and SHA-1/MD5
signatures. OpenSSL's default security level 2 refuses the weak ones anyway, and ``aiogen
validate`` reports them first (docs/simulate.md).
"""

from __future__ import annotations

from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from aiogen.pki.judge import describe_key, signature_name
from aiogen.pki.keys import KeySpec, PrivateKey, UnsupportedKeyError

_RECOMPUTED = (x509.SubjectKeyIdentifier, x509.AuthorityKeyIdentifier)
_Digest = hashes.SHA224 | hashes.SHA256 | hashes.SHA384 | hashes.SHA512


class CannotStandIn(ValueError):
    """A property of the supplied certificate that the simulation cannot reproduce."""


def stand_in_key(real: x509.Certificate) -> PrivateKey:
    """A fresh private key of the real certificate's type and size."""
    public = real.public_key()
    try:
        return KeySpec.of(public).generate()
    except UnsupportedKeyError:
        raise CannotStandIn(f"its {describe_key(public)} key cannot be reproduced (aiogen.pki signs with "
                            "EC P-256/P-384/P-521 and RSA 2048-8192 only)") from None


def _check_signature(real: x509.Certificate) -> _Digest:
    digest = real.signature_hash_algorithm
    if not isinstance(digest, _Digest):
        raise CannotStandIn(f"its signature algorithm {signature_name(real)} cannot be reproduced")
    return digest


def stand_in_certificate(real: x509.Certificate, key: PrivateKey, *, issuer: x509.Certificate | None,
                         issuer_key: PrivateKey, not_before: datetime, not_after: datetime) -> x509.Certificate:
    """``real`` re-made around ``key``, signed by ``issuer_key`` (``issuer=None``: self-signed)."""
    digest = _check_signature(real)
    if real.signature_algorithm_oid == x509.SignatureAlgorithmOID.RSASSA_PSS and not isinstance(
            issuer_key, rsa.RSAPrivateKey):
        raise CannotStandIn("its RSA-PSS signature needs an RSA issuer key")
    builder = (
        x509.CertificateBuilder()
        .subject_name(real.subject)
        .issuer_name(real.subject if issuer is None else issuer.subject)
        .public_key(key.public_key())
        .serial_number(real.serial_number)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    for extension in real.extensions:
        if isinstance(extension.value, x509.SubjectKeyIdentifier):
            builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                                            extension.critical)
        elif isinstance(extension.value, x509.AuthorityKeyIdentifier):
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), extension.critical)
        else:
            builder = builder.add_extension(extension.value, extension.critical)
    if real.signature_algorithm_oid == x509.SignatureAlgorithmOID.RSASSA_PSS:
        pss = padding.PSS(mgf=padding.MGF1(digest), salt_length=padding.PSS.DIGEST_LENGTH)
        return builder.sign(issuer_key, digest, rsa_padding=pss)
    return builder.sign(issuer_key, digest)
