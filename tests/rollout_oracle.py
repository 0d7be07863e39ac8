"""A brute-force oracle for `aiogen.rollout.check`, evaluated on the rendered manifests.

`rollout.check` reasons over Plans with one inequality (presented ⊆ before ∩ after). This oracle
does not: it renders both specs, takes every object that differs (plus `ca-bundle.pem` and the
out-of-band move of device issuance) as one update, and walks every order in which those updates
can land, across all clusters, evaluating each intermediate state the way the cluster would:

* a trust-manager Bundle resolves its sources against the pinned-roots ConfigMap and the root
  Secrets present in that state; when a source is missing it keeps its last target
  (https://cert-manager.io/docs/trust/trust-manager/);
* the issuer that AIO's trust settings name signs only when its CA Secret exists (a SecretSync,
  a CA Certificate whose own issuer is ready, or a Secret brought in beforehand), and every leaf
  it ever signed on the way stays valid;
* ca-bundle.pem and the broker's client-CA ConfigMap are read as PEM blocks.

A (server, client population) pair breaks when, in some reachable state, a root the server may
present is not in the population's trust. Leaves still valid from before the deployed spec's
switch come from the rotation dates, as the check's do; that history is the one input they share.

Interleavings are explored as paths through states (applied updates + what the path remembers:
Bundle targets, roots that signed), memoised, which visits every order without enumerating
permutations one by one. `every_interleaving` walks the product of all clusters; `per_cluster`
walks each cluster alone; a test shows they agree (clusters share no object).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiogen.model.durations import parse_duration
from aiogen.model.plan import Cluster, Plan
from aiogen.render import render_cluster
from aiogen.rollout.days import end_of_day
from aiogen.rollout.state import DEFAULT_LISTENER_KEY, DEFAULT_LISTENER_LIFETIME

ObjectId = tuple[str, str | None, str]  # kind, namespace, name
CA_BUNDLE = ("file", None, "ca-bundle.pem")
DEVICES = ("devices", None, "issuance")
_PEM = re.compile(r"-----BEGIN CERTIFICATE-----\n.*?-----END CERTIFICATE-----\n", re.DOTALL)
_IN_CLUSTER_LINE = re.compile(r"^# (\S+) is created in-cluster", re.MULTILINE)


def _blocks(text: str) -> list[str]:
    return _PEM.findall(text)


@dataclass(frozen=True)
class _Server:
    key: str
    external: bool
    lifetime: timedelta


@dataclass
class ClusterModel:
    """One cluster's deployed and proposed objects, and what the oracle needs to read them."""

    name: str
    old: dict[ObjectId, Any]
    new: dict[ObjectId, Any]
    updates: tuple[ObjectId, ...]
    issuer: ObjectId
    client_ca: ObjectId | None
    root_by_pem: dict[str, str]
    root_by_secret: dict[str, str]  # CA Secret (signer) → root name
    in_cluster_root_by_secret: dict[str, str]  # root Certificate's Secret → root name
    preexisting_secrets: frozenset[str]
    servers: tuple[_Server, ...]
    trust_namespace: str
    ca_namespace: str
    earlier_switches: tuple[tuple[str, datetime], ...]  # (root, end of switch day)
    device_earlier: tuple[tuple[str, datetime | None], ...]  # (root, until or None = unknown)

    def view(self, applied: frozenset[ObjectId], oid: ObjectId) -> Any:
        return self.new.get(oid) if oid in applied else self.old.get(oid)


def _objects(plan: Plan, cluster: Cluster) -> dict[ObjectId, Any]:
    rendered = render_cluster(plan, cluster)
    out: dict[ObjectId, Any] = {(r.kind, r.namespace, r.name): r.obj for r in rendered.resources}
    out[CA_BUNDLE] = dict(rendered.extra_files)["ca-bundle.pem"]
    out[DEVICES] = _device_roots(cluster)
    return out


