"""What is in a ``kubernetes.io/tls`` Secret that cert-manager reads or writes?

``tls.crt`` (a PEM chain, signer first), ``tls.key`` (the first certificate's private key) and
an optional ``ca.crt`` (https://cert-manager.io/docs/usage/certificate/ and
https://cert-manager.io/docs/configuration/ca/). The same shape is both the input of a CA issuer and the output of
every issuance, so one type serves both.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509

from aiogen.pki.pem import parse_certificates


@dataclass(frozen=True, repr=False)
class TLSSecret:
    """The data keys of a TLS Secret, as PEM bytes. ``repr`` counts certificates, never shows the key."""

    tls_crt: bytes
    tls_key: bytes
    ca_crt: bytes | None = None

    def __repr__(self) -> str:
        ca = "absent" if self.ca_crt is None else f"{_count(self.ca_crt)} cert(s)"
        return f"TLSSecret(tls.crt: {_count(self.tls_crt)} cert(s), ca.crt: {ca})"

    def data(self) -> dict[str, bytes]:
        """The Secret's ``data`` keys, as Kubernetes names them."""
        out = {"tls.crt": self.tls_crt, "tls.key": self.tls_key}
        if self.ca_crt is not None:
            out["ca.crt"] = self.ca_crt
        return out

    @property
    def certificates(self) -> list[x509.Certificate]:
        """``tls.crt`` parsed, in file order."""
        return parse_certificates(self.tls_crt, source="tls.crt")

    @property
    def certificate(self) -> x509.Certificate:
        """The first certificate of ``tls.crt``: the one ``tls.key`` belongs to."""
        return self.certificates[0]

    @property
    def ca_certificates(self) -> list[x509.Certificate]:
        """``ca.crt`` parsed (empty when absent)."""
        return [] if self.ca_crt is None else parse_certificates(self.ca_crt, source="ca.crt")


def _count(pem: bytes) -> int:
    return pem.count(b"-----BEGIN CERTIFICATE-----")
