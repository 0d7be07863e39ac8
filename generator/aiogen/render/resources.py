"""Plan → the resources of one cluster: which templates, fed with which parts of the Plan."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiogen.model.durations import format_duration
from aiogen.model.plan import SELF_SIGNED_ISSUER, AutomaticTls, Cluster, InClusterCA, ManualTls, RootCA
from aiogen.render.resource import Resource
from aiogen.render.templates import resource as _resource

_ECDSA_SIZES = {"Ec256": 256, "Ec384": 384, "Ec521": 521}


def resources(c: Cluster) -> Iterable[Resource]:
    """Every resource of one cluster: namespaces, CA material and issuers, trust distribution, the broker.

    BrokerListener and BrokerAuthentication objects come last; for a cluster whose broker resources
    are managed from Azure they become an ARM template instead (`aiogen.render.arm`).
    """
    for name in c.created_namespaces:
        yield _resource("namespace.yaml.j2", name=name)
    yield from _ca_material(c)
    yield from _trust_distribution(c)
    yield from _client_ca(c)
    if c.broker_resources == "kubernetes":
        yield from broker_objects(c)


def _ca_material(c: Cluster) -> Iterable[Resource]:
    """Key Vault syncs, in-cluster CAs and their issuers, and the CA issuer AIO's trust settings name."""
    accounts: dict[tuple[str, str], None] = {}
    for signer in c.signers:
        kv = signer.key_vault
        if kv is None:
            continue
        if (kv.namespace, kv.service_account) not in accounts:
            accounts[(kv.namespace, kv.service_account)] = None
            yield _resource("serviceaccount.yaml.j2", name=kv.service_account, namespace=kv.namespace)
        objects = "array:\n" + "".join(
            f"  - |\n    objectName: {name}\n    objectType: secret\n"
            for name in (kv.certificate_secret, kv.key_secret)
        )
        yield _resource("secretproviderclass.yaml.j2", name=kv.provider_class, namespace=kv.namespace,
                        client_id=kv.client_id, tenant_id=kv.tenant_id, vault=kv.vault, objects=objects)
        yield _resource("secretsync.yaml.j2", name=kv.secret_name, namespace=kv.namespace,
                        service_account=kv.service_account, provider_class=kv.provider_class,
                        certificate_secret=kv.certificate_secret, key_secret=kv.key_secret)
    roots_in_cluster = c.in_cluster_roots
    if roots_in_cluster:
        yield _resource("issuer.yaml.j2", kind="Issuer", name=SELF_SIGNED_ISSUER, namespace=c.ca_namespace,
                        self_signed=True)
    for root in roots_in_cluster:
        assert root.in_cluster is not None
        yield _certificate(root.in_cluster)
    root_issuers: dict[str, None] = {}
    for signer in c.signers:
        ca = signer.in_cluster
        if ca is None:
            continue
        if ca.issuer_ref.name not in root_issuers:
            root_issuers[ca.issuer_ref.name] = None
            assert signer.root.in_cluster is not None
            yield _resource("issuer.yaml.j2", kind="Issuer", name=ca.issuer_ref.name, namespace=c.ca_namespace,
                            self_signed=False, secret_name=signer.root.in_cluster.secret_name)
        yield _certificate(ca)
    yield _resource("issuer.yaml.j2", kind=c.issuer.kind, name=c.issuer.name, namespace=c.issuer_namespace,
                    self_signed=False, secret_name=c.signer.secret_name)


def _trust_distribution(c: Cluster) -> Iterable[Resource]:
    """The pinned-roots ConfigMap and the trust-manager Bundles fed from it."""
    pinned = [r for r in c.server_roots if r.pinned]
    if pinned:
        yield _resource("configmap.yaml.j2", name=c.pinned_config_map, namespace=c.namespaces.trust,
                        data=[(pinned_key(r), _pem(r)) for r in pinned])
    sources = [
        {"config_map": c.pinned_config_map, "secret": None, "key": pinned_key(r)} if r.pinned
        else {"config_map": None, "secret": r.in_cluster.secret_name if r.in_cluster else "", "key": "tls.crt"}
        for r in c.server_roots
    ]
    for bundle in (c.aio_bundle, *c.client_bundles):
        yield _resource("bundle.yaml.j2", name=bundle.name, key=bundle.key, sources=sources,
                        match_labels=bundle.selector.match_labels,
                        match_expressions=bundle.selector.match_expressions)


def _client_ca(c: Cluster) -> Iterable[Resource]:
    """The client-CA ConfigMap X.509 client authentication reads (a prerequisite, not a broker object)."""
    if c.client_auth is not None:
        auth = c.client_auth
        yield _resource("configmap.yaml.j2", name=auth.config_map, namespace=auth.namespace,
                        data=[(auth.key, "".join(r.certificate.pem for r in auth.roots))])


def broker_objects(c: Cluster) -> Iterable[Resource]:
    """BrokerAuthentication (X.509 client authentication) and BrokerListeners."""
    if c.client_auth is not None:
        auth = c.client_auth
        yield _resource("brokerauthentication.yaml.j2", name=auth.name, namespace=auth.namespace,
                        config_map=auth.config_map, attributes=auth.authorization_attributes,
                        sat_fallback=auth.service_account_token_fallback)
    for listener in c.listeners:
        ports = []
        for port in listener.ports:
            entry: dict[str, Any] = {"port": port.port, "node_port": port.node_port, "protocol": port.protocol,
                                     "authentication_ref": port.authentication_ref, "manual": None, "auto": None}
            if isinstance(port.tls, ManualTls):
                entry["manual"] = port.tls.secret_ref
            elif isinstance(port.tls, AutomaticTls):
                entry["auto"] = {
                    "issuer_ref": port.tls.issuer_ref,
                    "duration": format_duration(port.tls.duration),
                    "renew_before": format_duration(port.tls.renew_before),
                    "secret_name": port.tls.secret_name,
                    "key_algorithm": port.tls.key_algorithm,
                    "rotation_policy": port.tls.rotation_policy,
                    "san_dns": port.tls.san_dns,
                    "san_ip": port.tls.san_ip,
                }
            ports.append(entry)
        yield _resource("brokerlistener.yaml.j2", name=listener.name, namespace=listener.namespace,
                        broker_ref=listener.broker_ref, service_name=listener.service_name,
                        service_type=listener.service_type, ports=ports)


def _certificate(ca: InClusterCA) -> Resource:
    if ca.key_algorithm.startswith("Ec"):
        algorithm, size = "ECDSA", _ECDSA_SIZES[ca.key_algorithm]
    else:
        algorithm, size = "RSA", int(ca.key_algorithm.removeprefix("Rsa"))
    return _resource(
        "certificate.yaml.j2", name=ca.certificate_name, namespace=ca.namespace, common_name=ca.common_name,
        organization=ca.organization, secret_name=ca.secret_name, duration=format_duration(ca.duration),
        renew_before=format_duration(ca.renew_before), key_algorithm=algorithm, key_size=size,
        rotation_policy=ca.rotation_policy, issuer_name=ca.issuer_ref.name, issuer_kind=ca.issuer_ref.kind,
    )


def pinned_key(root: RootCA) -> str:
    return f"{root.name}.pem"


def _pem(root: RootCA) -> str:
    assert root.certificate is not None
    return root.certificate.pem
