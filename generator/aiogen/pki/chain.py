"""Is this a single unbroken chain, and what would cert-manager put in ``tls.crt`` and ``ca.crt``?

A port of cert-manager's ``ParseSingleCertificateChain`` (``pkg/util/pki/parse_certificate_chain.go``,
https://cert-manager.io/docs/configuration/ca/): dedupe by DER, glue single-certificate chains together while some
chain's top is signed by another chain's bottom, and fail with "certificate chain is malformed or
broken" if more than one chain is left. The result:

* ``chain`` (ChainPEM): leaf first, then every intermediate up to the top. A self-signed root is
  never included (RFC 5246 §7.4.2: the client must already hold it); a top that is not
  self-signed is.
* ``ca`` (CAPEM): the self-signed root if the chain reaches one, else the highest certificate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

BROKEN_CHAIN = "certificate chain is malformed or broken"


class ChainError(ValueError):
    """The certificates do not form one unbroken chain."""


@dataclass(frozen=True)
class PEMBundle:
    """cert-manager's ``PEMBundle``: the chain to serve and the one CA certificate above it."""

    chain: tuple[x509.Certificate, ...]
    ca: x509.Certificate | None

    @property
    def chain_pem(self) -> bytes:
        return pem_of(self.chain)

    @property
    def ca_pem(self) -> bytes | None:
        return None if self.ca is None else pem_of([self.ca])


def pem_of(certs: Sequence[x509.Certificate]) -> bytes:
    """Concatenated canonical PEM, one block per certificate, in the order given."""
    return b"".join(cert.public_bytes(Encoding.PEM) for cert in certs)


def check_signature_from(child: x509.Certificate, parent: x509.Certificate) -> bool:
    """Go's ``child.CheckSignatureFrom(parent)``: the parent must be a CA allowed to sign certs.

    RFC 5280 §4.2.1.9: a v3 certificate without BasicConstraints ``CA:TRUE`` must not verify
    certificate signatures; §4.2.1.3: if KeyUsage is present it must include keyCertSign. Names
    are not compared here (``tryMergeChain`` compares them separately).
    """
    try:
        constraints = parent.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        if parent.version == x509.Version.v3:
            return False
    else:
        if not constraints.ca:
            return False
    try:
        usage = parent.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        pass
    else:
        if not usage.key_cert_sign:
            return False
    try:
        child.verify_directly_issued_by(parent)
    except ValueError:
        # verify_directly_issued_by also compares names; tryMergeChain has already done so
        # byte-for-byte, so a ValueError here means the signature algorithm does not fit the key.
        return False
    except Exception:  # InvalidSignature, UnsupportedAlgorithm, TypeError
        return False
    return True


def is_ca(cert: x509.Certificate) -> bool:
    """BasicConstraints CA:TRUE (RFC 5280 §4.2.1.9); a certificate without the extension is not a CA."""
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def common_name(cert: x509.Certificate) -> str:
    """The subject's CN, else the whole subject (RFC 4514): how a certificate is named in messages."""
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()


def is_self_signed(cert: x509.Certificate) -> bool:
    """Go's ``isSelfSignedCertificate``: the certificate's own key verifies it, as a CA."""
    return cert.issuer.public_bytes() == cert.subject.public_bytes() and check_signature_from(cert, cert)


class _Node:
    __slots__ = ("cert", "issuer")

    def __init__(self, cert: x509.Certificate) -> None:
        self.cert = cert
        self.issuer: _Node | None = None

    def root(self) -> _Node:
        node = self
        while node.issuer is not None:
            node = node.issuer
        return node


def _links(child: x509.Certificate, parent: x509.Certificate) -> bool:
    names_link = child.issuer.public_bytes() == parent.subject.public_bytes()
    return names_link and check_signature_from(child, parent)


def _try_merge(a: _Node, b: _Node) -> _Node | None:
    b_root = b.root()
    if _links(b_root.cert, a.cert):
        b_root.issuer = a
        return b
    a_root = a.root()
    if _links(a_root.cert, b.cert):
        a_root.issuer = b
        return a
    return None


def parse_single_chain(certs: Sequence[x509.Certificate]) -> PEMBundle:
    """Build the one chain ``certs`` form (in any order, duplicates allowed) or raise `ChainError`."""
    if not certs:
        raise ChainError("no certificates given")
    unique = sorted({cert.public_bytes(Encoding.DER): cert for cert in certs}.items())
    chains = [_Node(cert) for _, cert in unique]
    while len(chains) > 1:
        last = chains.pop()
        for index, chain in enumerate(chains):
            merged = _try_merge(last, chain)
            if merged is not None:
                chains[index] = merged
                break
        else:
            raise ChainError(BROKEN_CHAIN)
    return _to_bundle(chains[0])


def _to_bundle(head: _Node) -> PEMBundle:
    served: list[x509.Certificate] = []
    node = head
    while node.issuer is not None:
        served.append(node.cert)
        node = node.issuer
    top = node.cert
    if served and not is_self_signed(top):
        served.append(top)
    if not served:
        # A single certificate: it is the chain; it is also the CA only if self-signed.
        return PEMBundle(chain=(top,), ca=top if is_self_signed(top) else None)
    return PEMBundle(chain=tuple(served), ca=top)
