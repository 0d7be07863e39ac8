"""In which forms can a CA keypair be imported into Azure Key Vault?

Two, both carrying the key and the chain *without* the root (the chain a cert-manager CA Secret's
``tls.crt`` wants, https://cert-manager.io/docs/configuration/ca/):

* a PEM file, key first then the certificates (cert-manager's ``tls-combined.pem`` order), for
  ``az keyvault certificate import`` or as a Key Vault *secret* with content type
  ``application/x-pem-file`` (https://learn.microsoft.com/azure/key-vault/certificates/about-certificates);
* a PKCS#12 (PFX) file for ``az keyvault certificate import``. With a password it uses
  PBE-SHA1-3DES and a SHA-1 MAC, the form every importer reads: Key Vault has refused AES-256
  PFX files (https://github.com/MicrosoftDocs/azure-docs/issues/39861). Without a password, the
  key bag is unencrypted (still MAC-protected with the empty password, like
  ``openssl pkcs12 -export -passout pass:``), so protect the file itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import (
    KeySerializationEncryption,
    NoEncryption,
    PrivateFormat,
    pkcs12,
)

from aiogen.pki.chain import pem_of
from aiogen.pki.keys import PrivateKey, private_key_pem


def combined_pem(key: PrivateKey, chain: Sequence[x509.Certificate]) -> bytes:
    """PKCS#8 key, then the chain (signer first)."""
    return private_key_pem(key) + pem_of(chain)


def pfx(
    key: PrivateKey,
    certificate: x509.Certificate,
    intermediates: Sequence[x509.Certificate] = (),
    *,
    password: bytes | None = None,
    friendly_name: str | None = None,
) -> bytes:
    """PKCS#12 with the key, its certificate, and the intermediates above it (no root)."""
    encryption: KeySerializationEncryption
    if password:
        encryption = (
            PrivateFormat.PKCS12.encryption_builder()
            .kdf_rounds(2048)
            .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
            .hmac_hash(hashes.SHA1())
            .build(password)
        )
    else:
        encryption = NoEncryption()
    return pkcs12.serialize_key_and_certificates(
        friendly_name.encode("utf-8") if friendly_name else None,
        key,
        certificate,
        list(intermediates) or None,
        encryption,
    )
