"""The typed Topology: what a user writes (the user-facing schema).

Pydantic v2 models, strict and closed (`extra="forbid"`): a misspelt field is an error, a string
where a number belongs is an error. Field names are the camelCase YAML keys. Defaults that depend
on other fields (names derived from a cluster, a root, an issuer) are applied in `plan.py`, never
here. `schemas/topology.schema.json` is generated from these models (`aiogen schema`).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)
from pydantic.alias_generators import to_camel

from aiogen.model.durations import parse_duration
from aiogen.model.phases import Phase

API_VERSION = "aiogen.io/v1alpha1"


def _duration(value: Any) -> Any:
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, timedelta):
        return value
    raise ValueError("must be a duration string such as 720h, 30d or 1y")


def _date(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError("must be a date in the form YYYY-MM-DD") from None
    raise ValueError("must be a date in the form YYYY-MM-DD")


Duration = Annotated[
    timedelta,
    BeforeValidator(_duration),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^([0-9]+(y|w|d|h|m|s))+$",
            "description": "Go duration (720h, 1h30m) or 30d / 1y; emitted as hours",
        }
    ),
]
Date = Annotated[
    date,
    BeforeValidator(_date),
    WithJsonSchema({"type": "string", "format": "date", "description": "YYYY-MM-DD"}),
]
Port = Annotated[int, Field(ge=1, le=65535)]
KeyAlgorithm = Literal["Ec256", "Ec384", "Ec521", "Rsa2048", "Rsa4096", "Rsa8192"]
RotationPolicy = Literal["Always", "Never"]


class Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=False,
        validate_default=True,
    )


class PrivateKey(Model):
    """Key of a certificate. `rotationPolicy` is always explicit (cert-manager's default changed
    to Always in v1.18; reference/cert-manager.md §1.2)."""

    algorithm: KeyAlgorithm = "Ec256"
    rotation_policy: RotationPolicy = "Always"


class CAPrivateKey(Model):
    """Key of an in-cluster CA. `Never` keeps the CA's identity across renewals (§7.5)."""

    algorithm: KeyAlgorithm = "Ec256"
    rotation_policy: RotationPolicy = "Never"


class Namespaces(Model):
    aio: str = "azure-iot-operations"
    trust: str = Field("cert-manager", description="trust-manager's trust namespace: every Bundle source lives here")
    cluster_resource: str = Field(
        "cert-manager", description="cert-manager's --cluster-resource-namespace: ClusterIssuer CA Secrets live here"
    )
    create: bool = Field(
        True,
        description="render a Namespace object for the AIO namespace (the one namespace only aiogen's objects need "
        "before AIO is installed); false when namespaces are managed elsewhere",
    )


class NamespacesOverride(Model):
    aio: str | None = None
    trust: str | None = None
    cluster_resource: str | None = None
    create: bool | None = None


class Issuer(Model):
    """The CA issuer that signs broker certificates; AIO's trust settings name it."""

    kind: Literal["ClusterIssuer", "Issuer"] = "ClusterIssuer"
    name: str = "aio-ca-issuer"


class IssuerOverride(Model):
    kind: Literal["ClusterIssuer", "Issuer"] | None = None
    name: str | None = None


class Leaf(Model):
    """Broker server certificates (BrokerListener certManagerCertificateSpec)."""

    duration: Duration = timedelta(hours=720)
    renew_before: Duration = timedelta(hours=240)
    private_key: PrivateKey = PrivateKey()


class LeafOverride(Model):
    duration: Duration | None = None
    renew_before: Duration | None = None
    private_key: PrivateKey | None = None


class LabelSelectorRequirement(Model):
    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] = []


class LabelSelector(Model):
    match_labels: dict[str, str] = {}
    match_expressions: list[LabelSelectorRequirement] = []


class AioTrustBundle(Model):
    """The Bundle whose ConfigMap AIO's trust settings name (target: the AIO namespace only)."""

    name: str = "aio-trust-bundle"
    key: str = "ca.crt"


class ClientTrustBundle(Model):
    """A Bundle for in-cluster MQTT clients in labelled namespaces."""

    name: str
    key: str = "ca.crt"
    namespace_selector: LabelSelector


class Trust(Model):
    aio: AioTrustBundle = AioTrustBundle()
    clients: list[ClientTrustBundle] = []
    pinned_roots_config_map: str = Field(
        "aiogen-pinned-roots", description="ConfigMap in the trust namespace holding the roots known by their PEM"
    )


