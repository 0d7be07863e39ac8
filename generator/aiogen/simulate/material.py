"""What would each cluster's CA Secrets, server certificates and devices hold? A throwaway PKI.

Built from a Plan with real keys, never from real key material:

* a root cert-manager bootstraps in-cluster is issued by the SelfSigned issuer emulation, once per
  cluster (each cluster bootstraps its own: ``plan.py`` keeps in-cluster roots per cluster);
* a root, intermediate or client root known only by its public certificate (its key is offline,
  or in Key Vault) is *stood in for*: a fresh certificate with the same subject, validity, key
  algorithm and path length, signed by the stand-in of its issuer, so chains link exactly as the
  real ones do;
* a brought-in intermediate whose certificate the spec does not give (Key Vault without
  ``certificate``) is stood in for under the cluster's root, named after its Secret, valid as
  long as the root;
* every listener certificate is issued from its CA Secret by the emulation of cert-manager's CA
  issuer (`aiogen.pki.issuance`): ``tls.crt`` = leaf + intermediates, never the root
  (https://cert-manager.io/docs/configuration/ca/).

A stand-in whose real validity has not begun yet keeps its lifetime but is moved to start a day
before the simulation clock, so that a handshake can run today; dates are the timeline's subject
(``aiogen timeline``). Keys are generated once per CA generation and cached; leaves get fresh EC
keys, while RSA leaf keys are drawn from one pool per size (RSA generation is slow, and which key
a throwaway leaf has changes no validation outcome).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from aiogen.model.plan import AutomaticTls, ClientRoot, Cluster, RootCA, Signer
from aiogen.pki import certificate_template as templates
from aiogen.pki import issuance
from aiogen.pki.authority import CertificateAuthority, IssuanceRefused, IssuedCertificate
from aiogen.pki.chain import pem_of
from aiogen.pki.keys import KeySpec, PrivateKey
from aiogen.pki.pem import CertSummary
from aiogen.pki.tls_secret import TLSSecret
from aiogen.rollout.schedule import DEFAULT_DEVICE_LIFETIME
from aiogen.simulate import stand_in

# Key algorithms the spec allows but aiogen.pki does not generate; the simulation uses the
# nearest one of the same family and says so.
_NEAREST = {"Rsa8192": KeySpec.Rsa4096}  # keys the simulation makes: an 8192-bit key takes many seconds


class MaterialError(Exception):
    """The material cannot be built; the message says why, as cert-manager (or the CA) would."""


@dataclass(frozen=True)
class ServerCertificate:
    """What cert-manager wrote into a listener's Secret."""

    secret: TLSSecret
    chain: tuple[x509.Certificate, ...]  # tls.crt parsed: leaf, then intermediates
    signer: str  # the CA generation that signed it


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


