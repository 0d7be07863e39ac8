"""Which listeners does a broker expose, on which ports, with which TLS and authentication? Names,
Service types and ports unique across the broker (AIO's default listener holds port 18883 and
the ClusterIp type), and one key family per chain
(https://learn.microsoft.com/azure/iot-operations/manage-mqtt-broker/howto-configure-brokerlistener)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiogen.model import names
from aiogen.model.plan import AutomaticTls, ClientAuth, Listener, ListenerPort, Signer
from aiogen.model.record import field, record
from aiogen.resolve.fleet import ClusterScope
from aiogen.resolve.tls import LeafDefaults, server_tls
from aiogen.yamlio.document import PathKey, shown

if TYPE_CHECKING:
    from aiogen.model import spec

RESERVED_PORT = 18883  # the port of AIO's default listener


@record(frozen=False)
class _Taken:
    """What the listeners so far (and AIO's default listener) hold: each value, and by whom."""

    ports: dict[int, str] = field(default_factory=lambda: {RESERVED_PORT: "the default listener"})
    types: dict[str, str] = field(default_factory=lambda: {"ClusterIp": "the default listener"})
    names: dict[str, str] = field(default_factory=lambda: {"default": "AIO's default listener"})
    services: dict[str, str] = field(default_factory=lambda: {"aio-broker": "AIO's default listener"})


def resolve_listeners(
    scope: ClusterScope, signers: tuple[Signer, ...] | None, client_auth: ClientAuth | None
) -> tuple[Listener, ...]:
    """The broker's listeners (with ``signers`` None, only their own problems are reported)."""
    c = scope.cluster
    bpath = (*scope.path, "broker")
    leaf = LeafDefaults.of(scope)
    taken = _Taken()
    out: list[Listener] = []
    for li, listener in enumerate(c.broker.listeners):
        lpath = (*bpath, "listeners", li)
        service = _check_listener(scope, lpath, li, listener, taken)
        ports = tuple(
            _port(scope, (*lpath, "ports", pi), listener, service, port, leaf, client_auth, taken)
            for pi, port in enumerate(listener.ports)
        )
        out.append(Listener(listener.name, scope.ns.aio, c.broker.broker_ref, service, listener.service_type, ports))
    if c.broker.authentication.x509 is not None and not any(
        p.authentication == "x509" for lst in out for p in lst.ports
    ):
        scope.ctx.warn(
            (*bpath, "authentication", "x509"),
            "no port uses x509 authentication; the BrokerAuthentication is rendered but unused",
        )
    if signers is not None:
        _check_key_families(scope, signers, out, bpath)
    return tuple(out)


def _check_listener(scope: ClusterScope, lpath: PathKey, li: int, listener: spec.Listener, taken: _Taken) -> str:
    """Check a listener's name, Service and Service type; its Service name."""
    ctx = scope.ctx
    if listener.name in taken.names:
        ctx.error((*lpath, "name"), f"listener name {shown(listener.name)} is taken by {taken.names[listener.name]}")
    taken.names.setdefault(listener.name, f"listeners[{li}]")
    if len(listener.name) < 3 or names.label_problem(listener.name):
        ctx.error(
            (*lpath, "name"),
            f"{shown(listener.name)} must be 3-63 characters of lowercase letters, digits "
            "and '-', starting and ending alphanumeric (AIO resource name rule)",
        )
    service = listener.service_name or listener.name
    problem = names.label_problem(service)
    if problem:
        ctx.error((*lpath, "serviceName"), f"Service name {shown(service)} {problem}")
    if service in taken.services:
        ctx.error(
            (*lpath, "serviceName") if listener.service_name else (*lpath, "name"),
            f"Service {shown(service)} is taken by {taken.services[service]}",
        )
    taken.services.setdefault(service, f"listener {shown(listener.name)}")
    if listener.service_type in taken.types:
        hint = (
            "AIO allows one listener per service type; add ports to that listener"
            if listener.service_type != "ClusterIp"
            else "in-cluster ports belong on the default listener, which AIO manages; use LoadBalancer or NodePort"
        )
        ctx.error(
            (*lpath, "serviceType"),
            f"{listener.service_type} is already used by {taken.types[listener.service_type]}",
            hint,
        )
    taken.types.setdefault(listener.service_type, f"listener {shown(listener.name)}")
    return service


def _port(
    scope: ClusterScope,
    ppath: PathKey,
    listener: spec.Listener,
    service: str,
    port: spec.ListenerPort,
    leaf: LeafDefaults,
    client_auth: ClientAuth | None,
    taken: _Taken,
) -> ListenerPort:
    ctx = scope.ctx
    if port.port in taken.ports:
        port_hint = "18883 belongs to AIO's default listener" if port.port == RESERVED_PORT else None
        ctx.error((*ppath, "port"), f"port {port.port} is already used by {taken.ports[port.port]}", port_hint)
    taken.ports.setdefault(port.port, f"listener {shown(listener.name)}")
    if port.node_port is not None:
        if listener.service_type != "NodePort":
            ctx.error(
                (*ppath, "nodePort"), f"nodePort needs serviceType NodePort (this listener is {listener.service_type})"
            )
        elif not 30000 <= port.node_port <= 32767:
            ctx.warn(
                (*ppath, "nodePort"), f"{port.node_port} is outside Kubernetes' default NodePort range 30000-32767"
            )
    tls = server_tls(scope, ppath, listener, service, port, leaf)
    auth_ref = _authentication(scope, ppath, listener, port, client_auth)
    if port.tls is None:
        ctx.warn((*ppath, "tls"), "plain TCP: credentials and messages cross the network unencrypted")
    return ListenerPort(port.port, port.node_port, port.protocol, port.authentication, auth_ref, tls)


def _authentication(
    scope: ClusterScope,
    ppath: PathKey,
    listener: spec.Listener,
    port: spec.ListenerPort,
    client_auth: ClientAuth | None,
) -> str | None:
    """The BrokerAuthentication a port names (None: no authentication)."""
    x509 = scope.cluster.broker.authentication.x509
    if port.authentication == "x509":
        if client_auth is None and x509 is None:
            scope.ctx.error(
                (*ppath, "authentication"), "x509 needs broker.authentication.x509 (the client roots the broker trusts)"
            )
        if port.tls is None:
            scope.ctx.error((*ppath, "authentication"), "X.509 client authentication needs TLS on the port")
        return x509.name if x509 else None
    if port.authentication == "serviceAccountToken":
        return "default"
    if listener.service_type in ("LoadBalancer", "NodePort"):
        scope.ctx.warn((*ppath, "authentication"), "none: anyone who can reach this port can connect")
    return None


def key_family(algorithm: str | None) -> str | None:
    """EC or RSA for a cert-manager key algorithm name (Ec256, Rsa2048, ...)."""
    if algorithm is None:
        return None
    return "EC" if algorithm.startswith("Ec") else "RSA" if algorithm.startswith("Rsa") else algorithm


def _check_key_families(
    scope: ClusterScope, signers: tuple[Signer, ...], listeners: list[Listener], bpath: PathKey
) -> None:
    """Leaf, CA and root keys of one chain are one family; AIO X.509 authentication needs it."""
    for li, listener in enumerate(listeners):
        for pi, port in enumerate(listener.ports):
            if not isinstance(port.tls, AutomaticTls):
                continue
            leaf_family = key_family(port.tls.key_algorithm)
            where = (*bpath, "listeners", li, "ports", pi, "tls", "privateKey")
            for signer in signers:
                for what, algorithm in (
                    ("root " + signer.root.name, signer.root.key_algorithm),
                    (f"CA {signer.generation}", signer.key_algorithm),
                ):
                    family = key_family(algorithm)
                    if family is None or family == leaf_family:
                        continue
                    message = (
                        f"leaf key {port.tls.key_algorithm} ({leaf_family}) and {what} ({algorithm}) are "
                        "different key families"
                    )
                    if port.authentication == "x509":
                        scope.ctx.error(
                            where,
                            message + "; AIO X.509 authentication needs one family per chain",
                            f"use an {family} key algorithm",
                        )
                    else:
                        scope.ctx.warn(where, message)