def _device_roots(cluster: Cluster) -> frozenset[str]:
    """Client roots devices get new certificates from in this spec (issued outside the cluster)."""
    if cluster.client_auth is None:
        return frozenset()
    roots = {r.name for r in cluster.client_auth.roots}
    for rotation in cluster.rotations:
        if rotation.kind == "clientRoot" and rotation.from_ and rotation.to:
            roots.discard(rotation.to if rotation.phase in ("prepare", "distribute") else rotation.from_)
    return frozenset(roots)


def _history(cluster: Cluster) -> tuple[list[tuple[str, datetime]], list[tuple[str, datetime | None]]]:
    servers: list[tuple[str, datetime]] = []
    devices: list[tuple[str, datetime | None]] = []
    for rotation in cluster.rotations:
        switched = rotation.started_at("switch")
        if rotation.phase not in ("switch", "retire") or switched is None:
            continue
        if rotation.kind == "clientRoot":
            assert rotation.from_ is not None
            lifetime = rotation.from_max_leaf_lifetime
            devices.append((rotation.from_, None if lifetime is None else end_of_day(switched) + lifetime))
        else:
            root = rotation.from_ if rotation.kind == "serverRoot" and rotation.from_ else cluster.signer.root.name
            servers.append((root, end_of_day(switched)))
    return servers, devices


def _servers(objects: Iterable[Mapping[ObjectId, Any]]) -> tuple[_Server, ...]:
    found: dict[str, _Server] = {DEFAULT_LISTENER_KEY: _Server(DEFAULT_LISTENER_KEY, False, DEFAULT_LISTENER_LIFETIME)}
    for objs in objects:
        for (kind, _, _), obj in objs.items():
            if kind != "BrokerListener":
                continue
            external = obj["spec"]["serviceType"] in ("LoadBalancer", "NodePort")
            for port in obj["spec"]["ports"]:
                tls = port.get("tls")
                if not tls or tls["mode"] != "Automatic":
                    continue
                key = f"{obj['metadata']['name']}:{port['port']}"
                lifetime = parse_duration(tls["certManagerCertificateSpec"]["duration"])
                known = found.get(key)
                if known is None or lifetime > known.lifetime:
                    found[key] = _Server(key, external, lifetime)
    return tuple(found.values())


def model(old_plan: Plan, new_plan: Plan, name: str) -> ClusterModel:
    old_cluster, new_cluster = old_plan.cluster(name), new_plan.cluster(name)
    old, new = _objects(old_plan, old_cluster), _objects(new_plan, new_cluster)
    relevant = {"ConfigMap", "Bundle", "Issuer", "ClusterIssuer", "Certificate", "SecretSync", "file", "devices"}
    updates = tuple(sorted((oid for oid in set(old) | set(new) if oid[0] in relevant and old.get(oid) != new.get(oid)),
                           key=lambda oid: (oid[0], oid[1] or "", oid[2])))
    root_by_pem: dict[str, str] = {}
    root_by_secret: dict[str, str] = {}
    in_cluster: dict[str, str] = {}
    preexisting: set[str] = set()
    for cluster in (old_cluster, new_cluster):
        for signer in cluster.signers:
            root_by_secret[signer.secret_name] = signer.root.name
            if signer.source == "secret":
                preexisting.add(signer.secret_name)
        for root in (*cluster.server_roots, *(s.root for s in cluster.signers)):
            if root.certificate is not None:
                root_by_pem[root.certificate.pem] = root.name
            if root.in_cluster is not None:
                in_cluster[root.in_cluster.secret_name] = root.name
        if cluster.client_auth is not None:
            for client_root in cluster.client_auth.roots:
                root_by_pem[client_root.certificate.pem] = client_root.name
    ts = new_cluster.trust_settings
    issuer: ObjectId = (ts.issuer_kind, new_cluster.issuer_namespace, ts.issuer_name)
    auth = new_cluster.client_auth or old_cluster.client_auth
    client_ca: ObjectId | None = ("ConfigMap", auth.namespace, auth.config_map) if auth else None
    switches_old, devices_old = _history(old_cluster)
    switches_new, devices_new = _history(new_cluster)
    return ClusterModel(name, old, new, updates, issuer, client_ca, root_by_pem, root_by_secret, in_cluster,
                        frozenset(preexisting), _servers([old, new]), new_cluster.namespaces.trust,
                        new_cluster.ca_namespace, (*switches_old, *switches_new),
                        (*devices_old, *devices_new))


