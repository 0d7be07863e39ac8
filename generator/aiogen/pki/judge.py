"""Would an OpenSSL-based TLS client accept this chain? Decided from the certificates alone.

The clients of an AIO broker (Python ``ssl``, ``openssl s_client``, mosquitto, the broker itself
for client certificates) all run OpenSSL 3 at its default TLS security level 2 and verify with
``X509_verify_cert``. Each check here is one of its rules, with the X509_V_ERR number and text the
real stack prints (https://docs.openssl.org/3.0/man1/openssl-verification-options/), so a
finding can be proven with ``openssl verify -purpose sslserver -auth_level 2``:

* CA-ness: every issuing certificate needs basicConstraints cA=TRUE, and keyUsage (if present)
  with keyCertSign (79, 26, 32); the trust anchor may also be a v1 root;
* purpose: an extendedKeyUsage anywhere in the chain must include serverAuth (clientAuth for a
  client chain); anyExtendedKeyUsage does not count in OpenSSL 3 (26);
* pathLenConstraint, not counting self-issued certificates (RFC 5280 §6.1.4 (l)) (25);
* name constraints against every name the leaf holds (SANs, the subject, and a hostname-like CN
  when there is no DNS SAN), in-cluster names included (47, 48, 51);
* unknown critical extensions (34); validity (9, 10);
* security level 2 (https://docs.openssl.org/3.0/man3/SSL_CTX_set_security_level/): every key at
  least 112 bits (RSA 2048, a 224-bit curve; P-224 passes, P-192 does not) (66, 67), and every
  signature but the trust anchor's own made with at least SHA-224 (SHA-1 and MD5 fail) (68).

A chain is ordered leaf first, trust anchor last. `judge_issuers` judges the CAs above a leaf that
does not exist yet, from the names the leaf will request; `judge_chain` a complete chain.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

from aiogen.model.record import record

Purpose = Literal["sslserver", "sslclient"]
LeafName = x509.GeneralName

# OpenSSL X509_V_ERR_* numbers and their texts (crypto/x509/x509_txt.c)
OPENSSL_TEXT = {
    9: "certificate is not yet valid",
    10: "certificate has expired",
    25: "path length constraint exceeded",
    26: "unsuitable certificate purpose",
    32: "key usage does not include certificate signing",
    34: "unhandled critical extension",
    47: "permitted subtree violation",
    48: "excluded subtree violation",
    51: "unsupported name constraint type",
    66: "EE certificate key too weak",
    67: "CA certificate key too weak",
    68: "CA signature digest algorithm too weak",
    79: "invalid CA certificate",
}

_HINTS = {
    9: "wait until it is valid, or check the clock of the machine that issued it",
    10: "renew it and replace it everywhere",
    25: "reissue the CA with a larger pathLenConstraint (or none), or issue the lower CA from a CA that allows it",
    32: "reissue the CA with keyUsage keyCertSign, cRLSign",
    34: "reissue it without that critical extension, or with it marked non-critical",
    47: "reissue the CA with permitted names covering every SAN the listeners request "
    "(aiogen ca intermediate --permitted-dns ...), or drop those names from the listener's SANs",
    48: "reissue the CA without that excluded subtree, or drop the name from the listener's SANs",
    51: "reissue the CA with DNS, IP, email, URI or directory-name constraints only",
    66: "use an RSA key of at least 2048 bits or an EC key on P-256/P-384",
    67: "reissue the CA with an RSA key of at least 2048 bits or an EC key on P-256/P-384",
    68: "re-sign it with SHA-256 or stronger (OpenSSL's security level 2 refuses SHA-1 and MD5)",
    79: "reissue it as a CA: basicConstraints CA:TRUE and keyUsage keyCertSign, cRLSign",
}
_EKU_HINT = ("reissue it with extendedKeyUsage including {want}, or without extendedKeyUsage "
             "(anyExtendedKeyUsage does not satisfy OpenSSL)")


@record
class Refusal:
    """One reason OpenSSL refuses the chain: its error number, at which certificate, and why."""

    code: int  # OpenSSL X509_V_ERR_* number
    depth: int  # 0 = the leaf, as OpenSSL counts
    subject: str
    detail: str
    hint: str
    name: str = ""  # a name constraint refusal: the name refused
    constraint_by: str = ""  # ... and the CA whose constraints refuse it

    @property
    def openssl(self) -> str:
        return OPENSSL_TEXT[self.code]

    def __str__(self) -> str:
        return f"{self.subject!r}: {self.detail}: OpenSSL refuses it with {self.openssl!r} (error {self.code})"


def subject_of(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or "<empty subject>"


def self_issued(cert: x509.Certificate) -> bool:
    """OpenSSL EXFLAG_SI: subject and issuer names are equal (a key-rollover certificate)."""
    return cert.subject == cert.issuer


def _ext(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> x509.ExtensionType | None:
    try:
        return cert.extensions.get_extension_for_oid(oid).value
    except x509.ExtensionNotFound:
        return None


def _refusal(code: int, depth: int, cert: x509.Certificate, detail: str, hint: str | None = None) -> Refusal:
    return Refusal(code, depth, subject_of(cert), detail, hint or _HINTS[code])


# -- security level --------------------------------------------------------------------------------

LEVEL_BITS = {0: 0, 1: 80, 2: 112, 3: 128, 4: 192, 5: 256}
# OpenSSL's security bits of a signature digest; SHA-1 counts 63 so that it fails level 1.
_HASH_BITS = {"md5": 39, "sha1": 63, "sha224": 112, "sha256": 128, "sha384": 192, "sha512": 256,
              "sha3-224": 112, "sha3-256": 128, "sha3-384": 192, "sha3-512": 256}


def key_security_bits(key: object) -> int:
    """OpenSSL's security bits of a public key (RSA per NIST SP 800-57, EC half the order)."""
    if isinstance(key, rsa.RSAPublicKey | dsa.DSAPublicKey):
        size = key.key_size
        for floor, bits in ((15360, 256), (7680, 192), (3072, 128), (2048, 112), (1024, 80)):
            if size >= floor:
                return bits
        return 0
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.curve.key_size // 2
    if isinstance(key, ed25519.Ed25519PublicKey):
        return 128
    if isinstance(key, ed448.Ed448PublicKey):
        return 224
    return 0


