"""Who connects to each listener port, and with what? The client populations of ``aiogen simulate``.

* **in-cluster**: one per trust-manager Bundle (the AIO namespace's, and each labelled-namespace
  Bundle); trust = the Plan's ``server_roots``; they dial the in-cluster name when the listener's
  SANs hold it, else the external name (`aiogen.model.dialing`). On an X.509 port they present
  a device certificate (of the phase's first device root) unless the port falls back to
  service-account tokens.
* **external**: ``ca-bundle.pem`` (the same roots); they dial the external name.
* **x509**: devices of each client root whose devices connect in the phase; they dial the external
  name too (a device is outside the cluster), and with none the check fails: no name to dial.

Every cluster also runs AIO's default listener (`aiogen.model.dialing.default_listener`), a
ClusterIP server its in-cluster clients reach.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from aiogen.model.dialing import NO_NAME_TO_DIAL, external_name, in_cluster_dial, servers
from aiogen.model.phases import signs_with_new
from aiogen.model.plan import AutomaticTls, ClientRoot, Cluster, Listener, ListenerPort
from aiogen.simulate.report import Kind


@dataclass(frozen=True)
class Population:
    kind: Kind
    name: str
    hostname: str | None
    device_root: ClientRoot | None = None
    problem: str | None = None  # why this population cannot try at all
    suffix: str = ""  # qualifies a stale device population

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}{self.suffix}"

    @property
    def key(self) -> str:
        base = "external" if self.kind == "external" else f"{self.kind}.{self.name}"
        return base + self.suffix.replace(" ", "-").replace("(", "").replace(")", "")


def device_roots(cluster: Cluster) -> tuple[ClientRoot, ...]:
    """Client roots whose devices connect now: before a client-root switch the old, after it the new."""
    if cluster.client_auth is None:
        return ()
    roots = list(cluster.client_auth.roots)
    for rotation in cluster.rotations:
        if rotation.kind != "clientRoot":
            continue
        leaving = rotation.from_ if signs_with_new(rotation.phase) else rotation.to
        roots = [r for r in roots if r.name != leaving]
    return tuple(roots)


def x509_auth(cluster: Cluster, port: ListenerPort) -> tuple[bool, bool]:
    """(does the port authenticate clients by X.509, may a client come without a certificate)."""
    x509_port = port.authentication == "x509" and cluster.client_auth is not None
    fallback = bool(cluster.client_auth and cluster.client_auth.service_account_token_fallback)
    return x509_port, fallback


def populations(cluster: Cluster, listener: Listener, port: ListenerPort) -> list[Population]:
    assert isinstance(port.tls, AutomaticTls)
    tls = port.tls
    x509_port, fallback = x509_auth(cluster, port)
    devices = device_roots(cluster)
    presented = devices[0] if x509_port and not fallback and devices else None
    out = [Population("in-cluster", bundle.name, in_cluster_dial(listener, tls), presented)
           for bundle in (cluster.aio_bundle, *cluster.client_bundles)]
    if listener.service_type == "ClusterIp":
        return out
    external = external_name(listener, tls)
    if not x509_port or fallback:
        out.append(Population("external", "ca-bundle.pem", external, None, None if external else NO_NAME_TO_DIAL))
    if x509_port:
        for root in devices:
            out.append(Population("x509", root.name, external, root, None if external else DEVICES_NO_NAME))
    return out


DEVICES_NO_NAME = ("the certificate has no DNS or IP SAN outside the cluster: devices connecting from outside have "
                   "no name to dial (add san.dns or san.ip)")


def tls_ports(cluster: Cluster) -> Iterator[tuple[int, Listener, int, ListenerPort]]:
    """Every listener port of the cluster, then AIO's default listener's."""
    for li, listener in enumerate(servers(cluster)):
        for pi, port in enumerate(listener.ports):
            yield li, listener, pi, port


