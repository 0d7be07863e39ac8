"""Which server certificate does a listener port present? Automatic TLS (cert-manager issues it,
with these SANs, lifetime and key) or Manual TLS (an existing Secret)
(https://learn.microsoft.com/azure/iot-operations/manage-mqtt-broker/howto-configure-tls-auto)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from aiogen.model import names
from aiogen.model.plan import AutomaticTls, ManualTls
from aiogen.model.record import record
from aiogen.model.spec_compiled import blank
from aiogen.resolve.context import Context
from aiogen.resolve.fleet import ClusterScope, S
from aiogen.resolve.lifetimes import check_lifetime
from aiogen.yamlio.document import PathKey, shown

if TYPE_CHECKING:
    from aiogen.model import spec


@record
class LeafDefaults:
    """A cluster's leaf settings (its override, else spec.defaults), and where each was written."""

    duration: timedelta
    renew_before: timedelta
    private_key: spec.PrivateKey
    duration_at: PathKey
    renew_at: PathKey

    @classmethod
    def of(cls, scope: ClusterScope) -> LeafDefaults:
        d = scope.fleet.spec.defaults.leaf
        lo: spec.LeafOverride = scope.cluster.leaf or blank("LeafOverride")
        here: PathKey = (*scope.path, "leaf")
        there: PathKey = (*S, "defaults", "leaf")
        return cls(
            lo.duration or d.duration,
            lo.renew_before or d.renew_before,
            lo.private_key or d.private_key,
            (*(here if lo.duration else there), "duration"),
            (*(here if lo.renew_before else there), "renewBefore"),
        )


def server_tls(
    scope: ClusterScope,
    path: PathKey,
    listener: spec.Listener,
    service: str,
    port: spec.ListenerPort,
    leaf: LeafDefaults,
) -> AutomaticTls | ManualTls | None:
    """The TLS of one port (None: plain TCP)."""
    tls = port.tls
    if tls is None:
        return None
    tpath = (*path, "tls")
    if tls.mode == "Manual":
        return _manual(scope.ctx, tpath, tls)
    ctx = scope.ctx
    if tls.secret_ref is not None:
        ctx.error(
            (*tpath, "secretRef"), "secretRef is for Manual TLS; Automatic TLS gets its certificate from the issuer"
        )
    duration = tls.duration or leaf.duration
    renew = tls.renew_before or leaf.renew_before
    key = tls.private_key or leaf.private_key
    check_lifetime(
        ctx,
        tpath,
        duration,
        renew,
        duration_at=(*tpath, "duration") if tls.duration else leaf.duration_at,
        renew_at=(*tpath, "renewBefore") if tls.renew_before else leaf.renew_at,
    )
    dns = _dns_names(ctx, tpath, tls.san, service, scope.ns.aio)
    ips = _ip_addresses(ctx, tpath, tls.san)
    external_names = [n for n in dns if n != service and not n.startswith(f"{service}.{scope.ns.aio}")]
    if not external_names and not ips and listener.service_type in ("LoadBalancer", "NodePort"):
        what = "no SAN" if not dns else "only in-cluster SANs"
        if port.authentication == "x509":  # devices are outside the cluster: they dial an external name
            ctx.error(
                (*tpath, "san"),
                f"{what}: devices on this X.509 port have no name to dial that the certificate holds",
                "add the DNS name or IP address devices dial to san.dns or san.ip",
            )
        else:
            ctx.warn(
                (*tpath, "san"),
                f"{what}: external clients will fail hostname verification",
                "add the DNS name or IP address clients dial",
            )
    secret = tls.secret_name or f"{listener.name}-{port.port}-server"
    ctx.check_name((*tpath, "secretName"), secret, "subdomain")
    return AutomaticTls(
        scope.issuer, duration, renew, key.algorithm, key.rotation_policy, secret, tuple(dns), tuple(ips)
    )


def _manual(ctx: Context, tpath: PathKey, tls: spec.Tls) -> ManualTls | None:
    for name, key in (("duration", "duration"), ("renew_before", "renewBefore"), ("private_key", "privateKey"),
                      ("secret_name", "secretName")):
        if getattr(tls, name) is not None:
            ctx.error(tpath, f"Manual TLS uses an existing Secret; {key} applies to Automatic only")
    if tls.san.dns or tls.san.ip or tls.san.in_cluster_names:
        ctx.error(
            (*tpath, "san"),
            "Manual TLS uses an existing Secret; its SANs are whatever that certificate holds",
            "drop san, or use mode: Automatic",
        )
    if not tls.secret_ref:
        ctx.error(
            (*tpath, "secretRef"),
            "Manual TLS needs secretRef: a kubernetes.io/tls Secret in the AIO namespace holding leaf + intermediates",
        )
        return None
    ctx.check_name((*tpath, "secretRef"), tls.secret_ref, "subdomain")
    return ManualTls(tls.secret_ref)


def _dns_names(ctx: Context, tpath: PathKey, san: spec.San, service: str, aio_ns: str) -> list[str]:
    dns: list[str] = []
    for i, name in enumerate(san.dns):
        problem = names.dns_name_problem(name)
        if problem:
            ctx.error((*tpath, "san", "dns", i), f"{shown(name)} {problem}")
        elif name.lower() in dns:
            ctx.error((*tpath, "san", "dns", i), f"{shown(name)} is listed twice")
        else:
            dns.append(name.lower())
    if san.in_cluster_names:
        for name in (
            service,
            f"{service}.{aio_ns}",
            f"{service}.{aio_ns}.svc",
            f"{service}.{aio_ns}.svc.cluster.local",
        ):
            if name not in dns:
                dns.append(name)
    return dns


def _ip_addresses(ctx: Context, tpath: PathKey, san: spec.San) -> list[str]:
    ips: list[str] = []
    for i, ip in enumerate(san.ip):
        problem = names.ip_problem(ip)
        if problem:
            ctx.error((*tpath, "san", "ip", i), f"{shown(ip)} {problem}")
            continue
        canonical = names.canonical_ip(ip)
        if canonical in ips:
            ctx.error((*tpath, "san", "ip", i), f"{shown(ip)} is listed twice")
        else:
            ips.append(canonical)
    return ips
