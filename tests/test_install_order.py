"""The rendered stages apply in AIO's install order on a cluster that has only what that order installed.

For every example and cluster, with real kustomize and the upstream CRD copies (tests/upstream/):
cert-manager, trust-manager and the Secret Store extension's CRDs are installed first; then
`<cluster>/prerequisites/` must use only those kinds and core kinds, and only namespaces that
exist by then; then `az iot ops create` adds AIO's broker kinds; then `<cluster>/broker/`. A stage
that used a kind before its CRD is installed fails here as it would fail a Flux dry-run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conformance import kind_origin, validate_resource
from tests.helpers import EXAMPLE_SPECS
from tests.regen_golden import rendered_tree, write_tree
from tests.test_kustomize import run, tool

# who installs which CRD folder of tests/upstream/, in install order
BEFORE_PREREQUISITES = ("core", "cert-manager", "trust-manager", "secrets-store")  # helm; az iot ops init
AFTER_CREATE = ("aio",)  # az iot ops create
# namespaces that exist before aiogen's objects: cert-manager's own (its installer creates it)
INSTALLER_NAMESPACES = frozenset({"cert-manager", "kube-system"})


def kinds_too_early(objects: Iterable[Mapping[str, Any]], installed: Iterable[str]) -> list[str]:
    """Objects whose kind's CRD is not installed yet, as `apiVersion/kind name` lines."""
    allowed = set(installed)
    return [f"{o['apiVersion']}/{o['kind']} {o['metadata']['name']}" for o in objects
            if kind_origin(o["apiVersion"], o["kind"]) not in allowed]


def namespaces_missing(objects: Iterable[Mapping[str, Any]], existing: Iterable[str]) -> list[str]:
    objects = list(objects)
    known = set(existing) | {o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"}
    return sorted({o["metadata"]["namespace"] for o in objects
                   if o["metadata"].get("namespace") and o["metadata"]["namespace"] not in known})


def build(directory: Path) -> list[dict[str, Any]]:
    result = run([tool("kustomize"), "build", str(directory)])
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def user_created_namespaces(install_md: str) -> set[str]:
    return {line.split()[-1] for line in install_md.splitlines() if line.strip().startswith("kubectl create namespace")}


@pytest.mark.parametrize("spec", EXAMPLE_SPECS, ids=lambda p: p.stem)
def test_stages_apply_in_install_order(spec: Path, tmp_path: Path) -> None:
    tree = rendered_tree(spec)
    write_tree(tmp_path, tree)
    for cluster in sorted({p.split("/", 1)[0] for p in tree}):
        installed = list(BEFORE_PREREQUISITES)
        namespaces = INSTALLER_NAMESPACES | user_created_namespaces(tree[f"{cluster}/INSTALL.md"])
        prerequisites = build(tmp_path / cluster / "prerequisites")
        assert prerequisites
        assert kinds_too_early(prerequisites, installed) == [], cluster
        assert namespaces_missing(prerequisites, namespaces) == [], cluster
        namespaces |= {o["metadata"]["name"] for o in prerequisites if o["kind"] == "Namespace"}
        installed += AFTER_CREATE
        broker = build(tmp_path / cluster / "broker")
        assert kinds_too_early(broker, installed) == [], cluster
        assert namespaces_missing(broker, namespaces) == [], cluster
        assert [p for o in prerequisites + broker for p in validate_resource(o)] == []
        # the cluster's kustomization is the two stages together
        assert sorted(map(str, build(tmp_path / cluster))) == sorted(map(str, prerequisites + broker))


def test_the_order_check_catches_a_kind_used_too_early(tmp_path: Path) -> None:
    """A BrokerListener in prerequisites/, or an object in a namespace nobody created, fails the walk."""
    from tests.helpers import EXAMPLES

    tree = rendered_tree(EXAMPLES / "fleet.yaml")
    listener = yaml.safe_load(tree["plant-berlin/broker/azure-iot-operations/brokerlistener-plant-mqtts.yaml"])
    assert kinds_too_early([listener], BEFORE_PREREQUISITES) == [
        "mqttbroker.iotoperations.azure.com/v1/BrokerListener plant-mqtts"]
    client_ca = yaml.safe_load(tree["plant-berlin/prerequisites/azure-iot-operations/configmap-client-ca.yaml"])
    assert namespaces_missing([client_ca], INSTALLER_NAMESPACES) == ["azure-iot-operations"]


def test_namespace_opt_out_renders_no_namespace_and_install_md_creates_it() -> None:
    from tests.helpers import EXAMPLES

    tree = rendered_tree(EXAMPLES / "azure-managed.yaml")
    assert "plant-porto/prerequisites/cluster-scoped/namespace-azure-iot-operations.yaml" in tree
    assert not [p for p in tree if p.startswith("plant-oslo/") and "/namespace-" in p]
    assert user_created_namespaces(tree["plant-oslo/INSTALL.md"]) == {"azure-iot-operations"}
    assert user_created_namespaces(tree["plant-porto/INSTALL.md"]) == set()
    for path, text in tree.items():  # never a namespace another installer owns
        if "/namespace-" in path:
            assert yaml.safe_load(text)["metadata"]["name"] not in INSTALLER_NAMESPACES