# ---------------------------------------------------------------- evaluating one state

Targets = tuple[tuple[str, frozenset[str] | None], ...]
Local = tuple[frozenset[ObjectId], Targets, frozenset[str], frozenset[str]]  # applied, targets, signed, devices


def _secret_exists(m: ClusterModel, applied: frozenset[ObjectId], namespace: str | None, secret: str,
                   depth: int = 0) -> bool:
    if secret in m.preexisting_secrets:
        return True
    if m.view(applied, ("SecretSync", namespace, secret)) is not None:
        return True
    for oid in (*m.old, *m.new):
        if oid[0] != "Certificate" or oid[1] != namespace:
            continue
        cert = m.view(applied, oid)
        if cert is None or cert["spec"]["secretName"] != secret:
            continue
        ref = cert["spec"]["issuerRef"]
        issuer = m.view(applied, (ref["kind"], namespace if ref["kind"] == "Issuer" else None, ref["name"]))
        if issuer is None:
            continue
        if "selfSigned" in issuer["spec"]:
            return True
        if depth < 4 and _secret_exists(m, applied, namespace, issuer["spec"]["ca"]["secretName"], depth + 1):
            return True
    return False


def _signing_root(m: ClusterModel, applied: frozenset[ObjectId]) -> str | None:
    issuer = m.view(applied, m.issuer)
    if issuer is None:
        return None
    secret = issuer["spec"]["ca"]["secretName"]
    namespace = m.issuer[1] if m.issuer[0] == "Issuer" else m.ca_namespace
    if not _secret_exists(m, applied, namespace, secret):
        return None  # the issuer is not ready: nothing is signed
    return m.root_by_secret[secret]


def _bundle_target(m: ClusterModel, applied: frozenset[ObjectId], bundle: Any) -> frozenset[str] | None:
    """The roots a Bundle writes in this state, or None when a source is missing (it keeps its last target)."""
    roots: set[str] = set()
    for source in bundle["spec"]["sources"]:
        if "configMap" in source:
            ref = source["configMap"]
            cm = m.view(applied, ("ConfigMap", m.trust_namespace, ref["name"]))
            found = cm["data"].get(ref["key"]) if cm is not None else None
            if found is None:
                return None
            roots.update(m.root_by_pem[block] for block in _blocks(found))
        else:
            secret = source["secret"]["name"]
            if secret not in m.in_cluster_root_by_secret or not _secret_exists(m, applied, m.trust_namespace, secret):
                return None
            roots.add(m.in_cluster_root_by_secret[secret])
    return frozenset(roots)


def _bundles(m: ClusterModel, applied: frozenset[ObjectId]) -> dict[str, Any]:
    out = {}
    for oid in sorted({*m.old, *m.new}, key=lambda o: (o[0], o[1] or "", o[2])):
        if oid[0] == "Bundle":
            obj = m.view(applied, oid)
            if obj is not None:
                out[f"bundle {oid[2]}:{obj['spec']['target']['configMap']['key']}"] = obj
    return out


def _enter(m: ClusterModel, applied: frozenset[ObjectId], targets: dict[str, frozenset[str]],
           signed: frozenset[str], devices: frozenset[str]) -> Local:
    """The state after ``applied`` landed, with what the path so far remembers."""
    new_targets: dict[str, frozenset[str]] = {}
    for key, bundle in _bundles(m, applied).items():
        target = _bundle_target(m, applied, bundle)
        if target is None:
            target = targets.get(key, frozenset())
        new_targets[key] = target
    root = _signing_root(m, applied)
    if root is not None:
        signed = signed | {root}
    devices = devices | m.view(applied, DEVICES)
    return applied, tuple(sorted(new_targets.items())), signed, devices


