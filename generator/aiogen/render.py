"""Plan → resources: one Jinja2 template per kind, fed only by the Plan.

Each template's text is parsed back into a mapping at once, so a template that writes invalid
YAML fails loudly. The same function serves `aiogen render`, the KRM function and every test.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiogen.durations import format_duration
from aiogen.errors import AiogenError
from aiogen.plan import SELF_SIGNED_ISSUER, AutomaticTls, Cluster, InClusterCA, ManualTls, Plan, RootCA

if TYPE_CHECKING:
    import jinja2

TEMPLATES = Path(__file__).resolve().parent / "templates"
_ECDSA_SIZES = {"Ec256": 256, "Ec384": 384, "Ec521": 521}


@dataclass(frozen=True)
class Resource:
    """One rendered Kubernetes object (a mapping, in the key order its template wrote)."""

    obj: dict[str, Any]

    @property
    def api_version(self) -> str:
        return str(self.obj["apiVersion"])

    @property
    def kind(self) -> str:
        return str(self.obj["kind"])

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])

    @property
    def namespace(self) -> str | None:
        ns = self.obj["metadata"].get("namespace")
        return str(ns) if ns is not None else None


@dataclass(frozen=True)
class RenderedCluster:
    name: str
    resources: tuple[Resource, ...]
    extra_files: tuple[tuple[str, str], ...]  # (file name, text): trust settings, ca-bundle.pem


_env: jinja2.Environment | None = None


_NOT_YAML_SAFE = re.compile("[^\t\n\r\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _quote(value: object) -> str:
    """A YAML double-quoted scalar (JSON string syntax) for any string."""
    return _NOT_YAML_SAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.encoder.encode_basestring(str(value)))


def _environment() -> jinja2.Environment:
    global _env
    if _env is None:
        import jinja2

        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(TEMPLATES)),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            auto_reload=False,  # package data: compile each template once, never stat it again
        )
        # json.dumps(str(value), ensure_ascii=False) without building an encoder on every call; characters
        # YAML may not hold raw (DEL, C1 controls, surrogates) are escaped as \uXXXX
        env.filters["q"] = _quote
        _env = env
    return _env


_LOADER: Any = None


def _yaml_loader() -> Any:
    """PyYAML's safe loader (the C one when libyaml is there), remembering implicit tags."""
    global _LOADER
    if _LOADER is None:
        import yaml

        base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

        class Loader(base):  # type: ignore[misc, valid-type]
            # Resolving a plain scalar's tag is a regex match in Python, once per key and value of
            # every document; templates repeat the same keys and most values, so remember them.
            _tags: dict[tuple[Any, Any, Any], Any] = {}  # noqa: RUF012 - one memo for every loader

            def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
                key = (kind, value, implicit)
                try:
                    tag = self._tags.get(key)
                except TypeError:  # an unhashable argument: no memo
                    return super().resolve(kind, value, implicit)
                if tag is None:
                    tag = super().resolve(kind, value, implicit)
                    if len(self._tags) < 4096:
                        self._tags[key] = tag
                return tag

        _LOADER = Loader
    return _LOADER


def _resource(template: str, **context: Any) -> Resource:
    import yaml

    text = _environment().get_template(template).render(**context)
    try:
        obj = _parse(text)
    except yaml.YAMLError as error:  # a template bug, never user input
        raise RuntimeError(f"template {template} produced invalid YAML: {error}\n{text}") from error
    if not isinstance(obj, dict):
        raise RuntimeError(f"template {template} produced {type(obj).__name__}, not a mapping")
    return Resource(obj)


_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"


class _NotPlain(Exception):
    """A node the direct walk leaves to PyYAML's constructor (merge key, explicit tag, ...)."""


