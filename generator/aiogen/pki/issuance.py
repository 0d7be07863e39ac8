"""What does cert-manager write into a Certificate's Secret? An emulation of its CA and SelfSigned issuers.

CA issuer (https://cert-manager.io/docs/configuration/ca/, ``pkg/controller/certificaterequests/ca/ca.go`` →
``pki.SignCSRTemplate``):

1. ``caCerts = tls.crt + [first certificate of ca.crt]``; ``caCerts[0]`` must be a CA, or the
   issuer is not Ready ("certificate is not a CA"). The key is not checked against it.
2. The new certificate is signed *as* ``caCerts[0]`` *with* ``tls.key``; NotBefore = now,
   NotAfter = now + duration, with no clipping to the CA's own expiry (issue #5864).
3. ``caCerts + [new]`` must form one unbroken chain (`aiogen.pki.chain.parse_single_chain`), else
   the request fails with "certificate chain is malformed or broken" (reason ``SigningError``).
4. ``tls.crt`` = the new certificate and every intermediate up to the top (never a self-signed
   root); ``ca.crt`` = the self-signed root if the chain reaches one, else the highest certificate.

One deliberate simplification: a ``tls.key`` that does not match ``tls.crt[0]`` is reported as the
broken chain the reference describes (the signature does not verify). Go's ``x509.CreateCertificate``
in recent releases refuses earlier with "x509: provided PrivateKey doesn't match parent's
PublicKey"; the reason (``SigningError``) and the outcome (no certificate) are the same.

SelfSigned issuer (https://cert-manager.io/docs/configuration/selfsigned/): the certificate signs
itself with its own key; ``tls.crt`` and ``ca.crt`` both hold it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509

from aiogen.pki import certificate_template as templates
from aiogen.pki.chain import ChainError, is_ca, parse_single_chain, pem_of
from aiogen.pki.keys import KeySpec, PrivateKey, load_private_key, private_key_pem
from aiogen.pki.pem import PemError, parse_certificates
from aiogen.pki.tls_secret import TLSSecret

DEFAULT_DURATION = timedelta(days=90)  # cert-manager's DefaultCertificateDuration (https://cert-manager.io/docs/usage/certificate/)
MINIMUM_DURATION = timedelta(hours=1)  # MinimumCertificateDuration


class IssuanceFailed(Exception):
    """cert-manager would not issue: ``reason`` is its condition reason, ``message`` its text."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class CertificateSpec:
    """The parts of a cert-manager ``Certificate.spec`` that shape the issued certificate.

    ``private_key`` defaults to ECDSA P-256 (aiogen always renders it explicitly; cert-manager's
    own default is RSA 2048). ``usages`` is ignored for CA certificates, which always get the CA
    profile of `aiogen.pki.certificate_template` with no path length (cert-manager sets none).
    """

    common_name: str | None = None
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    usages: tuple[str, ...] = ("server auth",)
    is_ca: bool = False
    duration: timedelta = DEFAULT_DURATION
    organizations: tuple[str, ...] = ()
    private_key: KeySpec = KeySpec.Ec256

    def template(self, key: PrivateKey, now: datetime) -> templates.CertificateTemplate:
        if self.duration < MINIMUM_DURATION:
            raise IssuanceFailed(
                "BadConfig", f"duration {self.duration} is below cert-manager's minimum of 1h"
            )
        start = templates.utc(now, what="now")
        try:
            if self.is_ca:
                if self.common_name is None:
                    raise templates.TemplateError("a CA certificate needs a common name")
                return templates.ca_template(
                    self.common_name,
                    key.public_key(),
                    not_before=start,
                    not_after=start + self.duration,
                    organizations=self.organizations,
                )
            return templates.leaf_template(
                self.common_name,
                key.public_key(),
                not_before=start,
                not_after=start + self.duration,
                dns_names=self.dns_names,
                ip_addresses=self.ip_addresses,
                usages=self.usages,
                organizations=self.organizations,
            )
        except templates.TemplateError as error:
            raise IssuanceFailed("BadConfig", str(error)) from None


def issue_from_ca_secret(
    ca_secret: TLSSecret,
    spec: CertificateSpec,
    *,
    now: datetime,
    private_key: PrivateKey | None = None,
) -> TLSSecret:
    """Issue ``spec`` from a CA issuer whose Secret is ``ca_secret``; return the new Secret.

    ``private_key`` reuses a key (``rotationPolicy: Never``); otherwise one is generated from
    ``spec.private_key``. Raises `IssuanceFailed`.
    """
    signer_certs, signer_key = _signer(ca_secret)
    signer = signer_certs[0]
    key = private_key or spec.private_key.generate()
    issued = templates.sign(spec.template(key, now), issuer=signer, signer_key=signer_key)
    try:
        bundle = parse_single_chain([*signer_certs, issued])
    except ChainError as error:
        raise IssuanceFailed("SigningError", str(error)) from None
    return TLSSecret(
        tls_crt=bundle.chain_pem,
        tls_key=private_key_pem(key),
        ca_crt=bundle.ca_pem,
    )


def issue_self_signed(
    spec: CertificateSpec, *, now: datetime, private_key: PrivateKey | None = None
) -> TLSSecret:
    """Issue ``spec`` from a SelfSigned issuer: ``tls.crt`` = ``ca.crt`` = the certificate."""
    key = private_key or spec.private_key.generate()
    cert = templates.sign(spec.template(key, now), issuer=None, signer_key=key)
    pem = pem_of([cert])
    return TLSSecret(tls_crt=pem, tls_key=private_key_pem(key), ca_crt=pem)


@functools.lru_cache(maxsize=256)
def _signer(ca_secret: TLSSecret) -> tuple[tuple[x509.Certificate, ...], PrivateKey]:
    """The CA Secret's certificates and key, read and checked once per Secret in a process (a
    simulation issues thousands of leaves from one CA); a Secret that fails is read again each time."""
    signer_certs = tuple(_ca_certificates(ca_secret))
    try:
        signer_key = load_private_key(ca_secret.tls_key, source="tls.key")
    except (PemError, ValueError) as error:
        raise IssuanceFailed("ErrGetKeyPair", str(error)) from None
    if not is_ca(signer_certs[0]):
        raise IssuanceFailed("ErrInvalidKeyPair", "certificate is not a CA")
    return signer_certs, signer_key


def _ca_certificates(ca_secret: TLSSecret) -> list[x509.Certificate]:
    """``tls.crt`` then the first certificate of ``ca.crt`` (the rest of ca.crt is ignored)."""
    try:
        certs = parse_certificates(ca_secret.tls_crt, source="tls.crt")
        extra: Sequence[x509.Certificate] = ()
        if ca_secret.ca_crt:
            extra = parse_certificates(ca_secret.ca_crt, source="ca.crt")[:1]
    except PemError as error:
        raise IssuanceFailed("ErrGetKeyPair", str(error)) from None
    return [*certs, *extra]


