"""Random fleets in any rotation state, for the rollout property tests.

A `Fleet` fixes everything that does not change during a rollover (clusters, listeners, trust
bundles, which clusters a rotation moves); a `State` says where each rotation stands. `spec_for`
writes the spec of one state, so two states of the same fleet make a (deployed, proposed) pair.
PEM files are the checked-in example roots (examples/pki), used as the spec's base directory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from hypothesis import strategies as st

from aiogen.model.plan import Plan
from tests.helpers import EXAMPLES

PKI = EXAMPLES / "pki"
# before: no rotation, on the old chain; after: the rotation is finished, on the new chain.
Stage = Literal["before", "prepare", "distribute", "switch", "retire", "after"]
STAGES: tuple[Stage, ...] = ("before", "prepare", "distribute", "switch", "retire", "after")
Style = Literal["pinned-intermediate", "pinned-root", "in-cluster-root", "in-cluster-intermediate"]
STYLES: tuple[Style, ...] = ("pinned-intermediate", "pinned-root", "in-cluster-root", "in-cluster-intermediate")
START = date(2026, 12, 1)


@dataclass(frozen=True)
class ClusterShape:
    name: str
    leaf_hours: int
    node_port: bool  # a second, NodePort listener
    node_port_leaf_hours: int
    manual_port: bool  # a Manual TLS port on the NodePort listener
    client_bundles: int
    x509: bool
    moved: bool  # moved by the server rotation (pinned styles; in-cluster clusters always move)
    devices_moved: bool  # moved by the client-root rotation


@dataclass(frozen=True)
class Fleet:
    style: Style
    server_kind: Literal["serverRoot", "intermediate"]
    clusters: tuple[ClusterShape, ...]
    device_lifetime_days: int | None  # maxLeafLifetime of the old client root
    gaps: tuple[int, int, int]  # days between prepare→distribute→switch→retire


@dataclass(frozen=True)
class State:
    server: Stage
    devices: Stage


def started(stage: Stage, gaps: tuple[int, int, int]) -> dict[str, str]:
    days = [0, gaps[0], gaps[0] + gaps[1], gaps[0] + gaps[1] + gaps[2]]
    phases = ["prepare", "distribute", "switch", "retire"]
    if stage in ("before", "after"):
        return {}
    upto = phases.index(stage) + 1
    return {p: (START + timedelta(days=d)).isoformat() for p, d in zip(phases[:upto], days[:upto], strict=True)}


def day_of(stage: Stage, gaps: tuple[int, int, int]) -> date:
    days = {"before": 0, "prepare": 0, "distribute": gaps[0], "switch": gaps[0] + gaps[1],
            "retire": sum(gaps), "after": sum(gaps)}
    return START + timedelta(days=days[stage])


def _kv(cluster: str, generation: str) -> dict[str, Any]:
    return {"vault": f"kv-{cluster}", "certificateSecret": f"{cluster}-ica-{generation}",
            "keySecret": f"{cluster}-ica-{generation}-key", "clientID": "00000000-0000-4000-8000-00000000000c",
            "tenantID": "00000000-0000-4000-8000-00000000000a"}


def _in_cluster_root(cluster: str, generation: str) -> dict[str, Any]:
    return {"name": f"{cluster}-root-{generation}",
            "selfSigned": {"commonName": f"{cluster} root {generation}", "duration": "87600h",
                           "renewBefore": "17520h"}}


def _chain(fleet: Fleet, cluster: ClusterShape, generation: str) -> dict[str, Any]:
    """pki (or pki.next) for one CA generation: "a" is the old one, "b" the new one."""
    style = fleet.style
    if style == "pinned-intermediate":
        root = "contoso-root-2028" if generation == "b" and fleet.server_kind == "serverRoot" else "contoso-root-2025"
        return {"root": root, "intermediate": {"keyVault": _kv(cluster.name, generation)}}
    if style == "pinned-root":
        return {"root": "contoso-root-2025" if generation == "a" else "contoso-root-2028"}
    if style == "in-cluster-root":
        return {"root": _in_cluster_root(cluster.name, generation)}
    return {"root": _in_cluster_root(cluster.name, generation),
            "intermediate": {"inCluster": {"commonName": f"{cluster.name} ica {generation}", "duration": "8760h",
                                           "renewBefore": "2400h"}}}


def _pki(fleet: Fleet, cluster: ClusterShape, stage: Stage) -> dict[str, Any]:
    mode = "intermediate" if fleet.style in ("pinned-intermediate", "in-cluster-intermediate") else "single-root"
    moves = cluster.moved or fleet.style.startswith("in-cluster")
    if not moves or stage == "before":
        return {"mode": mode, **_chain(fleet, cluster, "a")}
    if stage == "after":
        return {"mode": mode, **_chain(fleet, cluster, "b")}
    return {"mode": mode, **_chain(fleet, cluster, "a"), "next": _chain(fleet, cluster, "b")}


def _listeners(cluster: ClusterShape) -> list[dict[str, Any]]:
    auth = "x509" if cluster.x509 else "serviceAccountToken"
    out: list[dict[str, Any]] = [{
        "name": "plant-mqtts", "serviceType": "LoadBalancer",
        "ports": [{"port": 8883, "authentication": auth,
                   "tls": {"san": {"dns": [f"mqtt.{cluster.name}.example"]}}}],
    }]
    if cluster.node_port:
        ports: list[dict[str, Any]] = [{
            "port": 8884, "nodePort": 30884, "authentication": "serviceAccountToken",
            "tls": {"san": {"ip": ["10.0.0.4"]}, "duration": f"{cluster.node_port_leaf_hours}h",
                    "renewBefore": f"{max(cluster.node_port_leaf_hours // 3, 1)}h"}}]
        if cluster.manual_port:
            ports.append({"port": 8885, "nodePort": 30885, "authentication": "serviceAccountToken",
                          "tls": {"mode": "Manual", "secretRef": "byo-cert"}})
        out.append({"name": "plant-nodeport", "serviceType": "NodePort", "ports": ports})
    return out


def spec_for(fleet: Fleet, state: State) -> dict[str, Any]:
    roots: dict[str, Any] = {}
    kv_root = fleet.style == "pinned-root"
    if fleet.style.startswith("pinned"):
        for name in ("contoso-root-2025", "contoso-root-2028"):
            roots[name] = {"certificate": {"file": f"{name}.pem"}}
            if kv_root:
                roots[name]["keyVault"] = {"vault": "kv-fleet", "certificateSecret": f"{name}-ca",
                                           "keySecret": f"{name}-key", "clientID": "00000000-0000-4000-8000-00000000000c",
            "tenantID": "00000000-0000-4000-8000-00000000000a"}
    client_roots: dict[str, Any] = {
        "contoso-devices-2025": {"certificate": {"file": "contoso-devices-2025.pem"}},
        "contoso-devices-2027": {"certificate": {"file": "contoso-devices-2027.pem"}, "maxLeafLifetime": "365d"},
    }
    if fleet.device_lifetime_days is not None:
        client_roots["contoso-devices-2025"]["maxLeafLifetime"] = f"{fleet.device_lifetime_days}d"
    clusters: list[dict[str, Any]] = []
    for shape in fleet.clusters:
        cluster: dict[str, Any] = {
            "name": shape.name,
            "pki": _pki(fleet, shape, state.server),
            "leaf": {"duration": f"{shape.leaf_hours}h", "renewBefore": f"{max(shape.leaf_hours // 3, 1)}h"},
            "broker": {"listeners": _listeners(shape)},
        }
        if shape.client_bundles:
            cluster["trust"] = {"clients": [
                {"name": f"mqtt-trust-{i}", "namespaceSelector": {"matchLabels": {f"example.com/mqtt-{i}": "true"}}}
                for i in range(shape.client_bundles)]}
        if shape.x509:
            trusted = ("contoso-devices-2027" if shape.devices_moved and state.devices == "after"
                       else "contoso-devices-2025")
            cluster["broker"]["authentication"] = {"x509": {"trustedClientRoots": [trusted]}}
        clusters.append(cluster)
    rotations: list[dict[str, Any]] = []
    if state.server not in ("before", "after"):
        if fleet.style.startswith("in-cluster"):
            for shape in fleet.clusters:
                rotations.append({"name": f"{shape.name}-root", "kind": "serverRoot",
                                  "from": f"{shape.name}-root-a", "to": f"{shape.name}-root-b",
                                  "phase": state.server, "started": started(state.server, fleet.gaps)})
        else:
            moved = [c.name for c in fleet.clusters if c.moved]
            rotation: dict[str, Any] = {"name": "server", "kind": fleet.server_kind, "phase": state.server,
                                        "started": started(state.server, fleet.gaps)}
            if fleet.server_kind == "serverRoot":
                rotation |= {"from": "contoso-root-2025", "to": "contoso-root-2028"}
            if fleet.server_kind == "intermediate" or len(moved) < len(fleet.clusters):
                rotation["clusters"] = moved
            rotations.append(rotation)
    if state.devices not in ("before", "after"):
        moved = [c.name for c in fleet.clusters if c.x509 and c.devices_moved]
        rotations.append({"name": "devices", "kind": "clientRoot", "from": "contoso-devices-2025",
                          "to": "contoso-devices-2027", "clusters": moved, "phase": state.devices,
                          "started": started(state.devices, fleet.gaps)})
    spec: dict[str, Any] = {"clientRoots": client_roots, "clusters": clusters}
    if roots:
        spec["roots"] = roots
    if rotations:
        spec["rotations"] = rotations
    return {"apiVersion": "aiogen.io/v1alpha1", "kind": "Topology", "metadata": {"name": "fleet"}, "spec": spec}


def plan_for(fleet: Fleet, state: State, now: datetime) -> Plan:
    from aiogen.pipeline import plan_from_text

    text = json.dumps(spec_for(fleet, state))  # JSON is YAML
    return plan_from_text(text, source="fleet.yaml", base_dir=PKI, now=now)


# ---------------------------------------------------------------- strategies


@st.composite
def fleets(draw: st.DrawFn, max_clusters: int = 3) -> Fleet:
    style = draw(st.sampled_from(STYLES))
    kind: Literal["serverRoot", "intermediate"] = (
        draw(st.sampled_from(["serverRoot", "intermediate"])) if style == "pinned-intermediate" else "serverRoot")
    count = draw(st.integers(1, max_clusters))
    shapes: list[ClusterShape] = []
    for index in range(count):
        x509 = draw(st.booleans())
        node_port = draw(st.booleans())
        shapes.append(ClusterShape(
            name=f"plant-{index}",
            leaf_hours=draw(st.sampled_from([24, 720, 2160])),
            node_port=node_port,
            node_port_leaf_hours=draw(st.sampled_from([24, 720, 2160])),
            manual_port=node_port and draw(st.booleans()),
            client_bundles=draw(st.integers(0, 2)),
            x509=x509,
            moved=draw(st.booleans()),
            devices_moved=x509 and draw(st.booleans()),
        ))
    if not style.startswith("in-cluster") and not any(s.moved for s in shapes):
        shapes[0] = ClusterShape(**{**shapes[0].__dict__, "moved": True})
    if any(s.x509 for s in shapes) and not any(s.devices_moved for s in shapes):
        first = next(i for i, s in enumerate(shapes) if s.x509)
        shapes[first] = ClusterShape(**{**shapes[first].__dict__, "devices_moved": True})
    lifetime = draw(st.sampled_from([None, 30, 365]))
    gap = st.sampled_from([1, 7, 40, 100, 400])
    return Fleet(style, kind, tuple(shapes), lifetime, (draw(gap), draw(gap), draw(gap)))


def states(fleet: Fleet) -> st.SearchStrategy[State]:
    devices = st.sampled_from(STAGES) if any(c.devices_moved for c in fleet.clusters) else st.just("before")
    return st.builds(State, st.sampled_from(STAGES), devices)


def moments(fleet: Fleet, old: State, new: State) -> st.SearchStrategy[datetime]:
    latest = max(day_of(s, fleet.gaps) for s in (old.server, old.devices, new.server, new.devices))
    return st.sampled_from([0, 1, 31, 92, 366, 800]).map(
        lambda days: datetime.combine(latest + timedelta(days=days), datetime.min.time(), tzinfo=UTC))
