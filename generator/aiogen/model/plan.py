"""The Plan: the one resolved model that render, rollout check, simulate and timeline consume.

Plain frozen records (`aiogen.model.record`: frozen dataclasses, made at a fifth of the start-up
cost) with every default applied, every name derived and every cross-reference resolved
(`aiogen.resolve` builds it from the Topology). Nothing downstream re-derives a name or re-reads
the spec.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Literal

from aiogen.model.phases import Phase
from aiogen.model.problems import Problem
from aiogen.model.record import field, record

if TYPE_CHECKING:
    from aiogen.pki.pem import CertSummary

GROUP = "cert-manager.io"
SELF_SIGNED_ISSUER = "aiogen-selfsigned"
# where cert-manager and trust-manager are installed (their Helm charts, AIO docs); aiogen never renders it
CERT_MANAGER_NAMESPACE = "cert-manager"


@record
class Namespaces:
    aio: str
    trust: str
    cluster_resource: str


@record
class IssuerRef:
    name: str
    kind: Literal["Issuer", "ClusterIssuer"]
    group: str = GROUP


@record
class InClusterCA:
    """A CA `Certificate` that cert-manager issues and renews in the cluster."""

    certificate_name: str
    secret_name: str
    namespace: str
    common_name: str
    organization: str
    duration: timedelta
    renew_before: timedelta
    key_algorithm: str
    rotation_policy: str
    issuer_ref: IssuerRef


@record
class RootCA:
    """A root generation: pinned by its PEM, or bootstrapped in-cluster (per cluster)."""

    name: str
    certificate: CertSummary | None  # known public certificate (pinned)
    in_cluster: InClusterCA | None  # cert-manager creates it (selfSigned)

    @property
    def pinned(self) -> bool:
        return self.certificate is not None

    @property
    def key_algorithm(self) -> str | None:
        if self.certificate is not None:
            return self.certificate.key_algorithm
        return self.in_cluster.key_algorithm if self.in_cluster else None


@record
class KeyVaultSync:
    """ServiceAccount + SecretProviderClass + SecretSync producing a kubernetes.io/tls Secret."""

    namespace: str
    service_account: str
    provider_class: str
    secret_name: str
    vault: str
    certificate_secret: str
    key_secret: str
    client_id: str
    tenant_id: str


@record
class Signer:
    """One CA generation the cluster's CA issuer can sign with (its keypair Secret)."""

    generation: str
    role: Literal["root", "intermediate"]
    source: Literal["in-cluster", "key-vault", "secret"]
    root: RootCA
    secret_name: str
    namespace: str
    key_vault: KeyVaultSync | None = None
    in_cluster: InClusterCA | None = None  # in-cluster intermediate (an in-cluster root is root.in_cluster)
    chain: tuple[CertSummary, ...] = ()  # known public certs of the signer (intermediates, child first)

    @property
    def key_algorithm(self) -> str | None:
        if self.role == "root":
            return self.root.key_algorithm
        if self.in_cluster is not None:
            return self.in_cluster.key_algorithm
        return self.chain[0].key_algorithm if self.chain else None

    @property
    def max_child_duration(self) -> timedelta | None:
        """Longest child lifetime that cannot outlive this signer (issuer.renewBefore rule)."""
        ca = self.in_cluster if self.role == "intermediate" else self.root.in_cluster
        return ca.renew_before if ca else None


@record
class AutomaticTls:
    issuer_ref: IssuerRef
    duration: timedelta
    renew_before: timedelta
    key_algorithm: str
    rotation_policy: str
    secret_name: str
    san_dns: tuple[str, ...]
    san_ip: tuple[str, ...]


@record
class ManualTls:
    secret_ref: str


@record
class ListenerPort:
    port: int
    node_port: int | None
    protocol: str
    authentication: Literal["x509", "serviceAccountToken", "none"]
    authentication_ref: str | None
    tls: AutomaticTls | ManualTls | None


@record
class Listener:
    name: str
    namespace: str
    broker_ref: str
    service_name: str
    service_type: str
    ports: tuple[ListenerPort, ...]


