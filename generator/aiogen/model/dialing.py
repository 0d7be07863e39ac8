"""Which name does each client dial, and which servers does a cluster run? Shared by simulate and rollout.

* In-cluster clients dial the Service's in-cluster name ``<service>.<aio-ns>.svc.cluster.local``
  when the listener's SANs hold the in-cluster names (``inClusterNames: true``), else its
  external name.
* External clients, and devices on an X.509 port, dial the external name: the first DNS SAN that
  is not an in-cluster name, else the first IP SAN. With none they have no name to dial.
* AIO's default listener (Service ``aio-broker``, port 18883, ClusterIP) is a server too: aiogen
  does not render it, but it is signed by the issuer the trust settings name, with AIO's 90-day
  leaves and the in-cluster names of ``aio-broker``
  (https://learn.microsoft.com/azure/iot-operations/manage-mqtt-broker/howto-configure-tls-auto).
"""

from __future__ import annotations

from datetime import timedelta

from aiogen.model.plan import AutomaticTls, Cluster, Listener, ListenerPort

DEFAULT_LISTENER_SERVICE = "aio-broker"
DEFAULT_LISTENER_PORT = 18883
# The sources disagree on its leaf lifetime (720h in the preview docs, 90 days in the v1 docs); take the longer.
DEFAULT_LISTENER_LIFETIME = timedelta(days=90)
DEFAULT_LISTENER_KEY = f"{DEFAULT_LISTENER_SERVICE}:{DEFAULT_LISTENER_PORT}"
DEFAULT_LISTENER_LABEL = f"AIO's default listener {DEFAULT_LISTENER_KEY}"
NO_NAME_TO_DIAL = ("the certificate has no DNS or IP SAN outside the cluster: external clients have no name to dial "
                   "(add san.dns or san.ip)")


def in_cluster_names(listener: Listener) -> tuple[str, ...]:
    """The Service's in-cluster DNS names, shortest first (what ``inClusterNames: true`` adds)."""
    svc, ns = listener.service_name, listener.namespace
    return (svc, f"{svc}.{ns}", f"{svc}.{ns}.svc", f"{svc}.{ns}.svc.cluster.local")


def external_name(listener: Listener, tls: AutomaticTls) -> str | None:
    """The name external clients dial: the first DNS SAN that is not in-cluster, else the first IP SAN."""
    inside = set(in_cluster_names(listener))
    return next((d for d in tls.san_dns if d not in inside), None) or (tls.san_ip[0] if tls.san_ip else None)


def in_cluster_dial(listener: Listener, tls: AutomaticTls) -> str:
    """The name in-cluster clients dial."""
    names = in_cluster_names(listener)
    if set(names) & set(tls.san_dns):
        return names[-1]
    return external_name(listener, tls) or names[-1]


def default_listener(cluster: Cluster) -> Listener:
    """AIO's default listener as a Listener of the Plan's types (aiogen never renders it)."""
    shell = Listener(DEFAULT_LISTENER_SERVICE, cluster.namespaces.aio, "default", DEFAULT_LISTENER_SERVICE,
                     "ClusterIp", ())
    tls = AutomaticTls(cluster.issuer, DEFAULT_LISTENER_LIFETIME, timedelta(days=30), "Ec256", "Always",
                       "aio-broker-internal-cert", in_cluster_names(shell), ())
    port = ListenerPort(DEFAULT_LISTENER_PORT, None, "Mqtt", "serviceAccountToken", None, tls)
    return Listener(shell.name, shell.namespace, shell.broker_ref, shell.service_name, shell.service_type, (port,))


def servers(cluster: Cluster) -> tuple[Listener, ...]:
    """Every listener that presents a certificate: the spec's, then AIO's default listener."""
    return (*cluster.listeners, default_listener(cluster))


def dialled(listener: Listener, port: ListenerPort, *, external: bool) -> str | None:
    """The name a population dials on ``port`` (None: it has none to dial)."""
    if not isinstance(port.tls, AutomaticTls):
        return None
    return external_name(listener, port.tls) if external else in_cluster_dial(listener, port.tls)


def san_names(tls: AutomaticTls) -> tuple[str, ...]:
    return (*tls.san_dns, *tls.san_ip)


def name_matches(hostname: str, names: tuple[str, ...] | list[str]) -> bool:
    """Does a certificate naming ``names`` serve ``hostname`` (RFC 6125, one-label wildcards)?"""
    host = hostname.lower().rstrip(".")
    for name in names:
        name = name.lower()
        if name == host:
            return True
        if name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]:
            return True
    return False
