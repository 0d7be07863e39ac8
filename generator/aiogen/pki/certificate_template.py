"""What does each certificate carry? The extension profile of CA and leaf certificates, and signing.

CA certificates: BasicConstraints ``CA:TRUE`` (critical, optional path length), KeyUsage
keyCertSign + cRLSign + digitalSignature (critical; RFC 5280 §4.2.1.3 requires keyCertSign on a
certificate-signing key), optional NameConstraints (critical, RFC 5280 §4.2.1.10).

Leaves: BasicConstraints ``CA:FALSE`` (critical; cert-manager's template always sets it),
KeyUsage digitalSignature (+ keyEncipherment on request), and an **explicit** ExtendedKeyUsage:
cert-manager's default usages carry no EKU at all (https://cert-manager.io/docs/usage/certificate/), so aiogen
never relies on them. SubjectAltName is critical when the subject is empty (RFC 5280 §4.2.1.6).

Every certificate gets a SubjectKeyIdentifier; every certificate that is not self-signed gets an
AuthorityKeyIdentifier matching its issuer's SKI, so path builders can tell generations of a
re-keyed CA apart (cert-manager issue https://github.com/cert-manager/cert-manager/issues/9076).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeAlias

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from aiogen.model.problems import shown
from aiogen.pki.keys import PrivateKey, PublicKey, same_public_key, signature_hash

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

# cert-manager spellings (https://cert-manager.io/docs/usage/certificate/, ``usages``) that a leaf may carry.
EXTENDED_KEY_USAGES: dict[str, x509.ObjectIdentifier] = {
    "server auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client auth": ExtendedKeyUsageOID.CLIENT_AUTH,
}
KEY_USAGES = ("digital signature", "key encipherment")
MAX_COMMON_NAME = 64  # RFC 5280 ub-common-name; cert-manager's webhook enforces it too



class TemplateError(ValueError):
    """The requested certificate cannot be built as asked (bad name, usage, or dates)."""


@dataclass(frozen=True)
class CertificateTemplate:
    """Everything that goes into one certificate except the issuer and the signature."""

    subject: x509.Name
    public_key: PublicKey
    not_before: datetime
    not_after: datetime
    is_ca: bool
    path_length: int | None = None
    name_constraints: x509.NameConstraints | None = None
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[IPAddress, ...] = ()
    usages: tuple[str, ...] = ()


def utc(value: datetime, *, what: str = "time") -> datetime:
    """An aware UTC datetime truncated to whole seconds, the precision of X.509 validity."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise TemplateError(f"{what} {value.isoformat()} has no time zone; pass an aware datetime (UTC)")
    return value.astimezone(UTC).replace(microsecond=0)


def subject_name(common_name: str | None, organizations: Sequence[str] = ()) -> x509.Name:
    """``O=..., CN=...`` (either may be absent); CN at most 64 characters."""
    for what, value in (("organization", o) for o in organizations):
        _refuse_unprintable(what, value)
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations if org]
    if common_name is not None:
        _refuse_unprintable("common name", common_name)
        if not common_name.strip():
            raise TemplateError("the common name is empty; give a name or leave it out")
        if len(common_name) > MAX_COMMON_NAME:
            raise TemplateError(
                f"the common name {common_name!r} has {len(common_name)} characters; "
                f"at most {MAX_COMMON_NAME} are allowed"
            )
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def _refuse_unprintable(what: str, value: str) -> None:
    """A subject is printed by every tool that shows a certificate: a newline, NUL, tab or bidi
    override in it forges lines or hides text there (the spec refuses them in commonName too)."""
    if not value.isprintable():
        raise TemplateError(f"the {what} {shown(value)} holds a control or formatting character "
                            "(a newline, NUL, tab, bidi override, ...); a subject is printable text only")


def check_dns_name(name: str) -> str:
    """RFC 1123 host name, optionally with one leading wildcard label: the rule of `aiogen.model.names`."""
    from aiogen.model.names import dns_name_problem

    problem = dns_name_problem(name)
    if problem:
        raise TemplateError(f"{name!r} is not a valid DNS name: it {problem}")
    return name


def check_ip_address(value: str | IPAddress) -> IPAddress:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        raise TemplateError(f"{value!r} is not an IP address") from None


def dns_name_constraints(permitted: Sequence[str] = (), excluded: Sequence[str] = ()) -> x509.NameConstraints:
    """NameConstraints over DNS names only: the CA may issue for ``permitted`` domains (and below)."""
    if not permitted and not excluded:
        raise TemplateError("name constraints need at least one permitted or excluded domain")
    return x509.NameConstraints(
        permitted_subtrees=[x509.DNSName(check_dns_name(d)) for d in permitted] or None,
        excluded_subtrees=[x509.DNSName(check_dns_name(d)) for d in excluded] or None,
    )


