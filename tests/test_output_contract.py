"""What a user relies on in the rendered output: names agree across objects, no private keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.helpers import EXAMPLE_SPECS, EXAMPLES, aiogen
from tests.regen_golden import rendered_tree


def resources(tree: dict[str, str], cluster: str) -> list[dict[str, object]]:
    out = []
    for path, text in tree.items():
        if path.startswith(cluster + "/") and path.endswith(".yaml") and not path.endswith("kustomization.yaml"):
            out.append(yaml.safe_load(text))
    return out


@pytest.mark.parametrize("spec", EXAMPLE_SPECS, ids=lambda p: p.stem)
def test_no_rendered_file_contains_a_private_key(spec: Path) -> None:
    for path, text in rendered_tree(spec).items():
        assert "PRIVATE KEY" not in text, path


@pytest.mark.parametrize("spec", EXAMPLE_SPECS, ids=lambda p: p.stem)
def test_trust_settings_issuer_and_bundle_agree_with_rendered_objects(spec: Path) -> None:
    tree = rendered_tree(spec)
    for cluster in sorted({p.split("/", 1)[0] for p in tree}):
        settings = json.loads(tree[f"{cluster}/aio-trust-settings.json"])["parameters"]["trustConfig"]["value"]["settings"]
        objs = resources(tree, cluster)
        issuers = [o for o in objs if o["kind"] == settings["issuerKind"]
                   and o["metadata"]["name"] == settings["issuerName"]]  # type: ignore[index]
        assert len(issuers) == 1, "the issuer AIO's trust settings name is rendered"
        bundles = [o for o in objs if o["kind"] == "Bundle" and o["metadata"]["name"] == settings["configMapName"]]  # type: ignore[index]
        assert len(bundles) == 1
        assert bundles[0]["spec"]["target"]["configMap"]["key"] == settings["configMapKey"]  # type: ignore[index]
        args = tree[f"{cluster}/aio-trust-settings.txt"].splitlines()[-1]
        assert args == (f"--trust-settings configMapName={settings['configMapName']} configMapKey="
                        f"{settings['configMapKey']} issuerKind={settings['issuerKind']} "
                        f"issuerName={settings['issuerName']}")
        for listener in (o for o in objs if o["kind"] == "BrokerListener"):
            for port in listener["spec"]["ports"]:  # type: ignore[index]
                ref = port.get("tls", {}).get("certManagerCertificateSpec", {}).get("issuerRef")
                if ref:
                    assert ref == {"name": settings["issuerName"], "kind": settings["issuerKind"],
                                   "group": "cert-manager.io"}
                auth = port.get("authenticationRef")
                if auth and auth != "default":
                    assert any(o["kind"] == "BrokerAuthentication" and o["metadata"]["name"] == auth for o in objs)  # type: ignore[index]


def test_bundle_sources_live_in_the_trust_namespace() -> None:
    tree = rendered_tree(EXAMPLES / "fleet.yaml")
    objs = resources(tree, "plant-berlin")
    pinned = [o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "aiogen-pinned-roots"]  # type: ignore[index]
    assert pinned[0]["metadata"]["namespace"] == "cert-manager"  # type: ignore[index]
    for bundle in (o for o in objs if o["kind"] == "Bundle"):
        for source in bundle["spec"]["sources"]:  # type: ignore[index]
            assert source == {"configMap": {"name": "aiogen-pinned-roots", "key": "contoso-root-2025.pem"}}
        assert bundle["spec"]["target"]["namespaceSelector"]  # type: ignore[index]


def test_stream_output_and_cluster_filter() -> None:
    run = aiogen("render", EXAMPLES / "fleet.yaml", "-o", "-", "--cluster", "plant-lyon")
    assert run.code == 0, run.err
    docs = [d for d in yaml.safe_load_all(run.out) if d]
    assert {d["kind"] for d in docs} == {"Namespace", "ClusterIssuer", "ConfigMap", "Bundle", "BrokerListener"}
    paths = [line.removeprefix("# aiogen: ") for line in run.out.splitlines() if line.startswith("# aiogen")]
    assert len(paths) == len(docs)
    assert paths[0] == "plant-lyon/prerequisites/cluster-scoped/namespace-azure-iot-operations.yaml"
    assert paths[-1] == "plant-lyon/broker/azure-iot-operations/brokerlistener-plant-mqtts.yaml"
    assert all(p.startswith(("plant-lyon/prerequisites/", "plant-lyon/broker/")) for p in paths)
    bad = aiogen("render", EXAMPLES / "fleet.yaml", "-o", "-", "--cluster", "nope")
    assert bad.code == 1
    assert "no cluster named 'nope' in the spec (clusters: plant-berlin, plant-munich, plant-lyon)" in bad.err


def test_stream_says_where_azure_managed_broker_resources_went() -> None:
    run = aiogen("render", EXAMPLES / "azure-managed.yaml", "-o", "-", "--cluster", "plant-porto")
    assert run.code == 0, run.err
    docs = [d for d in yaml.safe_load_all(run.out) if d]
    assert not {"BrokerListener", "BrokerAuthentication"} & {d["kind"] for d in docs}
    assert run.out.endswith(
        "# aiogen note: plant-porto/broker/azuredeploy.json holds this cluster's broker resources as an ARM "
        "template, which is not part of this stream (render to a directory: -o DIR)\n")


def test_ca_bundle_pem_holds_the_trusted_roots() -> None:
    from cryptography import x509

    tree = rendered_tree(EXAMPLES / "fleet.yaml")
    certs = x509.load_pem_x509_certificates(tree["plant-berlin/ca-bundle.pem"].encode())
    assert [c.subject.rfc4514_string() for c in certs] == ["CN=Contoso MQTT Root CA 2025,O=Contoso"]
    lab = rendered_tree(EXAMPLES / "lab.yaml")["lab-1/ca-bundle.pem"]
    assert "kubectl get secret -n cert-manager lab-1-root" in lab


def test_single_root_from_an_existing_secret(tmp_path: Path) -> None:
    """A brought-in root keypair already in the cluster: the issuer signs with that Secret, the root is pinned."""
    import shutil

    shutil.copytree(EXAMPLES / "pki", tmp_path / "pki")
    spec = tmp_path / "fleet.yaml"
    spec.write_text(
        "apiVersion: aiogen.io/v1alpha1\nkind: Topology\nmetadata: {name: t}\nspec:\n"
        "  roots:\n    fabrikam-root: {certificate: {file: pki/fabrikam-root.pem}, secret: {name: fabrikam-root-ca}}\n"
        "  clusters:\n    - name: plant\n      pki: {mode: single-root, root: fabrikam-root}\n"
    )
    run = aiogen("render", spec, "-o", "-")
    assert run.code == 0, run.err
    docs = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(run.out) if d}
    assert docs[("ClusterIssuer", "aio-ca-issuer")]["spec"] == {"ca": {"secretName": "fabrikam-root-ca"}}
    assert "fabrikam-root.pem" in docs[("ConfigMap", "aiogen-pinned-roots")]["data"]
    assert not any(kind in {"SecretSync", "SecretProviderClass", "Certificate"} for kind, _ in docs)
