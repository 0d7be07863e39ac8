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


def lab_variant(tmp_path: Path, defaults: str) -> dict[str, str]:
    """examples/lab.yaml (no files needed) with `spec.defaults` set to the given YAML flow mapping lines."""
    from tests.helpers import EXAMPLES

    spec = tmp_path / "lab.yaml"
    spec.write_text((EXAMPLES / "lab.yaml").read_text().replace(
        "spec:\n  clusters:", f"spec:\n  defaults:\n{defaults}\n  clusters:"))
    return rendered_tree(spec)


def commands(install_md: str) -> list[str]:
    """The shell commands of INSTALL.md, continuation lines joined."""
    text = "\n".join(line.strip() for line in install_md.splitlines()).replace("\\\n", "")
    return [line for line in text.splitlines() if line.split(" ", 1)[0] in {"az", "kubectl", "helm"}]


def test_the_aio_namespace_is_protected_from_gitops_pruning() -> None:
    """AIO lives in that namespace: a prune or a deleted Flux Kustomization / Argo CD Application must not take it."""
    from tests.helpers import EXAMPLES

    for path, text in rendered_tree(EXAMPLES / "fleet.yaml").items():
        if "/namespace-" in path:
            annotations = yaml.safe_load(text)["metadata"]["annotations"]
            assert annotations == {"kustomize.toolkit.fluxcd.io/prune": "disabled",
                                   "argocd.argoproj.io/sync-options": "Prune=false,Delete=false"}


def test_ca_secrets_the_spec_names_are_created_before_the_issuer_is_awaited() -> None:
    """A `secret: {name}` keypair is the operator's to create: INSTALL.md says where, between apply and wait."""
    from tests.helpers import EXAMPLES

    for spec, cluster, expected in (
        ("fleet", "plant-lyon", "kubectl create secret tls lyon-ica-2025 -n cert-manager"),
        ("azure-managed", "plant-porto", "kubectl create secret tls porto-ica-2025 -n azure-iot-operations"),
    ):
        tree = rendered_tree(EXAMPLES / f"{spec}.yaml")
        lines = commands(tree[f"{cluster}/INSTALL.md"])
        (create,) = [i for i, line in enumerate(lines) if line.startswith("kubectl create secret tls")]
        assert lines[create] == f"{expected} --cert=<CA_CHAIN_PEM> --key=<CA_KEY_FILE>"
        apply = lines.index("kubectl apply -k prerequisites/")
        wait = next(i for i, line in enumerate(lines) if line.startswith("kubectl wait"))
        assert apply < create < wait
        issuers = [yaml.safe_load(t) for p, t in tree.items() if p.startswith(f"{cluster}/") and "issuer-" in p]
        assert expected.split()[4] in {i["spec"]["ca"]["secretName"] for i in issuers}
    # Key Vault and in-cluster CAs need no such step
    for spec in ("single-root-keyvault", "lab"):
        tree = rendered_tree(EXAMPLES / f"{spec}.yaml")
        assert all("kubectl create secret" not in t for p, t in tree.items() if p.endswith("INSTALL.md"))


def test_a_custom_aio_namespace_goes_to_create_not_init(tmp_path: Path) -> None:
    """`az iot ops init` takes no namespace; `create` takes --cluster-namespace
    (Azure/azure-iot-ops-cli-extension azext_edge/edge/params.py, commands_edge.py)."""
    tree = lab_variant(tmp_path, "    namespaces: {aio: iot-ops}")
    lines = commands(tree["lab-1/INSTALL.md"])
    (init,) = [line for line in lines if line.startswith("az iot ops init")]
    (create,) = [line for line in lines if line.startswith("az iot ops create")]
    assert "namespace" not in init
    assert " --cluster-namespace iot-ops --trust-settings " in create
    assert "lab-1/prerequisites/cluster-scoped/namespace-iot-ops.yaml" in tree


def test_cert_managers_namespaces_are_never_rendered_even_as_the_aio_namespace(tmp_path: Path) -> None:
    tree = lab_variant(tmp_path, "    namespaces: {aio: cert-manager}")
    assert not [p for p in tree if "/namespace-" in p]
    lines = commands(tree["lab-1/INSTALL.md"])
    assert not [line for line in lines if line.startswith("kubectl create namespace")]
    assert "the AIO namespace" not in tree["lab-1/INSTALL.md"]


