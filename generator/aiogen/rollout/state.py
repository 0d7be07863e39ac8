"""What one Plan deploys on one cluster, as the rollout check sees it: servers and client populations.

A server presents a certificate chain: every listener port with TLS, and AIO's default listener
(aiogen does not render it, but it is signed by the issuer the trust settings name). A population
is a set of clients trusting one trust set, or the broker trusting devices through its client-CA.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from aiogen.model.dialing import (
    DEFAULT_LISTENER_KEY,
    DEFAULT_LISTENER_LABEL,
    DEFAULT_LISTENER_LIFETIME,
    dialled,
    san_names,
    servers,
)
from aiogen.model.phases import signs_with_new
from aiogen.model.plan import AutomaticTls, Cluster, ManualTls, RotationState, TrustSettings
from aiogen.rollout.days import end_of_day

__all__ = ["DEFAULT_LISTENER_KEY", "DEFAULT_LISTENER_LABEL", "DEFAULT_LISTENER_LIFETIME", "DEVICES_KEY",
           "ClusterState", "EarlierLeaves", "Population", "Server", "cluster_state"]

DEVICES_KEY = "devices"


@dataclass(frozen=True)
class Server:
    """Something that presents a certificate chain to clients: a listener port of the broker."""

    key: str  # "plant-mqtts:8883", "aio-broker:18883"
    label: str  # "listener plant-mqtts:8883"
    lifetime: timedelta | None  # longest leaf it may hold; None for Manual TLS (aiogen cannot see it)
    external: bool  # reachable from outside the cluster (LoadBalancer, NodePort)
    names: tuple[str, ...] = ()  # DNS and IP SANs its certificate requests (Automatic TLS)
    dialled_inside: str | None = None  # the name in-cluster clients dial
    dialled_outside: str | None = None  # the name external clients and devices dial
    x509: bool = False  # devices authenticate here with X.509 client certificates
    endpoint: str = ""  # "<service>:<port>": what clients connect to, whatever the listener is called

    @property
    def manual(self) -> bool:
        return self.lifetime is None


@dataclass(frozen=True)
class Population:
    """Clients that trust one trust set, or the broker trusting devices through its client-CA."""

    key: str  # "bundle contoso-mqtt-trust:ca.crt", "ca-bundle.pem", "client-ca"
    label: str  # "clients in namespaces labelled ... (Bundle contoso-mqtt-trust)"
    noun: str  # what holds their roots, for messages: "bundle", "ca-bundle.pem", "client-CA ConfigMap"
    trusted: frozenset[str]  # root names
    external: bool = False  # talks only to servers reachable from outside the cluster
    devices: bool = False  # the broker's client-CA ConfigMap: it judges devices, not servers


@dataclass(frozen=True)
class EarlierLeaves:
    """Certificates issued under an old root before a switch; they stay valid after it."""

    rotation: str
    root: str
    switched: date
    lifetime: timedelta | None  # None: nobody said how long they live

    def until(self, lifetime: timedelta | None = None) -> datetime | None:
        span = lifetime if lifetime is not None else self.lifetime
        return None if span is None else end_of_day(self.switched) + span


@dataclass(frozen=True)
class ClusterState:
    """What one Plan deploys on one cluster, as the rollout check sees it."""

    name: str
    trust_settings: TrustSettings
    signing_root: str  # root of the chain the issuer signs with
    signing_ca: str  # that CA generation (the intermediate's or root's Secret)
    earlier: tuple[EarlierLeaves, ...]  # leaves from before a switch (lifetime per server)
    servers: tuple[Server, ...]
    populations: tuple[Population, ...]
    device_roots: frozenset[str]  # client roots devices get new certificates from
    device_earlier: tuple[EarlierLeaves, ...]  # device certificates from before a client-root switch
    rotations: tuple[RotationState, ...]

    def rotation(self, name: str) -> RotationState | None:
        return next((r for r in self.rotations if r.name == name), None)

    @property
    def server_rotation(self) -> RotationState | None:
        return next((r for r in self.rotations if r.kind in ("serverRoot", "intermediate")), None)


def cluster_state(cluster: Cluster) -> ClusterState:
    found: list[Server] = []
    for listener in servers(cluster):
        external = listener.service_type in ("LoadBalancer", "NodePort")
        for port in listener.ports:
            key = f"{listener.name}:{port.port}"
            if isinstance(port.tls, AutomaticTls):
                default = key == DEFAULT_LISTENER_KEY
                found.append(Server(key, DEFAULT_LISTENER_LABEL if default else f"listener {key}", port.tls.duration,
                                    external, san_names(port.tls), dialled(listener, port, external=False),
                                    dialled(listener, port, external=True),
                                    port.authentication == "x509" and cluster.client_auth is not None,
                                    f"{listener.service_name}:{port.port}"))
            elif isinstance(port.tls, ManualTls):
                found.append(Server(key, f"listener {key}", None, external))
            # plain TCP presents no chain
    roots = frozenset(r.name for r in cluster.server_roots)
    populations = [
        Population(f"bundle {b.name}:{b.key}", f"clients in {b.population} (Bundle {b.name})", "bundle", roots)
        for b in (cluster.aio_bundle, *cluster.client_bundles)
    ]
    populations.append(Population("ca-bundle.pem", "clients outside the cluster (ca-bundle.pem)", "ca-bundle.pem",
                                  roots, external=True))
    if cluster.client_auth is not None:
        auth = cluster.client_auth
        populations.append(Population(
            "client-ca", f"the broker's client-CA ConfigMap {auth.config_map} (BrokerAuthentication {auth.name})",
            "client-CA ConfigMap", frozenset(r.name for r in auth.roots), devices=True))
    earlier: list[EarlierLeaves] = []
    for rotation in cluster.rotations:
        if rotation.kind == "clientRoot":
            continue
        old_root = rotation.from_ if rotation.kind == "serverRoot" and rotation.from_ else cluster.signer.root.name
        switched = rotation.started_at("switch")
        if signs_with_new(rotation.phase) and switched is not None:
            earlier.append(EarlierLeaves(rotation.name, old_root, switched, None))
    device_roots, device_earlier = _devices(cluster)
    return ClusterState(
        cluster.name, cluster.trust_settings, cluster.signer.root.name, cluster.signer.generation, tuple(earlier),
        (*found[-1:], *found[:-1]), tuple(populations), device_roots, device_earlier, cluster.rotations,
    )


def _devices(cluster: Cluster) -> tuple[frozenset[str], tuple[EarlierLeaves, ...]]:
    """Client roots devices get certificates from now, and certificates left from before a switch.

    Devices are issued outside aiogen; the phase records when that moved: before `switch` devices
    still get certificates from the old root, from `switch` on from the new one, and the old
    certificates live on for the old root's maxLeafLifetime.
    """
    auth = cluster.client_auth
    if auth is None:
        return frozenset(), ()
    roots = {r.name for r in auth.roots}
    earlier: list[EarlierLeaves] = []
    for rotation in cluster.rotations:
        if rotation.kind != "clientRoot" or rotation.from_ is None or rotation.to is None:
            continue
        if not signs_with_new(rotation.phase):
            roots.discard(rotation.to)
            continue
        roots.discard(rotation.from_)
        switched = rotation.started_at("switch")
        if switched is not None:
            earlier.append(EarlierLeaves(rotation.name, rotation.from_, switched, rotation.from_max_leaf_lifetime))
    return frozenset(roots), tuple(earlier)