def _parse(text: str) -> Any:
    """``yaml.load(text, Loader=CSafeLoader)``, in about half the time.

    The (C) composer builds the node tree and a direct walk turns plain mappings, sequences and
    strings into Python objects; any other scalar goes to the loader's own constructor, and any
    other node to its `construct_document`, so the result is exactly what `yaml.load` returns.
    Every call builds fresh objects, so no two resources share a mutable one. (An LRU of texts
    with a copy per hit was tried: on fleets the copies cost as much as the parses they saved.)
    """
    from yaml import nodes

    loader = _yaml_loader()(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        try:
            return _build(root, loader, nodes.ScalarNode, nodes.MappingNode, nodes.SequenceNode)
        except _NotPlain:
            return loader.construct_document(root)
    finally:
        loader.dispose()


def _build(node: Any, loader: Any, scalar: type[Any], mapping: type[Any], sequence: type[Any]) -> Any:
    """Plain data of a node: a module-level function, so a parse leaves no reference cycle behind."""
    kind = type(node)
    if kind is scalar:
        return node.value if node.tag == _STR else loader.construct_object(node)
    if kind is mapping and node.tag == _MAP:
        out = {}
        for key, value in node.value:
            if type(key) is not scalar or key.tag != _STR:
                raise _NotPlain
            out[key.value] = _build(value, loader, scalar, mapping, sequence)
        return out
    if kind is sequence and node.tag == _SEQ:
        return [_build(item, loader, scalar, mapping, sequence) for item in node.value]
    raise _NotPlain


def render(plan: Plan, clusters: Sequence[str] | None = None) -> list[RenderedCluster]:
    """Render the named clusters (all when None), in spec order."""
    return list(iter_render(plan, clusters))


def iter_render(plan: Plan, clusters: Sequence[str] | None = None) -> Iterator[RenderedCluster]:
    """`render`, one cluster at a time, so a large fleet never holds every resource at once.

    Unknown cluster names are refused before the first cluster is rendered.
    """
    for cluster in select(plan, clusters):
        yield render_cluster(plan, cluster)


def select(plan: Plan, clusters: Sequence[str] | None) -> list[Cluster]:
    """The Plan's clusters named on the command line (all when None), in spec order."""
    if not clusters:
        return list(plan.clusters)
    known = {c.name for c in plan.clusters}
    missing = [n for n in clusters if n not in known]
    if missing:
        raise AiogenError.single(
            f"no cluster named {', '.join(repr(m) for m in missing)} in the spec",
            hint=f"clusters: {', '.join(c.name for c in plan.clusters)}",
        )
    chosen = set(clusters)
    return [c for c in plan.clusters if c.name in chosen]


def render_cluster(plan: Plan, cluster: Cluster) -> RenderedCluster:
    resources = list(_resources(cluster))
    _check_unique(cluster, resources)
    return RenderedCluster(cluster.name, tuple(resources), _extra_files(plan, cluster))


def _resources(c: Cluster) -> Iterable[Resource]:
    # CA material: Key Vault syncs, in-cluster CAs
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
    # trust distribution
    pinned = [r for r in c.server_roots if r.pinned]
    if pinned:
        yield _resource("configmap.yaml.j2", name=c.pinned_config_map, namespace=c.namespaces.trust,
                        data=[(_pinned_key(r), _pem(r)) for r in pinned])
    sources = [
        {"config_map": c.pinned_config_map, "secret": None, "key": _pinned_key(r)} if r.pinned
        else {"config_map": None, "secret": r.in_cluster.secret_name if r.in_cluster else "", "key": "tls.crt"}
        for r in c.server_roots
    ]
    for bundle in (c.aio_bundle, *c.client_bundles):
        yield _resource("bundle.yaml.j2", name=bundle.name, key=bundle.key, sources=sources,
                        match_labels=bundle.selector.match_labels,
                        match_expressions=bundle.selector.match_expressions)
    # broker
    if c.client_auth is not None:
        auth = c.client_auth
        yield _resource("configmap.yaml.j2", name=auth.config_map, namespace=auth.namespace,
                        data=[(auth.key, "".join(r.certificate.pem for r in auth.roots))])
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


def _pinned_key(root: RootCA) -> str:
    return f"{root.name}.pem"


def _pem(root: RootCA) -> str:
    assert root.certificate is not None
    return root.certificate.pem


def _check_unique(cluster: Cluster, resources: list[Resource]) -> None:
    seen: set[tuple[str, str, str | None, str]] = set()
    for r in resources:
        key = (r.api_version.split("/")[0], r.kind, r.namespace, r.name)
        if key in seen:
            where = f"namespace {r.namespace!r}" if r.namespace else "cluster scope"
            raise AiogenError.single(
                f"cluster {cluster.name!r}: two {r.kind} objects named {r.name!r} in {where}",
                hint="rename one of them in the spec (issuer, Bundle, ConfigMap or Secret names)",
            )
        seen.add(key)


def _extra_files(plan: Plan, c: Cluster) -> tuple[tuple[str, str], ...]:
    ts = c.trust_settings
    header = f"# Generated by aiogen from topology {plan.name!r}, cluster {c.name!r}. Do not edit.\n"
    args = (
        header
        + "# Pass these to `az iot ops create` so AIO uses the issuer and trust bundle rendered here:\n"
        + ts.cli_arguments()
        + "\n"
    )
    arm = {
        "trustConfig": {
            "source": "CustomerManaged",
            "settings": {
                "issuerName": ts.issuer_name,
                "issuerKind": ts.issuer_kind,
                "configMapName": ts.config_map_name,
                "configMapKey": ts.config_map_key,
            },
        }
    }
    bundle = header + "# Roots that MQTT clients outside Kubernetes must trust in the current phase.\n"
    for root in c.server_roots:
        if root.certificate is not None:
            bundle += f"# {root.name}: {root.certificate.subject}\n{root.certificate.pem}"
        else:
            assert root.in_cluster is not None
            bundle += (
                f"# {root.name} is created in-cluster by cert-manager; fetch it after bootstrap with:\n"
                f"#   kubectl get secret -n {root.in_cluster.namespace} {root.in_cluster.secret_name} "
                "-o jsonpath='{.data.tls\\.crt}' | base64 -d\n"
            )
    return (
        ("aio-trust-settings.txt", args),
        ("aio-trust-settings.json", json.dumps(arm, indent=2, sort_keys=False) + "\n"),
        ("ca-bundle.pem", bundle),
    )