@record
class LabelSelector:
    match_labels: tuple[tuple[str, str], ...]
    match_expressions: tuple[tuple[str, str, tuple[str, ...]], ...]


@record
class Bundle:
    """A trust-manager Bundle; its target ConfigMap takes the Bundle's name."""

    name: str
    key: str
    selector: LabelSelector
    population: str  # who reads it, for messages: "the AIO namespace", "namespaces labelled ..."


@record
class ClientRoot:
    name: str
    certificate: CertSummary
    max_leaf_lifetime: timedelta | None


@record
class ClientAuth:
    """X.509 client authentication: a BrokerAuthentication and its client-CA ConfigMap."""

    name: str
    namespace: str
    config_map: str
    key: str
    roots: tuple[ClientRoot, ...]  # trusted in the current phase
    authorization_attributes: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...]
    service_account_token_fallback: bool


@record
class TrustSettings:
    """What `az iot ops create --trust-settings` and ARM `trustConfig` must say."""

    config_map_name: str
    config_map_key: str
    issuer_kind: str
    issuer_name: str

    def cli_arguments(self) -> str:
        return (
            f"--trust-settings configMapName={self.config_map_name} configMapKey={self.config_map_key} "
            f"issuerKind={self.issuer_kind} issuerName={self.issuer_name}"
        )


@record
class RotationState:
    name: str
    kind: Literal["serverRoot", "clientRoot", "intermediate"]
    from_: str | None
    to: str | None
    phase: Phase
    started: tuple[tuple[Phase, date], ...]
    min_dwell: timedelta
    clusters: tuple[str, ...]  # clusters it moves
    # clientRoot: longest device certificate lifetime under `from` (its maxLeafLifetime). After
    # retire the old root is gone from every ClientAuth, yet the rollout check still needs this
    # to know when its last device certificate expires.
    from_max_leaf_lifetime: timedelta | None = None

    def started_at(self, phase: Phase) -> date | None:
        return dict(self.started).get(phase)


@record
class Cluster:
    name: str
    mode: Literal["single-root", "intermediate"]
    namespaces: Namespaces
    issuer: IssuerRef
    issuer_namespace: str | None  # Issuer: the AIO namespace; ClusterIssuer: None
    ca_namespace: str  # where the CA Secrets live (cluster resource namespace or the AIO namespace)
    signer: Signer  # signs leaves now
    signers: tuple[Signer, ...]  # every generation whose material is present
    server_roots: tuple[RootCA, ...]  # roots every client of this cluster trusts now
    pinned_config_map: str
    aio_bundle: Bundle
    client_bundles: tuple[Bundle, ...]
    client_auth: ClientAuth | None
    listeners: tuple[Listener, ...]
    trust_settings: TrustSettings
    rotations: tuple[RotationState, ...]
    created_namespaces: tuple[str, ...] = ()  # Namespace objects aiogen renders (the AIO namespace, unless opted out)
    broker_resources: Literal["kubernetes", "azure"] = "kubernetes"  # BrokerListener objects, or an ARM template

    @property
    def in_cluster_roots(self) -> tuple[RootCA, ...]:
        seen: dict[str, RootCA] = {}
        for signer in self.signers:
            if signer.root.in_cluster is not None:
                seen.setdefault(signer.root.name, signer.root)
        return tuple(seen[n] for n in sorted(seen))

    @property
    def longest_leaf(self) -> timedelta:
        durations = [p.tls.duration for lst in self.listeners for p in lst.ports if isinstance(p.tls, AutomaticTls)]
        return max(durations, default=timedelta(0))


@record
class Plan:
    name: str
    clusters: tuple[Cluster, ...]
    rotations: tuple[RotationState, ...]
    warnings: tuple[Problem, ...] = field(default=())

    def cluster(self, name: str) -> Cluster:
        for cluster in self.clusters:
            if cluster.name == name:
                return cluster
        raise KeyError(name)

    def rotation(self, name: str) -> RotationState | None:
        """The rotation of that name, if the spec has one."""
        return next((r for r in self.rotations if r.name == name), None)
