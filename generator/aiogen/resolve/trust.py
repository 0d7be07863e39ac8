"""Which roots does each namespace trust, and through which objects? The pinned-roots ConfigMap,
the AIO trust Bundle and the client Bundles trust-manager distributes, with their selectors
(https://cert-manager.io/docs/trust/trust-manager/)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiogen.model import names
from aiogen.model.plan import Bundle, LabelSelector, Namespaces, Signer
from aiogen.resolve.fleet import ClusterScope, S
from aiogen.yamlio.document import PathKey, shown

if TYPE_CHECKING:
    from aiogen.model import spec

TRUST_NAMESPACE_DOC = "https://cert-manager.io/docs/trust/trust-manager/#trust-namespace"


def trust_objects(scope: ClusterScope, trust: spec.Trust, ns: Namespaces) -> tuple[str, Bundle, tuple[Bundle, ...]]:
    """The pinned-roots ConfigMap name, the AIO Bundle and the client Bundles of a cluster."""
    ctx = scope.ctx
    tpath = (*scope.path, "trust") if scope.cluster.trust else (*S, "defaults", "trust")
    ctx.check_name((*tpath, "pinnedRootsConfigMap"), trust.pinned_roots_config_map, "subdomain")
    ctx.check_name((*tpath, "aio", "name"), trust.aio.name, "subdomain")
    _check_key(scope, (*tpath, "aio", "key"), trust.aio.key)
    aio = Bundle(
        trust.aio.name,
        trust.aio.key,
        LabelSelector((), (("kubernetes.io/metadata.name", "In", (ns.aio,)),)),
        f"the AIO namespace {shown(ns.aio)}",
    )
    bundles: list[Bundle] = []
    seen = {trust.aio.name}
    for index, client in enumerate(trust.clients):
        cpath = (*tpath, "clients", index)
        ctx.check_name((*cpath, "name"), client.name, "subdomain")
        _check_key(scope, (*cpath, "key"), client.key)
        if client.name in seen:
            ctx.error(
                (*cpath, "name"),
                f"Bundle {shown(client.name)} is already defined; Bundles are cluster-scoped "
                "and their target ConfigMaps take the Bundle's name",
            )
        seen.add(client.name)
        selector = _selector(scope, (*cpath, "namespaceSelector"), client.namespace_selector)
        bundles.append(Bundle(client.name, client.key, selector, _describe_selector(selector)))
    if trust.pinned_roots_config_map in seen:
        ctx.error(
            (*tpath, "pinnedRootsConfigMap"),
            f"{shown(trust.pinned_roots_config_map)} is also a Bundle name; "
            "trust-manager would write the Bundle's target over the pinned roots in the trust namespace",
        )
    return trust.pinned_roots_config_map, aio, tuple(bundles)


def _selector(scope: ClusterScope, path: PathKey, sel: spec.LabelSelector) -> LabelSelector:
    """A namespace selector that targets some namespaces, in Kubernetes label syntax."""
    ctx = scope.ctx
    if not sel.match_labels and not sel.match_expressions:
        ctx.error(
            path,
            "an empty selector targets every namespace (and a future trust-manager only its own)",
            "give matchLabels or matchExpressions",
        )
    for key, value in sel.match_labels.items():
        _check_label(scope, (*path, "matchLabels", key), key, value)
    for i, expr in enumerate(sel.match_expressions):
        epath = (*path, "matchExpressions", i)
        _check_label(scope, (*epath, "key"), expr.key, None)
        if expr.operator in ("In", "NotIn") and not expr.values:
            ctx.error((*epath, "values"), f"operator {expr.operator} needs values")
        if expr.operator in ("Exists", "DoesNotExist") and expr.values:
            ctx.error((*epath, "values"), f"operator {expr.operator} takes no values")
        for j, value in enumerate(expr.values):
            problem = names.label_value_problem(value)
            if problem:
                ctx.error((*epath, "values", j), f"{shown(value)} {problem}")
    return LabelSelector(
        tuple(sorted(sel.match_labels.items())),
        tuple((e.key, e.operator, tuple(e.values)) for e in sel.match_expressions),
    )


def _check_label(scope: ClusterScope, path: PathKey, key: str, value: str | None) -> None:
    problem = names.label_key_problem(key)
    if problem:
        scope.ctx.error(path, f"{shown(key)} {problem}")
    problem = names.label_value_problem(value) if value is not None else None
    if problem:
        scope.ctx.error(path, f"{shown(value)} {problem}")


def _check_key(scope: ClusterScope, path: PathKey, key: str) -> None:
    problem = names.configmap_key_problem(key)
    if problem:
        scope.ctx.error(path, f"{shown(key)} {problem}")


def check_root_sources(scope: ClusterScope, signers: tuple[Signer, ...]) -> None:
    """An in-cluster root's Secret must live where trust-manager reads Bundle sources."""
    trust_ns = scope.ns.trust
    for signer in signers:
        root = signer.root
        if root.in_cluster is not None and signer.namespace != trust_ns:
            scope.ctx.error(
                (*scope.path, "pki"),
                f"in-cluster root {shown(root.name)} would live in namespace "
                f"{shown(signer.namespace)}, but trust-manager reads Bundle sources only from the trust "
                f"namespace {shown(trust_ns)} ({TRUST_NAMESPACE_DOC})",
                "use a ClusterIssuer with clusterResource == trust namespace, or bring a root by its PEM",
            )


def _describe_selector(selector: LabelSelector) -> str:
    parts = [f"{k}={v}" for k, v in selector.match_labels]
    parts += [f"{k} {op} ({', '.join(vals)})" if vals else f"{k} {op}" for k, op, vals in selector.match_expressions]
    return "namespaces labelled " + ", ".join(parts)
