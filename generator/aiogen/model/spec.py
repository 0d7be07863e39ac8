"""The typed Topology: what a user writes (the user-facing schema).

Pydantic v2 models, strict and closed (`extra="forbid"`): a misspelt field is an error, a string
where a number belongs is an error. Field names are the camelCase YAML keys. Defaults that depend
on other fields (names derived from a cluster, a root, an issuer) are applied by `aiogen.resolve`,
never here. `schemas/topology.schema.json` is generated from these models (`aiogen schema`), and so
is the validator a cold start uses without importing pydantic (`aiogen.model.spec_codegen` writes
pydantic's core schema of these models ahead of time; `aiogen.model.spec_compiled` loads it while
current). Checks besides types live in `aiogen.model.spec_checks`, shared by both.
"""

from __future__ import annotations

import os
import sys
from datetime import date, timedelta
from typing import Annotated, Any, Literal

import pydantic_core
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)
from pydantic.alias_generators import to_camel

from aiogen.model.phases import Phase
from aiogen.model.spec_checks import calendar_date, duration, intermediate_one_source, root_one_source

# aiogen uses no pydantic plugins: without this, building the first model scans every installed
# distribution's entry points for them (importlib.metadata), on every cold start.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

# `aiogen.model.spec_compiled` may have loaded pydantic-core's extension by itself, before the package: the
# package's attribute names that very module too, as an ordinary import would have made it
vars(pydantic_core).setdefault("_pydantic_core", sys.modules["pydantic_core._pydantic_core"])

API_VERSION = "aiogen.io/v1alpha1"