def describe_key(key: object) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA-{key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    return type(key).__name__.lstrip("_").replace("PublicKey", "")


def signature_security_bits(cert: x509.Certificate) -> int:
    oid = cert.signature_algorithm_oid.dotted_string
    if oid == "1.3.101.112":  # Ed25519
        return 128
    if oid == "1.3.101.113":  # Ed448
        return 224
    digest = cert.signature_hash_algorithm  # RSA-PSS: the hash of its parameters
    return _HASH_BITS.get(digest.name, 0) if digest is not None else 0


def signature_name(cert: x509.Certificate) -> str:
    return getattr(cert.signature_algorithm_oid, "_name", cert.signature_algorithm_oid.dotted_string)


def _security(certs: Sequence[x509.Certificate], first_depth: int, auth_level: int) -> list[Refusal]:
    need = LEVEL_BITS[auth_level]
    out: list[Refusal] = []
    last = len(certs) - 1
    for index, cert in enumerate(certs):
        depth = first_depth + index
        bits = key_security_bits(cert.public_key())
        if bits < need:
            out.append(_refusal(66 if depth == 0 else 67, depth, cert,
                                f"its {describe_key(cert.public_key())} key has {bits} security bits; "
                                f"OpenSSL's default security level {auth_level} needs {need}"))
        if index == last and self_issued(cert):
            continue  # the trust anchor's own signature is never checked
        sig_bits = signature_security_bits(cert)
        if sig_bits < need:
            out.append(_refusal(68, depth, cert, f"it is signed with {signature_name(cert)} ({sig_bits} security "
                                f"bits); OpenSSL's default security level {auth_level} needs {need}"))
    return out


# -- CA-ness, purpose, pathLen ---------------------------------------------------------------------

_SERVER_EKUS = {ExtendedKeyUsageOID.SERVER_AUTH.dotted_string, "2.16.840.1.113730.4.1", "1.3.6.1.4.1.311.10.3.3"}
_CLIENT_EKUS = {ExtendedKeyUsageOID.CLIENT_AUTH.dotted_string}


def openssl_ca_kind(cert: x509.Certificate) -> int:
    """OpenSSL X509_check_ca(): 0 not a CA, 1 cA=TRUE, 3 v1 self-issued root, 4 keyCertSign without BC."""
    bc = _ext(cert, ExtensionOID.BASIC_CONSTRAINTS)
    ku = _ext(cert, ExtensionOID.KEY_USAGE)
    if isinstance(ku, x509.KeyUsage) and not ku.key_cert_sign:
        return 0
    if isinstance(bc, x509.BasicConstraints):
        return 1 if bc.ca else 0
    if cert.version == x509.Version.v1 and self_issued(cert):
        return 3
    return 4 if ku is not None else 0


def _ca_rules(cert: x509.Certificate, depth: int, anchor: bool) -> list[Refusal]:
    out: list[Refusal] = []
    bc = _ext(cert, ExtensionOID.BASIC_CONSTRAINTS)
    ku = _ext(cert, ExtensionOID.KEY_USAGE)
    kind = openssl_ca_kind(cert)
    if kind == 0 or (not anchor and kind != 1):
        why = ("its keyUsage lacks keyCertSign" if isinstance(ku, x509.KeyUsage) and not ku.key_cert_sign
               else "its basicConstraints say CA:FALSE" if isinstance(bc, x509.BasicConstraints) and not bc.ca
               else "it has no basicConstraints extension")
        out.append(_refusal(79, depth, cert, f"it issues a certificate but is not a valid CA: {why}"))
    if kind == 0:
        out.append(_refusal(26, depth, cert, "it is not a CA for the TLS purpose", _HINTS[79]))
    if isinstance(ku, x509.KeyUsage) and not ku.key_cert_sign:
        out.append(_refusal(32, depth, cert, "its keyUsage lacks keyCertSign"))
    return out


def _purpose(cert: x509.Certificate, depth: int, purpose: Purpose) -> list[Refusal]:
    eku = _ext(cert, ExtensionOID.EXTENDED_KEY_USAGE)
    if not isinstance(eku, x509.ExtendedKeyUsage):
        return []
    have = {oid.dotted_string for oid in eku}
    if have & (_SERVER_EKUS if purpose == "sslserver" else _CLIENT_EKUS):
        return []
    want = "serverAuth" if purpose == "sslserver" else "clientAuth"
    names = ", ".join(sorted(getattr(oid, "_name", oid.dotted_string) for oid in eku))
    extra = " (anyExtendedKeyUsage does not count for OpenSSL)" if "2.5.29.37.0" in have else ""
    return [_refusal(26, depth, cert, f"its extendedKeyUsage [{names}] lacks {want}{extra}",
                     _EKU_HINT.format(want=want))]


def _leaf_rules(leaf: x509.Certificate, purpose: Purpose) -> list[Refusal]:
    ku = _ext(leaf, ExtensionOID.KEY_USAGE)
    out = _purpose(leaf, 0, purpose)
    if isinstance(ku, x509.KeyUsage) and not (ku.digital_signature or ku.key_encipherment or ku.key_agreement):
        out.append(_refusal(26, 0, leaf, "its keyUsage has none of digitalSignature, keyEncipherment, keyAgreement",
                            "reissue it with keyUsage digitalSignature (cert-manager: usages: [digital signature])"))
    return out


def _path_length(issuers: Sequence[x509.Certificate]) -> list[Refusal]:
    """``issuers[i]`` is at depth i + 1; plen counts the non-self-issued CAs between it and the leaf."""
    out: list[Refusal] = []
    below = 0
    for index, cert in enumerate(issuers):
        bc = _ext(cert, ExtensionOID.BASIC_CONSTRAINTS)
        limit = bc.path_length if isinstance(bc, x509.BasicConstraints) and bc.ca else None
        if limit is not None and below > limit:
            out.append(_refusal(25, index + 1, cert, f"its pathLenConstraint is {limit} but {below} "
                                "CA certificate(s) stand between it and the leaf"))
        if not self_issued(cert):
            below += 1
    return out


# -- name constraints ------------------------------------------------------------------------------

def dns_within(name: str, base: str) -> bool:
    """OpenSSL nc_dns: ``contoso.example`` holds itself and its subdomains (at a label boundary),
    ``.contoso.example`` only its subdomains; case-insensitive; a wildcard SAN compared literally."""
    name, base = name.lower(), base.lower()
    if not base:
        return True
    if len(name) > len(base):
        if base[0] != "." and name[len(name) - len(base) - 1] != ".":
            return False
        return name.endswith(base)
    return name == base


def _email_within(mail: str, base: str) -> bool:
    local, _, host = mail.rpartition("@")
    if "@" in base:
        base_local, _, base_host = base.rpartition("@")
        return base_local == local and base_host.lower() == host.lower()
    if base.startswith("."):
        return host.lower().endswith(base.lower())
    return host.lower() == base.lower()


def _ip_within(ip: object, net: object) -> bool:
    if isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address) and \
            isinstance(net, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return ip.version == net.version and ip in net
    return False


def _dn_within(subject: object, base: object) -> bool:
    if not isinstance(subject, x509.Name) or not isinstance(base, x509.Name):
        return False
    mine, theirs = list(subject.rdns), list(base.rdns)
    return len(theirs) <= len(mine) and mine[: len(theirs)] == theirs


def _uri_within(uri: str, base: str) -> bool:
    from urllib.parse import urlsplit

    host = urlsplit(uri).hostname
    return host is not None and dns_within(host, base)


def _within(name: LeafName, base: LeafName) -> bool | None:
    """Is ``name`` inside subtree ``base`` (same type); None if OpenSSL cannot tell."""
    if isinstance(name, x509.DNSName) and isinstance(base, x509.DNSName):
        return dns_within(name.value, base.value)
    if isinstance(name, x509.RFC822Name) and isinstance(base, x509.RFC822Name):
        return _email_within(name.value, base.value)
    if isinstance(name, x509.IPAddress) and isinstance(base, x509.IPAddress):
        return _ip_within(name.value, base.value)
    if isinstance(name, x509.DirectoryName) and isinstance(base, x509.DirectoryName):
        return _dn_within(name.value, base.value)
    if isinstance(name, x509.UniformResourceIdentifier) and isinstance(base, x509.UniformResourceIdentifier):
        return _uri_within(name.value, base.value)
    return None


def shown_name(name: LeafName) -> str:
    if isinstance(name, x509.DirectoryName):
        return f"subject {name.value.rfc4514_string()!r}"
    kind = {x509.DNSName: "DNS name", x509.IPAddress: "IP address", x509.RFC822Name: "email address",
            x509.UniformResourceIdentifier: "URI"}.get(type(name), type(name).__name__)
    return f"{kind} {str(name.value)!r}"


def _subtrees(trees: Sequence[x509.GeneralName] | None, like: LeafName) -> list[x509.GeneralName]:
    return [tree for tree in trees or () if type(tree) is type(like)]


def name_violation(name: LeafName, constraints: x509.NameConstraints) -> tuple[int, str] | None:
    """(OpenSSL error, why) if ``name`` breaks ``constraints``; a type without subtrees is free."""
    permitted = _subtrees(constraints.permitted_subtrees, name)
    excluded = _subtrees(constraints.excluded_subtrees, name)
    if not permitted and not excluded:
        return None
    if _within(name, (permitted or excluded)[0]) is None:
        return 51, f"it constrains {type(name).__name__} names, which OpenSSL does not implement"
    if permitted and not any(_within(name, tree) for tree in permitted):
        allowed = ", ".join(str(tree.value) for tree in permitted)
        return 47, f"{shown_name(name)} is outside its permitted names [{allowed}]"
    for tree in excluded:
        if _within(name, tree):
            return 48, f"{shown_name(name)} is inside its excluded names [{tree.value}]"
    return None


def certificate_names(cert: x509.Certificate, leaf: bool) -> list[LeafName]:
    """Every name NAME_CONSTRAINTS_check looks at: SANs, subject, emailAddress, and a leaf's
    hostname-like CNs when it has no DNS SAN (OpenSSL cn2dnsid)."""
    san = _ext(cert, ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    names: list[LeafName] = list(san) if isinstance(san, x509.SubjectAlternativeName) else []
    out = list(names)
    if len(cert.subject) > 0:
        out.append(x509.DirectoryName(cert.subject))
    for attribute in cert.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS):
        out.append(x509.RFC822Name(str(attribute.value)))
    if leaf and not any(isinstance(n, x509.DNSName) for n in names):
        for attribute in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
            if cn_looks_like_dns(str(attribute.value)):
                out.append(x509.DNSName(str(attribute.value).lower()))
    return out


def cn_looks_like_dns(value: str) -> bool:
    """OpenSSL cn2dnsid(): letters, digits, '_' and inner '-'; at least one inner '.' not next to '.'/'-'."""
    dotted = False
    for index, ch in enumerate(value):
        if ch.isascii() and (ch.isalnum() or ch == "_"):
            continue
        if 0 < index < len(value) - 1:
            if ch == "-":
                continue
            if ch == "." and value[index + 1] not in ".-" and value[index - 1] != "-":
                dotted = True
                continue
        return False
    return dotted


def _name_constraints(issuers: Sequence[x509.Certificate], leaf_names: Sequence[LeafName],
                      leaf_subject: str) -> list[Refusal]:
    out: list[Refusal] = []
    below: list[tuple[int, str, Sequence[LeafName]]] = [(0, leaf_subject, leaf_names)]
    for index, cert in enumerate(issuers[:-1]):
        if not self_issued(cert):
            below.append((index + 1, subject_of(cert), certificate_names(cert, False)))
    for index, ca in enumerate(issuers):
        constraints = _ext(ca, ExtensionOID.NAME_CONSTRAINTS)
        if not isinstance(constraints, x509.NameConstraints):
            continue
        for depth, subject, names in below:
            if depth > index:
                continue
            for name in names:
                found = name_violation(name, constraints)
                if found:
                    code, why = found
                    out.append(Refusal(code, depth, subject, f"the name constraints of {subject_of(ca)!r}: {why}",
                                       _HINTS[code], shown_name(name), subject_of(ca)))
    return out


# -- the rest --------------------------------------------------------------------------------------

# X509_supported_extension() in OpenSSL 3.0 (crypto/x509/v3_purp.c)
_SUPPORTED_CRITICAL = {
    "2.16.840.1.113730.1.1", "2.5.29.15", "2.5.29.17", "2.5.29.19", "2.5.29.32", "2.5.29.37",
    "1.3.6.1.5.5.7.1.7", "1.3.6.1.5.5.7.1.8", "2.5.29.36", "1.3.6.1.5.5.7.1.14", "2.5.29.30", "2.5.29.33",
    "2.5.29.54",
}


def _critical(certs: Sequence[x509.Certificate], first_depth: int) -> Iterator[Refusal]:
    for index, cert in enumerate(certs):
        for extension in cert.extensions:
            if extension.critical and extension.oid.dotted_string not in _SUPPORTED_CRITICAL:
                yield _refusal(34, first_depth + index, cert,
                               f"its critical extension {extension.oid.dotted_string} is unknown to OpenSSL")


def _validity(certs: Sequence[x509.Certificate], first_depth: int, at: datetime) -> Iterator[Refusal]:
    for index, cert in enumerate(certs):
        if at < cert.not_valid_before_utc:
            yield _refusal(9, first_depth + index, cert, f"it is not valid before {cert.not_valid_before_utc:%Y-%m-%d}")
        if at > cert.not_valid_after_utc:
            yield _refusal(10, first_depth + index, cert, f"it expired on {cert.not_valid_after_utc:%Y-%m-%d}")


def judge_issuers(issuers: Sequence[x509.Certificate], purpose: Purpose, leaf_names: Sequence[LeafName],
                  *, leaf_subject: str = "the leaf", at: datetime | None = None,
                  auth_level: int = 2) -> list[Refusal]:
    """Why OpenSSL would refuse every leaf with ``leaf_names`` issued under ``issuers``
    (the leaf's issuer first, the trust anchor last). Depths count the leaf as 0."""
    out: list[Refusal] = []
    for index, cert in enumerate(issuers):
        out += _ca_rules(cert, index + 1, index == len(issuers) - 1)
        out += _purpose(cert, index + 1, purpose)
    out += _path_length(issuers)
    out += _name_constraints(issuers, leaf_names, leaf_subject)
    out += _critical(issuers, 1)
    if at is not None:
        out += _validity(issuers, 1, at)
    out += _security(issuers, 1, auth_level)
    return out


def judge_chain(chain: Sequence[x509.Certificate], purpose: Purpose = "sslserver", *,
                at: datetime | None = None, auth_level: int = 2) -> list[Refusal]:
    """Why OpenSSL would refuse ``chain`` (leaf first, trust anchor last); [] if it accepts it."""
    leaf, issuers = chain[0], chain[1:]
    out = _leaf_rules(leaf, purpose)
    out += list(_critical([leaf], 0))
    if at is not None:
        out += _validity([leaf], 0, at)
    if issuers:
        out += judge_issuers(issuers, purpose, certificate_names(leaf, True), leaf_subject=subject_of(leaf), at=at,
                             auth_level=auth_level)
    out += _security([leaf], 0, auth_level)
    return sorted(out, key=lambda r: (r.depth, r.code))


# -- beyond OpenSSL's verdict ----------------------------------------------------------------------

_TLS_LEAF_CURVES = {"secp256r1", "secp384r1", "secp521r1"}


def key_caution(key: object, leaf: bool) -> str | None:
    """A key OpenSSL level 2 accepts but that is fragile: what to say about it, or None.

    A P-224 or secp256k1 *leaf* key fails the TLS handshake itself (no shared signature
    algorithm), so a leaf on any curve but P-256/384/521 is worse than a caution; callers
    that issue leaves decide by ``leaf``.
    """
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name not in _TLS_LEAF_CURVES:
        if leaf:
            return (f"an EC {key.curve.name} leaf key has no TLS signature algorithm OpenSSL offers; "
                    "the handshake fails with 'no shared cipher'")
        if key.curve.key_size < 256:
            return (f"its EC {key.curve.name} key passes OpenSSL's default security level 2 but not level 3 "
                    "or most other TLS stacks")
        return f"its EC {key.curve.name} key is accepted by OpenSSL but not by WebPKI verifiers"
    return None