class ThrowawayPki:
    """Every CA, listener certificate and device certificate the simulation needs, made once.

    ``clock`` is when everything is issued (cert-manager's ``now``). ``names`` maps each
    certificate's SHA-256 to what the spec calls it, for messages.
    """

    def __init__(self, clock: datetime) -> None:
        self.clock = templates.utc(clock)
        self.names: dict[str, str] = {}
        self._notes: dict[str, list[str]] = {}
        self._cas: dict[tuple[str, ...], CertificateAuthority] = {}
        self._secrets: dict[tuple[str, ...], TLSSecret] = {}
        self._leaves: dict[tuple[str, ...], ServerCertificate | MaterialError] = {}
        self._devices: dict[str, IssuedCertificate] = {}
        self._rsa_pool: dict[KeySpec, PrivateKey] = {}

    # -- keys ----------------------------------------------------------------------------------

    def key_spec(self, algorithm: str | None, what: str) -> KeySpec:
        if algorithm is None:
            return KeySpec.Ec256
        if algorithm in _NEAREST:
            nearest = _NEAREST[algorithm]
            self._note(f"{algorithm} keys the simulation makes stood in with {nearest.value} (as strong for path "
                       "validation; an 8192-bit key takes many seconds to make)", what)
            return nearest
        try:
            return KeySpec.parse(algorithm)
        except ValueError:
            self._note(f"unknown key algorithm {algorithm}; stood in with Ec256", what)
            return KeySpec.Ec256

    def _leaf_key(self, spec: KeySpec) -> PrivateKey:
        if spec.family == "EC":
            return spec.generate()
        if spec not in self._rsa_pool:
            self._rsa_pool[spec] = spec.generate()
        return self._rsa_pool[spec]

    def _note(self, text: str, subject: str = "") -> None:
        """Record a simplification; notes with the same text are listed once with every subject."""
        subjects = self._notes.setdefault(text, [])
        if subject and subject not in subjects:
            subjects.append(subject)

    @property
    def notes(self) -> list[str]:
        out = []
        for text, subjects in self._notes.items():
            if not subjects:
                out.append(text)
                continue
            shown = ", ".join(subjects[:6]) + (f" and {len(subjects) - 6} more" if len(subjects) > 6 else "")
            out.append(f"{text}: {shown}")
        return out

    # -- CAs -----------------------------------------------------------------------------------

    def root(self, cluster: Cluster, root: RootCA) -> CertificateAuthority:
        """The cluster's view of a root: a fleet-wide stand-in, or its own in-cluster bootstrap."""
        if root.certificate is not None:
            return self._stand_in(("root", root.name, root.certificate.sha256), root.certificate, None,
                                  f"root {root.name}")
        key = ("in-cluster-root", cluster.name, root.name)
        if key not in self._cas:
            assert root.in_cluster is not None
            ca = root.in_cluster
            private_key = self.key_spec(ca.key_algorithm, f"root {root.name}").generate()
            spec = issuance.CertificateSpec(common_name=ca.common_name, organizations=(ca.organization,),
                                            is_ca=True, duration=ca.duration)
            try:
                secret = issuance.issue_self_signed(spec, now=self.clock, private_key=private_key)
            except issuance.IssuanceFailed as error:
                raise MaterialError(f"cert-manager cannot bootstrap root {root.name}: {error.message}") from None
            self._secrets[key] = secret
            self._cas[key] = self._remember(CertificateAuthority(secret.certificate, private_key),
                                            f"root {root.name}")
        return self._cas[key]

    def client_root(self, root: ClientRoot) -> CertificateAuthority:
        return self._stand_in(("client-root", root.name, root.certificate.sha256), root.certificate, None,
                              f"client root {root.name}")

    def ca_secret(self, cluster: Cluster, signer: Signer) -> TLSSecret:
        """The CA issuer's Secret for ``signer`` (https://cert-manager.io/docs/configuration/ca/)."""
        key = ("signer", cluster.name, signer.generation)
        if key in self._secrets:
            return self._secrets[key]
        root = self.root(cluster, signer.root)
        if signer.role == "root":
            if signer.root.in_cluster is not None:  # the SelfSigned issuer's Secret: tls.crt = ca.crt = root
                secret = self._secrets[("in-cluster-root", cluster.name, signer.root.name)]
            else:  # brought in by Key Vault or a Secret: tls.crt and tls.key only (secretsync.yaml.j2)
                secret = TLSSecret(tls_crt=root.cert_pem, tls_key=root.private_key_pem())
        elif signer.in_cluster is not None:  # an intermediate Certificate issued by the root's CA issuer
            ca = signer.in_cluster
            private_key = self.key_spec(ca.key_algorithm, f"intermediate {signer.generation}").generate()
            spec = issuance.CertificateSpec(common_name=ca.common_name, organizations=(ca.organization,),
                                            is_ca=True, duration=ca.duration)
            root_secret = self._secrets.get(("in-cluster-root", cluster.name, signer.root.name))
            if root_secret is None:
                raise MaterialError(f"intermediate {signer.generation} needs an in-cluster root to issue it")
            try:
                secret = issuance.issue_from_ca_secret(root_secret, spec, now=self.clock, private_key=private_key)
            except issuance.IssuanceFailed as error:
                raise MaterialError(f"cert-manager cannot issue intermediate {signer.generation}: "
                                    f"{error.message} ({error.reason})") from None
            self._remember_cert(secret.certificate, f"intermediate {signer.generation}")
        else:  # brought in: tls.crt = the intermediate chain without the root, tls.key
            parent = root
            chain: list[CertificateAuthority] = []
            known = signer.chain or (self._unknown_intermediate(signer, root),)
            for index, summary in enumerate(reversed(known)):
                label = f"intermediate {signer.generation}" if index == len(known) - 1 else \
                    f"CA {summary.common_name or summary.subject} above {signer.generation}"
                parent = self._stand_in(("intermediate", cluster.name, signer.generation, summary.sha256),
                                        summary, parent, label)
                chain.append(parent)
            secret = TLSSecret(tls_crt=parent.chain_pem, tls_key=parent.private_key_pem())
        self._secrets[key] = secret
        return secret

    def _unknown_intermediate(self, signer: Signer, root: CertificateAuthority) -> CertSummary:
        self._note("intermediates without a certificate in the spec, stood in under their root with CN = their "
                   "Secret name, valid as long as the root", signer.generation)
        cert = root.certificate
        return CertSummary(
            subject=f"CN={signer.generation}", common_name=signer.generation, issuer=cert.subject.rfc4514_string(),
            not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc, is_ca=True, path_length=None,
            key_family="EC", key_algorithm=signer.key_algorithm or signer.root.key_algorithm or "Ec256",
            self_signed=False, sha256=f"unknown:{signer.generation}", pem="",
        )

    def _stand_in(self, key: tuple[str, ...], real: CertSummary, parent: CertificateAuthority | None,
                  label: str) -> CertificateAuthority:
        """A fresh CA with ``real``'s subject, validity, algorithm and path length, under ``parent``."""
        if key in self._cas:
            return self._cas[key]
        subject = x509.load_pem_x509_certificate(real.pem.encode("ascii")).subject if real.pem else \
            templates.subject_name(real.common_name)
        not_before, not_after = real.not_before, real.not_after
        if parent is not None:  # keep the child inside its (possibly moved) stand-in parent
            not_before = max(not_before, parent.certificate.not_valid_before_utc)
            not_after = min(not_after, parent.certificate.not_valid_after_utc)
        if not_before > self.clock:
            lifetime = not_after - not_before
            not_before = self.clock - timedelta(days=1)
            not_after = not_before + lifetime
            if parent is not None:
                not_after = min(not_after, parent.certificate.not_valid_after_utc)
            self._note("certificates not valid yet, stood in with the same lifetime starting yesterday so that a "
                       "handshake can run today", f"{label} (from {real.not_before.date().isoformat()})")
        if real.pem:
            cert, private_key = self._faithful(real, parent, label, templates.utc(not_before),
                                               templates.utc(not_after))
        else:
            private_key = self.key_spec(real.key_algorithm, label).generate()
            template = templates.CertificateTemplate(
                subject=subject, public_key=private_key.public_key(), not_before=templates.utc(not_before),
                not_after=templates.utc(not_after), is_ca=True, path_length=real.path_length,
            )
            signer_key = private_key if parent is None else parent.private_key
            cert = templates.sign(template, issuer=None if parent is None else parent.certificate,
                                  signer_key=signer_key)
        parents = () if parent is None else (parent.certificate, *parent.parents)
        ca = self._remember(CertificateAuthority(cert, private_key, parents), label)
        self._cas[key] = ca
        return ca

    def _faithful(self, real: CertSummary, parent: CertificateAuthority | None, label: str, not_before: datetime,
                  not_after: datetime) -> tuple[x509.Certificate, PrivateKey]:
        """A stand-in keeping every property path validation reads (`aiogen.simulate.stand_in`)."""
        original = x509.load_pem_x509_certificate(real.pem.encode("ascii"))
        try:
            private_key = stand_in.stand_in_key(original)
            cert = stand_in.stand_in_certificate(
                original, private_key, issuer=None if parent is None else parent.certificate,
                issuer_key=private_key if parent is None else parent.private_key,
                not_before=not_before, not_after=not_after)
        except stand_in.CannotStandIn as error:
            self._note("cannot be stood in, so the simulation fails closed", f"{label} ({error})")
            raise MaterialError(f"cannot stand in for {label}: {error}; the simulation cannot judge a chain "
                                "it cannot reproduce (docs/simulate.md)") from None
        return cert, private_key

    def _remember(self, ca: CertificateAuthority, label: str) -> CertificateAuthority:
        self._remember_cert(ca.certificate, label)
        return ca

    def _remember_cert(self, cert: x509.Certificate, label: str) -> None:
        self.names.setdefault(fingerprint(cert), label)

    # -- leaves --------------------------------------------------------------------------------

    def server_certificate(self, cluster: Cluster, signer: Signer, listener: str, port: int,
                           tls: AutomaticTls) -> ServerCertificate:
        """The listener port's certificate, issued by ``signer`` as cert-manager's CA issuer would.

        Raises `MaterialError` with cert-manager's reason when it would not issue.
        """
        key = (cluster.name, signer.generation, listener, str(port), ",".join(tls.san_dns), ",".join(tls.san_ip),
               str(tls.duration), tls.key_algorithm)
        if key not in self._leaves:
            self._leaves[key] = self._issue_server(cluster, signer, listener, port, tls)
        found = self._leaves[key]
        if isinstance(found, MaterialError):
            raise found
        return found

    def _issue_server(self, cluster: Cluster, signer: Signer, listener: str, port: int,
                      tls: AutomaticTls) -> ServerCertificate | MaterialError:
        try:
            ca_secret = self.ca_secret(cluster, signer)
        except MaterialError as error:
            return error
        spec = issuance.CertificateSpec(
            dns_names=tls.san_dns, ip_addresses=tls.san_ip, usages=("server auth",), duration=tls.duration,
        )
        key = self._leaf_key(self.key_spec(tls.key_algorithm, f"listener {listener}:{port}"))
        try:
            secret = issuance.issue_from_ca_secret(ca_secret, spec, now=self.clock, private_key=key)
        except issuance.IssuanceFailed as error:
            if error.reason == "BadConfig" and not tls.san_dns and not tls.san_ip:
                return MaterialError("no certificate: the listener has no SAN, and cert-manager refuses a "
                                     "Certificate without commonName or SAN (https://cert-manager.io/docs/usage/certificate/)")
            return MaterialError(f"no certificate: cert-manager's CA issuer fails with {error.reason}: "
                                 f"{error.message}")
        # tls.crt as cert-manager's emulation just wrote it: no user input, so no need for
        # `aiogen.pki.pem`'s checks (which TLSSecret.certificates runs), a third of a leaf's cost.
        chain = tuple(x509.load_pem_x509_certificates(secret.tls_crt))
        self._remember_cert(chain[0], f"listener {listener}:{port} certificate")
        return ServerCertificate(secret, chain, signer.generation)

    def device(self, root: ClientRoot) -> IssuedCertificate:
        """A device certificate (client auth) issued under ``root``'s stand-in."""
        if root.name not in self._devices:
            ca = self.client_root(root)
            lifetime = root.max_leaf_lifetime or DEFAULT_DEVICE_LIFETIME
            not_after = min(self.clock + lifetime, ca.certificate.not_valid_after_utc)
            spec = KeySpec.Ec256 if ca.key_spec.family == "EC" else KeySpec.Rsa2048
            try:
                device = ca.issue_leaf(f"{root.name} device", not_before=max(self.clock,
                                       ca.certificate.not_valid_before_utc), not_after=not_after,
                                       usages=("client auth",), key=self._leaf_key(spec))
            except (IssuanceRefused, templates.TemplateError) as error:
                raise MaterialError(f"no device certificate under client root {root.name}: {error}") from None
            self._remember_cert(device.certificate, f"device certificate of {root.name}")
            self._devices[root.name] = device
        return self._devices[root.name]

    # -- trust ---------------------------------------------------------------------------------

    def trust_bundle(self, cluster: Cluster, roots: Sequence[RootCA]) -> bytes:
        """What the Bundle's ConfigMaps and ca-bundle.pem hold: the roots, nothing else (https://cert-manager.io/docs/trust/trust-manager/)."""
        return pem_of([self.root(cluster, root).certificate for root in roots])

    def client_ca(self, roots: Sequence[ClientRoot]) -> bytes:
        """The broker's client-CA ConfigMap (key client_ca.pem)."""
        return pem_of([self.client_root(root).certificate for root in roots])