class CertificateFile(Model):
    file: str = Field(description="PEM file, relative to the spec file's directory")


class KeyVault(Model):
    """CA keypair synced from Azure Key Vault by the Secret Store extension.

    Two Key Vault *secrets*: the PEM certificate chain (the CA first, then any intermediates above
    it, root optional) and the PEM private key. The SecretSync CRD only accepts an object name
    (optionally with a version index) as `sourcePath`, so each becomes one key of the synced
    `kubernetes.io/tls` Secret (reference/aio.md §6, "Alternative").
    """

    vault: str = Field(description="Key Vault name")
    certificate_secret: str = Field(description="Key Vault secret holding the PEM certificate chain (tls.crt)")
    key_secret: str = Field(description="Key Vault secret holding the PEM private key (tls.key)")
    client_id: str = Field(
        alias="clientID", description="client ID of the managed identity federated to the ServiceAccount"
    )
    tenant_id: str = Field(alias="tenantID")
    secret_name: str | None = Field(None, description="name of the synced Secret; defaults to certificateSecret")
    service_account: str = Field("aiogen-ca-sync", description="ServiceAccount the SecretSync runs as")


class SecretRef(Model):
    """A CA keypair Secret that already exists in the CA namespace (kubernetes.io/tls)."""

    name: str


class InClusterCA(Model):
    """A CA that cert-manager creates and renews in the cluster."""

    common_name: str
    organization: str | None = None
    duration: Duration = timedelta(days=3650)
    renew_before: Duration = timedelta(days=365)
    private_key: CAPrivateKey = CAPrivateKey()


class Root(Model):
    """A root CA generation.

    Either known by its public certificate (`certificate`; optionally with its keypair in Key Vault
    or a Secret when the cluster signs with the root itself), or bootstrapped in-cluster by
    cert-manager (`selfSigned`).
    """

    certificate: CertificateFile | None = None
    key_vault: KeyVault | None = None
    secret: SecretRef | None = None
    self_signed: InClusterCA | None = None
    allow_expired: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> Root:
        if self.self_signed is not None:
            if self.certificate or self.key_vault or self.secret:
                raise ValueError("a selfSigned root is created in-cluster; drop certificate, keyVault and secret")
        elif self.certificate is None:
            raise ValueError("a root needs its public `certificate` (or `selfSigned` to bootstrap it in-cluster)")
        if self.key_vault is not None and self.secret is not None:
            raise ValueError("give the root keypair either through keyVault or secret, not both")
        return self


class InlineRoot(Root):
    """A root written inside a cluster's pki (named `<cluster>-root` unless `name` is set)."""

    name: str | None = None


class ClientRoot(Model):
    """A root that signs MQTT client (device) certificates."""

    certificate: CertificateFile
    max_leaf_lifetime: Duration | None = Field(
        None, description="longest lifetime of a client certificate issued under this root (for retire safety)"
    )
    allow_expired: bool = False