Duration = Annotated[
    timedelta,
    BeforeValidator(duration),
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
    BeforeValidator(calendar_date),
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
    """Key of a certificate. `rotationPolicy` is always rendered explicitly (cert-manager's default
    changed to Always in v1.18: https://cert-manager.io/docs/releases/release-notes/release-notes-1.18/)."""

    algorithm: KeyAlgorithm = Field("Ec256", description="Ec256, Ec384, Ec521, Rsa2048, Rsa4096 or Rsa8192")
    rotation_policy: RotationPolicy = Field("Always", description="Always: a new key at each renewal; Never: keep it")


class CAPrivateKey(Model):
    """Key of an in-cluster CA. `Never` keeps the CA's identity across renewals, so certificates it
    signed keep verifying (https://cert-manager.io/docs/usage/certificate/#configuring-private-key-rotation)."""

    algorithm: KeyAlgorithm = Field("Ec256", description="Ec256, Ec384, Ec521, Rsa2048, Rsa4096 or Rsa8192")
    rotation_policy: RotationPolicy = Field(
        "Never", description="Never: keep the key at each renewal (right for a CA); Always: a new key each time"
    )


class Namespaces(Model):
    """The namespaces aiogen's objects live in."""

    aio: str = Field("azure-iot-operations", description="the namespace Azure IoT Operations is installed in")
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
    """This cluster's namespaces; each field left out comes from spec.defaults.namespaces."""

    aio: str | None = Field(None, description="the namespace Azure IoT Operations is installed in")
    trust: str | None = Field(None, description="trust-manager's trust namespace: every Bundle source lives here")
    cluster_resource: str | None = Field(None, description="cert-manager's --cluster-resource-namespace")
    create: bool | None = Field(None, description="render a Namespace object for the AIO namespace")


class Issuer(Model):
    """The CA issuer that signs broker certificates; AIO's trust settings name it."""

    kind: Literal["ClusterIssuer", "Issuer"] = Field(
        "ClusterIssuer",
        description="ClusterIssuer (CA Secret in clusterResource namespace) or Issuer (in the AIO namespace)",
    )
    name: str = Field("aio-ca-issuer", description="name of the issuer; AIO's trust settings name it")


class IssuerOverride(Model):
    """This cluster's issuer; each field left out comes from spec.defaults.issuer."""

    kind: Literal["ClusterIssuer", "Issuer"] | None = Field(None, description="ClusterIssuer or Issuer")
    name: str | None = Field(None, description="name of the issuer; AIO's trust settings name it")


class Leaf(Model):
    """Broker server certificates (BrokerListener certManagerCertificateSpec)."""

    duration: Duration = Field(timedelta(hours=720), description="lifetime of a broker server certificate (720h, 30d)")
    renew_before: Duration = Field(timedelta(hours=240), description="renew this long before expiry (< duration)")
    private_key: PrivateKey = Field(PrivateKey(), description="key algorithm and rotation policy of the certificate")


class LeafOverride(Model):
    """This cluster's broker certificates; each field left out comes from spec.defaults.leaf."""

    duration: Duration | None = Field(None, description="lifetime of a broker server certificate (720h, 30d)")
    renew_before: Duration | None = Field(None, description="renew this long before expiry (< duration)")
    private_key: PrivateKey | None = Field(None, description="key algorithm and rotation policy of the certificate")


class LabelSelectorRequirement(Model):
    """One label requirement of a Kubernetes label selector."""

    key: str = Field(description="the label key (Kubernetes label syntax, optionally prefix/name)")
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"] = Field(description="how the key's value is matched")
    values: list[str] = Field([], description="label values for In and NotIn; empty for Exists and DoesNotExist")


class LabelSelector(Model):
    """Which namespaces receive a Bundle's ConfigMap (a Kubernetes label selector, never empty)."""

    match_labels: dict[str, str] = Field({}, description="labels a namespace must carry, key: value")
    match_expressions: list[LabelSelectorRequirement] = Field([], description="requirements a namespace meets, all")


class AioTrustBundle(Model):
    """The Bundle whose ConfigMap AIO's trust settings name (target: the AIO namespace only)."""

    name: str = Field("aio-trust-bundle", description="name of the Bundle and of the ConfigMap it writes")
    key: str = Field("ca.crt", description="ConfigMap key holding the PEM roots")


class ClientTrustBundle(Model):
    """A Bundle for in-cluster MQTT clients in labelled namespaces."""

    name: str = Field(description="name of the Bundle and of the ConfigMap it writes in each selected namespace")
    key: str = Field("ca.crt", description="ConfigMap key holding the PEM roots")
    namespace_selector: LabelSelector = Field(description="the namespaces that receive the ConfigMap")


class Trust(Model):
    """How the trusted roots reach AIO and in-cluster clients (trust-manager Bundles)."""

    aio: AioTrustBundle = Field(AioTrustBundle(), description="the Bundle AIO's trust settings name")
    clients: list[ClientTrustBundle] = Field([], description="Bundles for in-cluster MQTT clients")
    pinned_roots_config_map: str = Field(
        "aiogen-pinned-roots", description="ConfigMap in the trust namespace holding the roots known by their PEM"
    )


class CertificateFile(Model):
    """A PEM certificate file next to the spec (public certificates only, never keys)."""

    file: str = Field(description="PEM file, relative to the spec file's directory")


class KeyVault(Model):
    """CA keypair synced from Azure Key Vault by the Secret Store extension.

    Two Key Vault *secrets*: the PEM certificate chain (the CA first, then any intermediates above
    it, root optional) and the PEM private key. The SecretSync CRD only accepts an object name
    (optionally with a version index) as `sourcePath`, so each becomes one key of the synced
    `kubernetes.io/tls` Secret
    (https://learn.microsoft.com/azure/iot-operations/secure-iot-ops/howto-manage-secrets).
    """

    vault: str = Field(description="Key Vault name (3-24 letters, digits and '-')")
    certificate_secret: str = Field(description="Key Vault secret holding the PEM certificate chain (tls.crt)")
    key_secret: str = Field(description="Key Vault secret holding the PEM private key (tls.key)")
    client_id: str = Field(
        alias="clientID", description="client ID (a GUID) of the managed identity federated to the ServiceAccount"
    )
    tenant_id: str = Field(alias="tenantID", description="Microsoft Entra tenant ID (a GUID) of that identity")
    secret_name: str | None = Field(None, description="name of the synced Secret; defaults to certificateSecret")
    service_account: str = Field("aiogen-ca-sync", description="ServiceAccount the SecretSync runs as")


class SecretRef(Model):
    """A CA keypair Secret that already exists in the CA namespace (kubernetes.io/tls)."""

    name: str = Field(description="name of the kubernetes.io/tls Secret")


class InClusterCA(Model):
    """A CA that cert-manager creates and renews in the cluster."""

    common_name: str = Field(description="subject CN of the CA (at most 64 characters)")
    organization: str | None = Field(None, description="subject O=; default: spec.defaults.organization")
    duration: Duration = Field(timedelta(days=3650), description="lifetime of the CA certificate (10y)")
    renew_before: Duration = Field(
        timedelta(days=365),
        description="how long before expiry cert-manager renews it; at least the longest certificate it signs",
    )
    private_key: CAPrivateKey = Field(CAPrivateKey(), description="key algorithm and rotation policy of the CA")


class Root(Model):
    """A root CA generation.

    Either known by its public certificate (`certificate`; optionally with its keypair in Key Vault
    or a Secret when the cluster signs with the root itself), or bootstrapped in-cluster by
    cert-manager (`selfSigned`).
    """

    certificate: CertificateFile | None = Field(None, description="the root's public certificate (PEM)")
    key_vault: KeyVault | None = Field(None, description="the root keypair in Key Vault (single-root mode only)")
    secret: SecretRef | None = Field(None, description="the root keypair in a Secret (single-root mode only)")
    self_signed: InClusterCA | None = Field(None, description="a root cert-manager creates in the cluster")
    allow_expired: bool = Field(False, description="accept an expired certificate (only if you know why)")

    _one_source = model_validator(mode="after")(root_one_source)


class InlineRoot(Root):
    """A root written inside a cluster's pki (named `<cluster>-root` unless `name` is set)."""

    name: str | None = Field(None, description="the root's name; default: <cluster>-root")


class ClientRoot(Model):
    """A root that signs MQTT client (device) certificates."""

    certificate: CertificateFile = Field(description="the client root's public certificate (PEM)")
    max_leaf_lifetime: Duration | None = Field(
        None, description="longest lifetime of a client certificate issued under this root (for retire safety)"
    )
    allow_expired: bool = Field(False, description="accept an expired certificate (only if you know why)")


class Intermediate(Model):
    """Where a cluster's intermediate CA keypair comes from: exactly one source."""

    key_vault: KeyVault | None = Field(None, description="the intermediate keypair in Key Vault")
    secret: SecretRef | None = Field(None, description="the intermediate keypair in an existing Secret")
    in_cluster: InClusterCA | None = Field(None, description="created by cert-manager, signed by an in-cluster root")
    certificate: CertificateFile | None = Field(
        None, description="the intermediate's public chain (child first, no root), to check chain and lifetimes"
    )
    name: str | None = Field(None, description="Secret name for this intermediate generation (in-cluster only)")

    _one_source = model_validator(mode="after")(intermediate_one_source)


class Chain(Model):
    """One CA generation of a cluster: a root and (in intermediate mode) the intermediate under it."""

    root: str | InlineRoot = Field(description="name of a root in spec.roots, or an inline root")
    intermediate: Intermediate | None = Field(None, description="the intermediate CA (intermediate mode)")


class Pki(Model):
    """Who signs this cluster's broker certificates."""

    mode: Literal["single-root", "intermediate"] = Field(
        description="single-root: the root signs broker certificates; intermediate: a per-cluster intermediate does"
    )
    root: str | InlineRoot = Field(description="name of a root in spec.roots, or an inline selfSigned root")
    intermediate: Intermediate | None = Field(None, description="the cluster's intermediate CA (intermediate mode)")
    next: Chain | None = Field(None, description="the chain a rotation in progress moves this cluster to")
    issuer: IssuerOverride | None = Field(None, description="override of spec.defaults.issuer")


class San(Model):
    """Subject alternative names of a broker server certificate: what clients dial."""

    dns: list[str] = Field([], description="DNS names clients dial (one leading wildcard label allowed)")
    ip: list[str] = Field([], description="IP addresses clients dial (IPv4 or IPv6, no zone)")
    in_cluster_names: bool = Field(
        False, description="add the listener Service's in-cluster DNS names (for in-cluster clients)"
    )


class Tls(Model):
    """TLS of a listener port."""

    mode: Literal["Automatic", "Manual"] = Field(
        "Automatic", description="Automatic: cert-manager issues the certificate; Manual: an existing Secret"
    )
    san: San = Field(San(), description="Automatic: the certificate's subject alternative names")
    duration: Duration | None = Field(None, description="Automatic: certificate lifetime; default: the cluster's leaf")
    renew_before: Duration | None = Field(None, description="Automatic: renew this long before expiry; default: leaf")
    private_key: PrivateKey | None = Field(None, description="Automatic: key algorithm and rotation; default: leaf")
    secret_name: str | None = Field(None, description="Automatic: Secret that receives the server certificate")
    secret_ref: str | None = Field(None, description="Manual: existing kubernetes.io/tls Secret in the AIO namespace")


class ListenerPort(Model):
    """One port of a listener."""

    port: Port = Field(description="the port clients connect to (1-65535, unique across the broker, not 18883)")
    node_port: Port | None = Field(None, description="the node port (serviceType NodePort only, 30000-32767)")
    protocol: Literal["Mqtt", "WebSockets"] = Field("Mqtt", description="MQTT over TCP or over WebSockets")
    authentication: Literal["x509", "serviceAccountToken", "none"] = Field(
        description="x509: client certificates; serviceAccountToken: Kubernetes tokens; none: anyone who can reach it"
    )
    tls: Tls | None = Field(default_factory=Tls, description="TLS settings; null for plain TCP (not recommended)")


class Listener(Model):
    """A BrokerListener: one Service of the broker and its ports."""

    name: str = Field(description="BrokerListener name (3-63 lowercase letters, digits and '-')")
    service_name: str | None = Field(None, description="the listener's Service name; default: the listener name")
    service_type: Literal["LoadBalancer", "NodePort", "ClusterIp"] = Field(
        description="Kubernetes Service type; one listener per type (AIO's default listener holds ClusterIp)"
    )
    ports: list[ListenerPort] = Field(min_length=1, description="the listener's ports (at least one)")


class AuthorizationAttribute(Model):
    """Attributes given to clients whose certificate has this subject (for authorization rules)."""

    subject: str = Field(description="the client certificate subject to match")
    attributes: dict[str, str] = Field(description="attributes assigned to matching clients, name: value")


class X509Authentication(Model):
    """X.509 client authentication of the broker (a BrokerAuthentication)."""

    trusted_client_roots: list[str] = Field(
        min_length=1, description="names in spec.clientRoots whose client certificates the broker accepts"
    )
    name: str = Field("x509-auth", description="BrokerAuthentication name")
    client_ca_config_map: str = Field("client-ca", description="ConfigMap (AIO namespace) of trusted client CAs")
    authorization_attributes: dict[str, AuthorizationAttribute] = Field(
        {}, description="authorization attributes by name, each for one client certificate subject"
    )
    service_account_token_fallback: bool = Field(
        False, description="also accept Kubernetes service account tokens (audience aio-internal) on x509 ports"
    )


class BrokerAuthentication(Model):
    """How clients authenticate to the broker."""

    x509: X509Authentication | None = Field(None, description="X.509 client certificate authentication")


BrokerResources = Literal["kubernetes", "azure"]


class Broker(Model):
    """The AIO MQTT broker of a cluster: its listeners and authentication."""

    broker_ref: str = Field("default", description="the Broker resource the listeners belong to")
    resources: BrokerResources | None = Field(
        None,
        description="kubernetes: BrokerListener/BrokerAuthentication objects; azure: an ARM template for "
        "Microsoft.IoTOperations broker listeners and authentications (AIO does not sync kubectl-made broker "
        "resources to Azure); default: spec.defaults.brokerResources",
    )
    listeners: list[Listener] = Field([], description="listeners besides AIO's default listener")
    authentication: BrokerAuthentication = Field(BrokerAuthentication(), description="client authentication")


class Defaults(Model):
    """Fleet-wide settings; each cluster may override namespaces, issuer, leaf and trust."""

    namespaces: Namespaces = Field(Namespaces(), description="the namespaces aiogen's objects live in")
    issuer: Issuer = Field(Issuer(), description="the CA issuer that signs broker certificates")
    leaf: Leaf = Field(Leaf(), description="broker server certificates: lifetime, renewal and key")
    trust: Trust = Field(Trust(), description="how trusted roots reach AIO and in-cluster clients")
    organization: str | None = Field(None, description="subject O= of in-cluster CAs; defaults to metadata.name")
    broker_resources: BrokerResources = Field(
        "kubernetes", description="how listeners and authentications are deployed (per cluster: broker.resources)"
    )


class Cluster(Model):
    """One Kubernetes cluster running Azure IoT Operations."""

    name: str = Field(description="cluster name (3-63 lowercase letters, digits and '-'); also its output directory")
    namespaces: NamespacesOverride | None = Field(None, description="override of spec.defaults.namespaces")
    pki: Pki = Field(description="who signs this cluster's broker certificates")
    trust: Trust | None = Field(None, description="override of spec.defaults.trust")
    leaf: LeafOverride | None = Field(None, description="override of spec.defaults.leaf")
    broker: Broker = Field(Broker(), description="the MQTT broker's listeners and authentication")


class Rotation(Model):
    """A rollover in progress; `phase` moves prepare → distribute → switch → retire."""

    name: str = Field(description="rotation name (a DNS-1123 label)")
    kind: Literal["serverRoot", "clientRoot", "intermediate"] = Field(
        description="what rolls over: the server root, a client root, or clusters' intermediates"
    )
    from_: str | None = Field(None, alias="from", description="old root (serverRoot, clientRoot)")
    to: str | None = Field(None, description="new root (serverRoot, clientRoot)")
    clusters: list[str] | None = Field(None, description="limit to these clusters (default: every cluster affected)")
    phase: Phase = Field(description="the current phase: prepare, distribute, switch or retire (docs/rollover.md)")
    started: dict[Phase, Date] = Field(description="the date each phase so far began")
    min_dwell: Duration = Field(
        timedelta(days=1), description="shortest time to stay in prepare and distribute before moving on"
    )


class Metadata(Model):
    """The spec's name and (ignored) Kubernetes-style metadata."""

    name: str = Field(description="name of the fleet (a DNS-1123 subdomain); default subject O= of in-cluster CAs")
    annotations: dict[str, str] = Field(
        {}, description="ignored by aiogen (kustomize's config.kubernetes.io/function, aiogen.io/clusters, ...)"
    )
    labels: dict[str, str] = Field({}, description="ignored by aiogen")


class TopologySpec(Model):
    """The fleet: defaults, roots, clusters and rotations in progress."""

    defaults: Defaults = Field(Defaults(), description="fleet-wide settings, overridable per cluster")
    roots: dict[str, Root] = Field({}, description="root CA generations by name (public certificates, never keys)")
    client_roots: dict[str, ClientRoot] = Field({}, description="roots of MQTT client (device) certificates, by name")
    clusters: list[Cluster] = Field(min_length=1, description="the clusters (at least one)")
    rotations: list[Rotation] = Field([], description="rollovers in progress (docs/rollover.md)")


class Topology(Model):
    """An aiogen topology: one typed spec of a fleet's PKI (docs/spec.md)."""

    api_version: Literal["aiogen.io/v1alpha1"] = Field(description="always aiogen.io/v1alpha1")
    kind: Literal["Topology"] = Field(description="always Topology")
    metadata: Metadata = Field(description="the fleet's name")
    spec: TopologySpec = Field(description="the fleet")


def json_schema() -> dict[str, Any]:
    schema = Topology.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://aiogen.io/schemas/topology.schema.json"
    return schema