def _violations(m: ClusterModel, local: Local, now: datetime) -> set[tuple[str, str, str]]:
    applied, targets, signed, devices = local
    out: set[tuple[str, str, str]] = set()
    external_trust = set(m.root_by_pem[b] for b in _blocks(m.view(applied, CA_BUNDLE)))
    external_trust |= set(_IN_CLUSTER_LINE.findall(m.view(applied, CA_BUNDLE)))
    populations: list[tuple[str, frozenset[str], bool]] = [(key, roots, False) for key, roots in targets]
    populations.append(("ca-bundle.pem", frozenset(external_trust), True))
    for server in m.servers:
        presented = set(signed)
        presented |= {root for root, switch_end in m.earlier_switches if now < switch_end + server.lifetime}
        for key, trusted, external in populations:
            if external and not server.external:
                continue
            if not presented <= trusted:
                out.add((m.name, server.key, key))
    if m.client_ca is not None:
        cm = m.view(applied, m.client_ca)
        trusted_devices = {m.root_by_pem[b] for b in _blocks(cm["data"]["client_ca.pem"])} if cm else set()
        presented_devices = set(devices) | {root for root, until in m.device_earlier if until is None or now < until}
        if not presented_devices <= trusted_devices:
            out.add((m.name, "devices", "client-ca"))
    return out


def _start(m: ClusterModel) -> Local:
    empty: frozenset[ObjectId] = frozenset()
    return _enter(m, empty, {}, frozenset(), frozenset())


def _step(m: ClusterModel, local: Local, update: ObjectId) -> Local:
    applied, targets, signed, devices = local
    return _enter(m, applied | {update}, dict(targets), signed, devices)


# ---------------------------------------------------------------- walking the interleavings


def models(old_plan: Plan, new_plan: Plan) -> list[ClusterModel]:
    old_names = {c.name for c in old_plan.clusters}
    return [model(old_plan, new_plan, c.name) for c in new_plan.clusters if c.name in old_names]


def per_cluster(old_plan: Plan, new_plan: Plan, now: datetime) -> set[tuple[str, str, str]]:
    """Broken pairs, walking every order of each cluster's updates on its own."""
    broken: set[tuple[str, str, str]] = set()
    for m in models(old_plan, new_plan):
        seen: set[Local] = set()
        frontier = [_start(m)]
        while frontier:
            local = frontier.pop()
            if local in seen:
                continue
            seen.add(local)
            broken |= _violations(m, local, now)
            frontier += [_step(m, local, u) for u in m.updates if u not in local[0]]
    return broken


def every_interleaving(old_plan: Plan, new_plan: Plan, now: datetime, *, limit: int = 200_000
                       ) -> set[tuple[str, str, str]] | None:
    """Broken pairs, walking every order of all updates of all clusters together (None past ``limit`` states)."""
    ms = models(old_plan, new_plan)
    cache: dict[tuple[int, Local], set[tuple[str, str, str]]] = {}
    broken: set[tuple[str, str, str]] = set()
    seen: set[tuple[Local, ...]] = set()
    frontier = [tuple(_start(m) for m in ms)]
    while frontier:
        state = frontier.pop()
        if state in seen:
            continue
        seen.add(state)
        if len(seen) > limit:
            return None
        for index, (m, local) in enumerate(zip(ms, state, strict=True)):
            key = (index, local)
            if key not in cache:
                cache[key] = _violations(m, local, now)
            broken |= cache[key]
            for update in m.updates:
                if update not in local[0]:
                    frontier.append((*state[:index], _step(m, local, update), *state[index + 1 :]))
    return broken