def test_a_custom_cluster_resource_namespace_is_created_and_given_to_cert_manager(tmp_path: Path) -> None:
    tree = lab_variant(tmp_path, "    namespaces: {clusterResource: pki, trust: pki}")
    lines = commands(tree["lab-1/INSTALL.md"])
    create_ns = lines.index("kubectl create namespace pki")
    (helm,) = [i for i, line in enumerate(lines) if line.startswith("helm upgrade cert-manager")]
    assert create_ns < helm
    assert "--set clusterResourceNamespace=pki --wait" in lines[helm]
    assert any(line.endswith("--set app.trust.namespace=pki --wait") for line in lines)
    assert not [p for p in tree if "/namespace-pki" in p]


def test_issuer_mode_objects_in_the_aio_namespace_are_prerequisites() -> None:
    """With `issuer: {kind: Issuer}` the issuer and the client-CA ConfigMap live in the AIO namespace, before
    AIO exists: they are in prerequisites/ (with the Namespace), only broker kinds are in broker/."""
    from tests.helpers import EXAMPLES

    tree = rendered_tree(EXAMPLES / "azure-managed.yaml")
    for cluster in ("plant-porto", "plant-oslo"):
        in_aio = [(p.split("/", 2)[1], yaml.safe_load(t)["kind"]) for p, t in tree.items()
                  if p.startswith(f"{cluster}/") and "/azure-iot-operations/" in p]
        assert {k for stage, k in in_aio if stage == "prerequisites"} == {"Issuer", "ConfigMap"}, cluster
        assert {k for stage, k in in_aio if stage == "broker"} <= {"BrokerListener", "BrokerAuthentication"}


def test_the_key_vault_identity_commands_use_the_clis_own_flags() -> None:
    """`az identity federated-credential create` takes `--audiences` (azure-cli aaz identity/federated_credential
    _create.py); the issuer is the cluster's own OIDC issuer URL, looked up by its name as the Secret Store
    extension's guide does (https://learn.microsoft.com/azure/azure-arc/kubernetes/secret-store-extension)."""
    from tests.helpers import EXAMPLES

    tree = rendered_tree(EXAMPLES / "single-root-keyvault.yaml")
    (fic,) = [c for c in commands(tree["fabrikam-plant/INSTALL.md"]) if "federated-credential" in c]
    assert fic == (
        "az identity federated-credential create --name aiogen-ca-sync --identity-name <IDENTITY_NAME> "
        "-g <RESOURCE_GROUP> --issuer \"$(az connectedk8s show --name fabrikam-plant -g <RESOURCE_GROUP> "
        "--query oidcIssuerProfile.issuerUrl -o tsv)\" "
        "--subject system:serviceaccount:azure-iot-operations:aiogen-ca-sync --audiences api://AzureADTokenExchange")
    account = yaml.safe_load(tree["fabrikam-plant/prerequisites/azure-iot-operations/serviceaccount-aiogen-ca-sync.yaml"])
    assert fic.split("system:serviceaccount:")[1].split()[0] == \
        f"{account['metadata']['namespace']}:{account['metadata']['name']}"


@pytest.mark.parametrize("spec", EXAMPLE_SPECS, ids=lambda p: p.stem)
def test_install_md_waits_for_the_trust_bundle_before_create(spec: Path) -> None:
    """trust-manager marks a Bundle `Synced` once every target ConfigMap is written
    (cert-manager/trust-manager BundleConditionSynced): `create` must find the ConfigMap it is given."""
    tree = rendered_tree(spec)
    for cluster in sorted({p.split("/", 1)[0] for p in tree}):
        lines = commands(tree[f"{cluster}/INSTALL.md"])
        (wait,) = [i for i, line in enumerate(lines) if "--for=condition=Synced" in line]
        name = lines[wait].split()[3].removeprefix("bundles.trust.cert-manager.io/")
        bundle = yaml.safe_load(tree[f"{cluster}/prerequisites/cluster-scoped/bundle-{name}.yaml"])
        settings = tree[f"{cluster}/aio-trust-settings.txt"].splitlines()[-1]
        assert f"configMapName={bundle['metadata']['name']} configMapKey={bundle['spec']['target']['configMap']['key']}" \
            in settings
        assert wait < next(i for i, line in enumerate(lines) if line.startswith("az iot ops create"))
