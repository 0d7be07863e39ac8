"""Which client (device) certificates does a broker accept? The BrokerAuthentication of X.509
client authentication: the client roots it trusts in the current phase, and its authorization
attributes (https://learn.microsoft.com/azure/iot-operations/manage-mqtt-broker/howto-configure-authentication)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiogen.model.plan import ClientAuth
from aiogen.resolve.ca import CONTROL_CHARACTERS
from aiogen.resolve.context import Context
from aiogen.resolve.fleet import ClusterScope
from aiogen.resolve.rotations import trusted_client_roots
from aiogen.yamlio.document import PathKey, listing, shown

if TYPE_CHECKING:  # the Topology's classes, for annotations: resolve never builds one
    from aiogen.model import spec

AIO_X509_DOC = "https://learn.microsoft.com/azure/iot-operations/manage-mqtt-broker/howto-configure-authentication"


def client_auth(scope: ClusterScope) -> ClientAuth | None:
    """The cluster's X.509 BrokerAuthentication, or None when it has none."""
    x509 = scope.cluster.broker.authentication.x509
    if x509 is None:
        return None
    ctx, fleet = scope.ctx, scope.fleet
    path = (*scope.path, "broker", "authentication", "x509")
    ctx.check_name((*path, "name"), x509.name, "subdomain")
    ctx.check_name((*path, "clientCaConfigMap"), x509.client_ca_config_map, "subdomain")
    trust = scope.cluster.trust or fleet.spec.defaults.trust
    if x509.client_ca_config_map == trust.aio.name or x509.client_ca_config_map in {b.name for b in trust.clients}:
        ctx.error(
            (*path, "clientCaConfigMap"),
            f"{shown(x509.client_ca_config_map)} is also a trust Bundle's name; "
            "trust-manager would overwrite the client CAs in the AIO namespace",
        )
    defined = fleet.spec.client_roots
    names: list[str] = []
    for index, name in enumerate(x509.trusted_client_roots):
        if name not in defined:
            ctx.error(
                (*path, "trustedClientRoots", index),
                f"client root {shown(name)} is not defined in spec.clientRoots (defined: {listing(sorted(defined))})",
            )
        elif name in names:
            ctx.error((*path, "trustedClientRoots", index), f"client root {shown(name)} is listed twice")
        else:
            names.append(name)
    trusted = trusted_client_roots(names, scope.rotations, set(defined))
    roots = [fleet.client_roots.get(n) for n in sorted(trusted)]
    families = {r.certificate.key_family for r in roots if r is not None}
    if len(families) > 1:
        ctx.warn(
            (*path, "trustedClientRoots"),
            f"client roots mix key families ({', '.join(sorted(families))}); "
            f"AIO X.509 authentication needs one family per chain ({AIO_X509_DOC})",
        )
    _check_attributes(ctx, (*path, "authorizationAttributes"), x509.authorization_attributes)
    attributes = tuple(
        (key, attr.subject, tuple(sorted(attr.attributes.items())))
        for key, attr in x509.authorization_attributes.items()
    )
    return ClientAuth(
        x509.name,
        scope.ns.aio,
        x509.client_ca_config_map,
        "client_ca.pem",
        tuple(r for r in roots if r is not None),
        attributes,
        x509.service_account_token_fallback,
    )


def _check_attributes(ctx: Context, path: PathKey, attributes: dict[str, spec.AuthorizationAttribute]) -> None:
    """A subject or attribute with a newline, NUL or bidi override matches no certificate the broker
    sees and hides text from a reviewer; the broker compares printable text only."""
    for key, attr in attributes.items():
        if not attr.subject.isprintable():
            ctx.error((*path, key, "subject"), CONTROL_CHARACTERS)
        for name, value in attr.attributes.items():
            if not (name.isprintable() and value.isprintable()):
                ctx.error((*path, key, "attributes", name), CONTROL_CHARACTERS)
