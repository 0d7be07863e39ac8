"""A local certificate authority for tests, the simulation and the offline ``aiogen ca`` commands.

Modelled on trustme: ``CertificateAuthority.root(...)``, ``ca.child_ca(...)``,
``ca.issue_leaf(...)``; PEM out through properties, private keys only through methods whose names
say so. Unlike trustme, every date is passed in (no clock is read here), so tests and the
simulation are deterministic, and a child can never be valid outside its issuer: cert-manager
lets that happen (https://github.com/cert-manager/cert-manager/issues/5864), this API refuses it. To reproduce
cert-manager's behaviour exactly, use `aiogen.pki.issuance`.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from datetime import datetime

from cryptography import x509

from aiogen.pki import certificate_template as templates
from aiogen.pki import keyvault
from aiogen.pki.chain import common_name, is_ca, is_self_signed, pem_of
from aiogen.pki.keys import KeySpec, PrivateKey, load_private_key, private_key_pem, same_public_key
from aiogen.pki.pem import parse_certificates
from aiogen.pki.ssl_files import load_cert_chain
from aiogen.pki.tls_secret import TLSSecret

_ISO = "%Y-%m-%dT%H:%M:%SZ"


class IssuanceRefused(ValueError):
    """The CA will not issue what was asked (validity outside its own, path length, bad key)."""


def _key(key: KeySpec | PrivateKey) -> PrivateKey:
    return key.generate() if isinstance(key, KeySpec) else key


def check_within_issuer(
    issuer: x509.Certificate, child_name: str, not_before: datetime, not_after: datetime
) -> None:
    """Refuse a child valid outside ``issuer``: clients reject it once the issuer expires.

    The message says how long the issuer has left, counted from the child's start.
    """
    start, end = templates.utc(not_before), templates.utc(not_after)
    issuer_start, issuer_end = issuer.not_valid_before_utc, issuer.not_valid_after_utc
    issuer_name = common_name(issuer)
    if start < issuer_start:
        raise IssuanceRefused(
            f"{child_name!r} would be valid from {start:{_ISO}}, before its issuer "
            f"{issuer_name!r} is ({issuer_start:{_ISO}})"
        )
    if start >= issuer_end:
        raise IssuanceRefused(f"the issuer {issuer_name!r} expired on {issuer_end:{_ISO}}")
    if end > issuer_end:
        left = issuer_end - start
        raise IssuanceRefused(
            f"{child_name!r} would be valid until {end:{_ISO}}, after its issuer {issuer_name!r} "
            f"expires ({issuer_end:{_ISO}}); the issuer has {left.days}d left"
        )


class IssuedCertificate:
    """A leaf and its private key, with the chain cert-manager would serve for it.

    ``chain`` is the leaf then every intermediate, never a self-signed root
    (https://cert-manager.io/docs/configuration/ca/): the client must already hold the root, and
    sending it proves nothing.
    """

    __slots__ = ("ca_certificate", "certificate", "chain", "private_key")

    def __init__(
        self,
        certificate: x509.Certificate,
        private_key: PrivateKey,
        chain: Sequence[x509.Certificate],
        ca_certificate: x509.Certificate,
    ) -> None:
        self.certificate = certificate
        self.private_key = private_key
        self.chain = tuple(chain)
        self.ca_certificate = ca_certificate  # what cert-manager writes to ca.crt

    def __repr__(self) -> str:
        return f"IssuedCertificate({common_name(self.certificate)!r}, {KeySpec.of(self.private_key).value})"

    @property
    def cert_pem(self) -> bytes:
        return pem_of([self.certificate])

    @property
    def chain_pem(self) -> bytes:
        """Leaf + intermediates: the ``tls.crt`` a server presents."""
        return pem_of(self.chain)

    @property
    def ca_pem(self) -> bytes:
        return pem_of([self.ca_certificate])

    def private_key_pem(self) -> bytes:
        """The leaf's key, PKCS#8 PEM, unencrypted."""
        return private_key_pem(self.private_key)

    def private_key_and_chain_pem(self) -> bytes:
        """Key then chain in one PEM (cert-manager's ``tls-combined.pem`` order)."""
        return keyvault.combined_pem(self.private_key, self.chain)

    def tls_secret(self) -> TLSSecret:
        """The Secret cert-manager's CA issuer would write for this leaf."""
        return TLSSecret(tls_crt=self.chain_pem, tls_key=self.private_key_pem(), ca_crt=self.ca_pem)

    def configure_cert(self, context: ssl.SSLContext) -> None:
        """Load chain and key into an `ssl.SSLContext` (through a 0600 temporary file)."""
        load_cert_chain(context, self.private_key_and_chain_pem())


class CertificateAuthority:
    """A CA certificate, its private key, and the certificates above it (parent first)."""

    __slots__ = ("_private_key", "certificate", "parents")

    def __init__(
        self,
        certificate: x509.Certificate,
        private_key: PrivateKey,
        parents: Sequence[x509.Certificate] = (),
    ) -> None:
        if not is_ca(certificate):
            raise IssuanceRefused(
                f"{common_name(certificate)!r} is not a CA certificate (no BasicConstraints CA:TRUE)"
            )
        if not same_public_key(private_key, certificate.public_key()):
            raise IssuanceRefused(f"the private key does not belong to {common_name(certificate)!r}")
        KeySpec.of(private_key)
        self.certificate = certificate
        self._private_key = private_key
        self.parents = tuple(parents)

    def __repr__(self) -> str:
        return f"CertificateAuthority({self.common_name!r}, {self.key_spec.value})"

    # -- construction --------------------------------------------------------------------------

    @classmethod
    def root(
        cls,
        common_name: str,
        *,
        not_before: datetime,
        not_after: datetime,
        key: KeySpec | PrivateKey = KeySpec.Ec256,
        organization: str | None = None,
        path_length: int | None = None,
    ) -> CertificateAuthority:
        """A self-signed root. Pass an existing key to re-sign it (``rotationPolicy: Never``)."""
        private_key = _key(key)
        template = templates.ca_template(
            common_name,
            private_key.public_key(),
            not_before=not_before,
            not_after=not_after,
            organizations=[organization] if organization else [],
            path_length=path_length,
        )
        return cls(templates.sign(template, issuer=None, signer_key=private_key), private_key)

    @classmethod
    def from_pem(cls, cert_pem: bytes, key_pem: bytes, *, source: str = "<input>") -> CertificateAuthority:
        """Load a CA from its certificate file (the CA first, then its parents) and key file.

        Raises `PemError` or `IssuanceRefused` with a message naming ``source``; never echoes the key.
        """
        certs = parse_certificates(cert_pem, source=source)
        key = load_private_key(key_pem, source=f"the key for {source}")
        head = certs[0]
        if not is_ca(head):
            raise IssuanceRefused(
                f"{source}: {common_name(head)!r} is not a CA certificate (no BasicConstraints CA:TRUE)"
            )
        if not same_public_key(key, head.public_key()):
            raise IssuanceRefused(f"{source}: the private key does not belong to {common_name(head)!r}")
        return cls(head, key, certs[1:])

    def check_may_sign_ca(self, path_length: int | None = None) -> None:
        """Raise `IssuanceRefused` unless this CA's path length admits a child CA with ``path_length``."""
        if self.path_length == 0:
            raise IssuanceRefused(
                f"{self.common_name!r} has path length 0: it may issue leaves only, not CAs"
            )
        if path_length is not None and self.path_length is not None and path_length >= self.path_length:
            raise IssuanceRefused(
                f"path length {path_length} does not fit under {self.common_name!r} "
                f"(path length {self.path_length}); use at most {self.path_length - 1}"
            )

    def child_ca(
        self,
        common_name: str,
        *,
        not_after: datetime,
        not_before: datetime | None = None,
        key: KeySpec | PrivateKey = KeySpec.Ec256,
        path_length: int | None = None,
        name_constraints: x509.NameConstraints | None = None,
        organization: str | None = None,
    ) -> CertificateAuthority:
        """An intermediate signed by this CA, valid inside this CA's validity.

        ``not_before`` defaults to this CA's own start, so the result depends on no clock.
        """
        self.check_may_sign_ca(path_length)
        start = self.certificate.not_valid_before_utc if not_before is None else not_before
        check_within_issuer(self.certificate, common_name, start, not_after)
        private_key = _key(key)
        template = templates.ca_template(
            common_name,
            private_key.public_key(),
            not_before=start,
            not_after=not_after,
            organizations=[organization] if organization else [],
            path_length=path_length,
            name_constraints=name_constraints,
        )
        cert = templates.sign(template, issuer=self.certificate, signer_key=self._private_key)
        return CertificateAuthority(cert, private_key, (self.certificate, *self.parents))

    def issue_leaf(
        self,
        common_name: str | None = None,
        *,
        not_before: datetime,
        not_after: datetime,
        dns: Sequence[str] = (),
        ips: Sequence[str | templates.IPAddress] = (),
        usages: Sequence[str] = ("server auth",),
        key: KeySpec | PrivateKey = KeySpec.Ec256,
        organization: str | None = None,
    ) -> IssuedCertificate:
        """A server (``usages=("server auth",)``) or client (``("client auth",)``) certificate."""
        label = common_name or str([*dns, *ips, "leaf"][0])
        check_within_issuer(self.certificate, label, not_before, not_after)
        private_key = _key(key)
        template = templates.leaf_template(
            common_name,
            private_key.public_key(),
            not_before=not_before,
            not_after=not_after,
            dns_names=dns,
            ip_addresses=ips,
            usages=usages,
            organizations=[organization] if organization else [],
        )
        cert = templates.sign(template, issuer=self.certificate, signer_key=self._private_key)
        # served chain: leaf + intermediates; a self-signed root is never included (RFC 5246 §7.4.2,
        # https://cert-manager.io/docs/configuration/ca/), also when the root itself issued the leaf
        served = tuple(c for c in self.chain if not is_self_signed(c))
        return IssuedCertificate(cert, private_key, (cert, *served), self.root_certificate)

    # -- what it is ----------------------------------------------------------------------------

    @property
    def common_name(self) -> str:
        return common_name(self.certificate)

    @property
    def private_key(self) -> PrivateKey:
        return self._private_key

    @property
    def key_spec(self) -> KeySpec:
        return KeySpec.of(self._private_key)

    @property
    def path_length(self) -> int | None:
        value: int | None = self.certificate.extensions.get_extension_for_class(
            x509.BasicConstraints
        ).value.path_length
        return value

    @property
    def is_root(self) -> bool:
        return is_self_signed(self.certificate)

    @property
    def root_certificate(self) -> x509.Certificate:
        """The top of the known chain: the self-signed root when it is known (what ca.crt holds)."""
        return self.parents[-1] if self.parents else self.certificate

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        """This CA and its parents without a self-signed root: a CA Secret's ``tls.crt``."""
        certs = (self.certificate, *self.parents)
        if len(certs) > 1 and is_self_signed(certs[-1]):
            certs = certs[:-1]
        return certs

    # -- PEM out -------------------------------------------------------------------------------

    @property
    def cert_pem(self) -> bytes:
        return pem_of([self.certificate])

    @property
    def chain_pem(self) -> bytes:
        return pem_of(self.chain)

    @property
    def root_pem(self) -> bytes:
        return pem_of([self.root_certificate])

    def private_key_pem(self) -> bytes:
        """This CA's key, PKCS#8 PEM, unencrypted. Keep it offline."""
        return private_key_pem(self._private_key)

    def private_key_and_chain_pem(self) -> bytes:
        """Key then chain (no root) in one PEM: the Key Vault PEM import form."""
        return keyvault.combined_pem(self._private_key, self.chain)

    def pfx(self, password: bytes | None = None) -> bytes:
        """Key, certificate and its intermediate parents as PKCS#12 (Key Vault's PFX import form)."""
        return keyvault.pfx(
            self._private_key,
            self.certificate,
            self.chain[1:],
            password=password,
            friendly_name=self.common_name,
        )

    def ca_secret(self) -> TLSSecret:
        """The Secret cert-manager writes for this CA as an ``isCA`` Certificate.

        ``tls.crt`` = this CA and its intermediates (no root), ``ca.crt`` = the root: for a root,
        both hold the root itself (the SelfSigned issuer's output, https://cert-manager.io/docs/configuration/selfsigned/).
        """
        return TLSSecret(tls_crt=self.chain_pem, tls_key=self.private_key_pem(), ca_crt=self.root_pem)

    def configure_trust(self, context: ssl.SSLContext) -> None:
        """Make ``context`` trust this CA's certificate.

        OpenSSL only accepts a self-signed trust anchor unless the context enables partial-chain
        validation, so for an intermediate this alone does not make clients accept its leaves.
        """
        context.load_verify_locations(cadata=self.cert_pem.decode("ascii"))