class Intermediate(Model):
    """Where a cluster's intermediate CA keypair comes from: exactly one source."""

    key_vault: KeyVault | None = None
    secret: SecretRef | None = None
    in_cluster: InClusterCA | None = None
    certificate: CertificateFile | None = Field(
        None, description="the intermediate's public chain (child first, no root), to check chain and lifetimes"
    )
    name: str | None = Field(None, description="Secret name for this intermediate generation (in-cluster only)")

    @model_validator(mode="after")
    def _one_source(self) -> Intermediate:
        given = [n for n in ("key_vault", "secret", "in_cluster") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("set exactly one of keyVault, secret or inCluster")
        return self


class Chain(Model):
    """One CA generation of a cluster: a root and (in intermediate mode) the intermediate under it."""

    root: str | InlineRoot
    intermediate: Intermediate | None = None


class Pki(Model):
    mode: Literal["single-root", "intermediate"]
    root: str | InlineRoot = Field(description="name of a root in spec.roots, or an inline selfSigned root")
    intermediate: Intermediate | None = None
    next: Chain | None = Field(None, description="the chain a rotation in progress moves this cluster to")
    issuer: IssuerOverride | None = None


class San(Model):
    dns: list[str] = []
    ip: list[str] = []
    in_cluster_names: bool = Field(
        False, description="add the listener Service's in-cluster DNS names (for in-cluster clients)"
    )


class Tls(Model):
    mode: Literal["Automatic", "Manual"] = "Automatic"
    san: San = San()
    duration: Duration | None = None
    renew_before: Duration | None = None
    private_key: PrivateKey | None = None
    secret_name: str | None = Field(None, description="Automatic: Secret that receives the server certificate")
    secret_ref: str | None = Field(None, description="Manual: existing kubernetes.io/tls Secret in the AIO namespace")


class ListenerPort(Model):
    port: Port
    node_port: Port | None = None
    protocol: Literal["Mqtt", "WebSockets"] = "Mqtt"
    authentication: Literal["x509", "serviceAccountToken", "none"]
    tls: Tls | None = Field(default_factory=Tls, description="TLS settings; null for plain TCP (not recommended)")


class Listener(Model):
    name: str
    service_name: str | None = None
    service_type: Literal["LoadBalancer", "NodePort", "ClusterIp"]
    ports: list[ListenerPort] = Field(min_length=1)


class AuthorizationAttribute(Model):
    subject: str
    attributes: dict[str, str]


class X509Authentication(Model):
    trusted_client_roots: list[str] = Field(min_length=1)
    name: str = Field("x509-auth", description="BrokerAuthentication name")
    client_ca_config_map: str = Field("client-ca", description="ConfigMap (AIO namespace) of trusted client CAs")
    authorization_attributes: dict[str, AuthorizationAttribute] = {}
    service_account_token_fallback: bool = Field(
        False, description="also accept Kubernetes service account tokens (audience aio-internal) on x509 ports"
    )


class BrokerAuthentication(Model):
    x509: X509Authentication | None = None


BrokerResources = Literal["kubernetes", "azure"]


class Broker(Model):
    broker_ref: str = "default"
    resources: BrokerResources | None = Field(
        None,
        description="kubernetes: BrokerListener/BrokerAuthentication objects; azure: an ARM template for "
        "Microsoft.IoTOperations broker listeners and authentications (AIO does not sync kubectl-made broker "
        "resources to Azure); default: spec.defaults.brokerResources",
    )
    listeners: list[Listener] = []
    authentication: BrokerAuthentication = BrokerAuthentication()


class Defaults(Model):
    namespaces: Namespaces = Namespaces()
    issuer: Issuer = Issuer()
    leaf: Leaf = Leaf()
    trust: Trust = Trust()
    organization: str | None = Field(None, description="subject O= of in-cluster CAs; defaults to metadata.name")
    broker_resources: BrokerResources = Field(
        "kubernetes", description="how listeners and authentications are deployed (per cluster: broker.resources)"
    )


class Cluster(Model):
    name: str
    namespaces: NamespacesOverride | None = None
    pki: Pki
    trust: Trust | None = None
    leaf: LeafOverride | None = None
    broker: Broker = Broker()


class Rotation(Model):
    """A rollover in progress; `phase` moves prepare → distribute → switch → retire."""

    name: str
    kind: Literal["serverRoot", "clientRoot", "intermediate"]
    from_: str | None = Field(None, alias="from", description="old root (serverRoot, clientRoot)")
    to: str | None = Field(None, description="new root (serverRoot, clientRoot)")
    clusters: list[str] | None = Field(None, description="limit to these clusters (default: every cluster affected)")
    phase: Phase
    started: dict[Phase, Date] = Field(description="the date each phase so far began")
    min_dwell: Duration = Field(
        timedelta(days=1), description="shortest time to stay in prepare and distribute before moving on"
    )


class Metadata(Model):
    name: str
    annotations: dict[str, str] = Field(
        {}, description="ignored by aiogen (kustomize's config.kubernetes.io/function, aiogen.io/clusters, ...)"
    )
    labels: dict[str, str] = Field({}, description="ignored by aiogen")


class TopologySpec(Model):
    defaults: Defaults = Defaults()
    roots: dict[str, Root] = {}
    client_roots: dict[str, ClientRoot] = {}
    clusters: list[Cluster] = Field(min_length=1)
    rotations: list[Rotation] = []


class Topology(Model):
    api_version: Literal["aiogen.io/v1alpha1"]
    kind: Literal["Topology"]
    metadata: Metadata
    spec: TopologySpec


def json_schema() -> dict[str, Any]:
    schema = Topology.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://aiogen.io/schemas/topology.schema.json"
    return schema