def _check_dates(not_before: datetime, not_after: datetime) -> tuple[datetime, datetime]:
    start, end = utc(not_before, what="not_before"), utc(not_after, what="not_after")
    if end <= start:
        raise TemplateError(f"not_after {end.isoformat()} is not after not_before {start.isoformat()}")
    return start, end


def ca_template(
    common_name: str,
    public_key: PublicKey,
    *,
    not_before: datetime,
    not_after: datetime,
    organizations: Sequence[str] = (),
    path_length: int | None = None,
    name_constraints: x509.NameConstraints | None = None,
) -> CertificateTemplate:
    """A CA certificate; a CN is required (cert-manager rule: a CA Certificate needs a commonName)."""
    if path_length is not None and path_length < 0:
        raise TemplateError(f"path length {path_length} is negative")
    start, end = _check_dates(not_before, not_after)
    return CertificateTemplate(
        subject=subject_name(common_name, organizations),
        public_key=public_key,
        not_before=start,
        not_after=end,
        is_ca=True,
        path_length=path_length,
        name_constraints=name_constraints,
    )


def leaf_template(
    common_name: str | None,
    public_key: PublicKey,
    *,
    not_before: datetime,
    not_after: datetime,
    dns_names: Sequence[str] = (),
    ip_addresses: Sequence[str | IPAddress] = (),
    usages: Sequence[str] = ("server auth",),
    organizations: Sequence[str] = (),
) -> CertificateTemplate:
    """A TLS leaf; it must name something (CN or a SAN) and say what it is for (an EKU)."""
    if common_name is None and not dns_names and not ip_addresses:
        raise TemplateError("a leaf needs a common name, a DNS name or an IP address")
    unknown = [u for u in usages if u not in EXTENDED_KEY_USAGES and u not in KEY_USAGES]
    if unknown:
        allowed = ", ".join([*EXTENDED_KEY_USAGES, *KEY_USAGES])
        raise TemplateError(f"unsupported usage {unknown[0]!r}; use {allowed}")
    if not any(u in EXTENDED_KEY_USAGES for u in usages):
        raise TemplateError("a leaf needs 'server auth' or 'client auth' in its usages")
    dns = tuple(check_dns_name(d) for d in dns_names)
    ips = tuple(check_ip_address(ip) for ip in ip_addresses)
    for kind, values in (("DNS name", dns), ("IP address", ips)):
        seen: set[object] = set()
        for value in values:
            if value in seen:
                raise TemplateError(f"{kind} {value} is listed twice")
            seen.add(value)
    start, end = _check_dates(not_before, not_after)
    return CertificateTemplate(
        subject=subject_name(common_name, organizations),
        public_key=public_key,
        not_before=start,
        not_after=end,
        is_ca=False,
        dns_names=dns,
        ip_addresses=ips,
        usages=tuple(dict.fromkeys(usages)),
    )


def _authority_key_identifier(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    try:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key())  # type: ignore[arg-type]
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def sign(
    template: CertificateTemplate, *, issuer: x509.Certificate | None, signer_key: PrivateKey
) -> x509.Certificate:
    """Sign ``template`` as ``issuer`` with ``signer_key``; ``issuer=None`` means self-signed.

    The signer key is deliberately *not* checked against the issuer certificate: the cert-manager
    emulation must be able to reproduce a CA Secret whose ``tls.key`` does not match ``tls.crt``.
    """
    if issuer is None and not same_public_key(signer_key, template.public_key):
        raise TemplateError("a self-signed certificate must be signed with its own key")
    builder = (
        x509.CertificateBuilder()
        .subject_name(template.subject)
        .issuer_name(template.subject if issuer is None else issuer.subject)
        .public_key(template.public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(template.not_before)
        .not_valid_after(template.not_after)
        .add_extension(
            x509.BasicConstraints(ca=template.is_ca, path_length=template.path_length), critical=True
        )
    )
    encipher = "key encipherment" in template.usages
    builder = builder.add_extension(
        x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=encipher and not template.is_ca,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=template.is_ca,
            crl_sign=template.is_ca,
            encipher_only=False,
            decipher_only=False,
        ),
        critical=True,
    )
    if template.is_ca:
        if template.name_constraints is not None:
            builder = builder.add_extension(template.name_constraints, critical=True)
    else:
        ekus = [EXTENDED_KEY_USAGES[u] for u in template.usages if u in EXTENDED_KEY_USAGES]
        builder = builder.add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
        names: list[x509.GeneralName] = [x509.DNSName(d) for d in template.dns_names]
        names += [x509.IPAddress(ip) for ip in template.ip_addresses]
        if names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(names), critical=len(template.subject) == 0
            )
    builder = builder.add_extension(
        x509.SubjectKeyIdentifier.from_public_key(template.public_key), critical=False
    )
    if issuer is not None:
        builder = builder.add_extension(_authority_key_identifier(issuer), critical=False)
    return builder.sign(signer_key, signature_hash(signer_key))
