"""Byte-identical output across processes and hash seeds; one-field edits change only their lines."""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import EXAMPLE_SPECS, EXAMPLES, REPO


def render_in_process_with_seed(seed: str, out: Path) -> None:
    env = dict(os.environ, PYTHONHASHSEED=seed)
    for spec in EXAMPLE_SPECS:
        subprocess.run(
            [sys.executable, "-m", "aiogen.cli", "render", str(spec), "-o", str(out / spec.stem),
             "--now", "2026-11-27"],
            check=True, env=env, cwd=REPO, capture_output=True,
        )


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_byte_identical_across_processes_and_hash_seeds(tmp_path: Path) -> None:
    render_in_process_with_seed("1", tmp_path / "a")
    render_in_process_with_seed("4242", tmp_path / "b")
    a, b = files(tmp_path / "a"), files(tmp_path / "b")
    assert a == b
    assert len(a) > 40


def changed_lines(old: dict[str, str], new: dict[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for path in sorted(set(old) | set(new)):
        before = old.get(path, "").splitlines()
        after = new.get(path, "").splitlines()
        if before == after:
            continue
        diff = list(difflib.unified_diff(before, after, lineterm="", n=0))[2:]  # drop the ---/+++ header
        lines = [line for line in diff if line[:1] in "+-"]
        out[path] = lines
    return out


def render_text(tmp_path: Path, text: str) -> dict[str, str]:
    from aiogen.output import layout
    from aiogen.pipeline import plan_from_text
    from aiogen.render import render

    plan = plan_from_text(text, source="fleet.yaml", base_dir=EXAMPLES)
    return layout.tree(render(plan))


FLEET = (EXAMPLES / "fleet.yaml").read_text()

_KV_TAIL = ("a federated credential on the managed identity with client ID `6f1c2a9e-0000-4000-8000-000000000002`, "
            "and the Key Vault Secrets User role (docs/ca.md, Key Vault):")

# (edit, old text, new text, {file: exact changed lines})
CORPUS = [
    ("leaf duration", "      duration: 720h\n      renewBefore: 240h\n", "      duration: 480h\n      renewBefore: 240h\n", {
        f"{c}/broker/azure-iot-operations/brokerlistener-{lst}.yaml": ["-        duration: 720h", "+        duration: 480h"]
        for c, lst in (("plant-berlin", "plant-mqtts"), ("plant-munich", "plant-mqtts"),
                       ("plant-munich", "plant-nodeport"))
    }),
    ("one SAN", "dns: [mqtt.munich.contoso.example]", "dns: [broker.munich.contoso.example]", {
        "plant-munich/broker/azure-iot-operations/brokerlistener-plant-mqtts.yaml": [
            "-          - mqtt.munich.contoso.example", "+          - broker.munich.contoso.example"],
    }),
    ("node port", "nodePort: 30884", "nodePort: 30885", {
        "plant-munich/broker/azure-iot-operations/brokerlistener-plant-nodeport.yaml": [
            "-    nodePort: 30884", "+    nodePort: 30885"],
    }),
    ("Key Vault name", "vault: kv-contoso-munich", "vault: kv-contoso-munich-2", {
        "plant-munich/prerequisites/cert-manager/secretproviderclass-munich-ica-2025-kv.yaml": [
            "-    keyvaultName: kv-contoso-munich", "+    keyvaultName: kv-contoso-munich-2"],
        "plant-munich/INSTALL.md": [
            "-4. Let the ServiceAccount `cert-manager/aiogen-ca-sync` read Key Vault `kv-contoso-munich`: " + _KV_TAIL,
            "+4. Let the ServiceAccount `cert-manager/aiogen-ca-sync` read Key Vault `kv-contoso-munich-2`: " + _KV_TAIL,
            "-     --scope $(az keyvault show --name kv-contoso-munich --query id -o tsv)",
            "+     --scope $(az keyvault show --name kv-contoso-munich-2 --query id -o tsv)"],
    }),
    ("trust bundle key", "      aio: {name: contoso-aio-trust, key: ca.crt}", "      aio: {name: contoso-aio-trust, key: roots.pem}", {
        **{f"{c}/prerequisites/cluster-scoped/bundle-contoso-aio-trust.yaml": ["-      key: ca.crt", "+      key: roots.pem"]
           for c in ("plant-berlin", "plant-munich", "plant-lyon")},
        **{f"{c}/aio-trust-settings.json": ['-          "configMapKey": "ca.crt",', '+          "configMapKey": "roots.pem",']
           for c in ("plant-berlin", "plant-munich", "plant-lyon")},
        **{f"{c}/aio-trust-settings.txt": [
            "---trust-settings configMapName=contoso-aio-trust configMapKey=ca.crt issuerKind=ClusterIssuer "
            "issuerName=contoso-aio-issuer",
            "+--trust-settings configMapName=contoso-aio-trust configMapKey=roots.pem issuerKind=ClusterIssuer "
            "issuerName=contoso-aio-issuer"] for c in ("plant-berlin", "plant-munich", "plant-lyon")},
        **{f"{c}/INSTALL.md": [
            "-   kubectl get configmap contoso-aio-trust -n azure-iot-operations -o jsonpath='{.data.ca\\.crt}'",
            "+   kubectl get configmap contoso-aio-trust -n azure-iot-operations -o jsonpath='{.data.roots\\.pem}'",
            "-     --trust-settings configMapName=contoso-aio-trust configMapKey=ca.crt issuerKind=ClusterIssuer "
            "issuerName=contoso-aio-issuer",
            "+     --trust-settings configMapName=contoso-aio-trust configMapKey=roots.pem issuerKind=ClusterIssuer "
            "issuerName=contoso-aio-issuer"] for c in ("plant-berlin", "plant-munich", "plant-lyon")},
    }),
]


@pytest.mark.parametrize(("edit", "old", "new", "expected"), CORPUS, ids=[c[0] for c in CORPUS])
def test_one_field_edit_changes_only_its_lines(tmp_path: Path, edit: str, old: str, new: str,
                                               expected: dict[str, list[str]]) -> None:
    assert FLEET.count(old) == 1, edit
    before = render_text(tmp_path, FLEET)
    after = render_text(tmp_path, FLEET.replace(old, new))
    assert changed_lines(before, after) == expected
