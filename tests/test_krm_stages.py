"""The KRM function renders one install stage or both (issue 14): `stage:` in a RenderConfig,
`stage=` for kpt's ConfigMap, the `aiogen.io/stage` annotation on a Topology; default all."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from aiogen.output.layout import BROKER, PREREQUISITES, stage_of
from aiogen.render import Resource
from tests.helpers import EXAMPLES
from tests.test_krm import FUNCTION, call, kustomize_input, render_config, resource_list, strip_paths
from tests.test_kustomize import EXEC, KUSTOMIZE_EXAMPLES, rendered, resources, run, tool

BROKER_KINDS = {"BrokerListener", "BrokerAuthentication"}


def _kinds(items: list[dict[str, Any]]) -> set[str]:
    return {item["kind"] for item in items}


def _stage(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], config: dict[str, Any]
           ) -> list[dict[str, Any]]:
    result = call(monkeypatch, capsys, kustomize_input(config))
    assert result.code == 0, result.err
    return strip_paths(result.items)


def test_render_config_stages_split_what_all_renders(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(EXAMPLES)
    everything = _stage(monkeypatch, capsys, render_config("fleet.yaml", ["plant-berlin"]))
    assert _stage(monkeypatch, capsys, render_config("fleet.yaml", ["plant-berlin"], stage="all")) == everything
    first = _stage(monkeypatch, capsys, render_config("fleet.yaml", ["plant-berlin"], stage=PREREQUISITES))
    second = _stage(monkeypatch, capsys, render_config("fleet.yaml", ["plant-berlin"], stage=BROKER))
    assert "BrokerListener" in _kinds(second) <= BROKER_KINDS
    assert not _kinds(first) & BROKER_KINDS and {"ClusterIssuer", "Bundle"} <= _kinds(first)
    assert sorted(map(repr, first + second)) == sorted(map(repr, everything))
    assert all(stage_of(Resource(item)) == PREREQUISITES for item in first)


def test_config_map_and_topology_forms(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(EXAMPLES)
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fn"},
                  "data": {"topology": "lab.yaml", "stage": "broker"}}
    result = call(monkeypatch, capsys, resource_list(config_map))
    assert result.code == 0, result.err
    assert "BrokerListener" in _kinds(result.items) <= BROKER_KINDS
    topology = yaml.safe_load((EXAMPLES / "lab.yaml").read_text())
    topology["metadata"]["annotations"] = {**FUNCTION, "aiogen.io/stage": "prerequisites"}
    assert not _kinds(_stage(monkeypatch, capsys, topology)) & BROKER_KINDS


@pytest.mark.parametrize(("form", "message"), [
    ("render-config", "functionConfig RenderConfig/cfg spec.stage: must be prerequisites, broker or all"),
    ("config-map", "functionConfig ConfigMap/fn data.stage: must be prerequisites, broker or all"),
    ("topology", "functionConfig Topology/lab metadata.annotations.aiogen.io/stage: must be prerequisites, "
                 "broker or all"),
])
def test_an_unknown_stage_is_a_located_error(form: str, message: str, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(EXAMPLES)
    if form == "render-config":
        config = render_config("lab.yaml", stage="brokers")
    elif form == "config-map":
        config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fn"},
                  "data": {"topology": "lab.yaml", "stage": "brokers"}}
    else:
        config = yaml.safe_load((EXAMPLES / "lab.yaml").read_text())
        config["metadata"]["annotations"] = {"aiogen.io/stage": "brokers"}
    result = call(monkeypatch, capsys, resource_list(config))
    assert result.code == 1
    assert result.err == f"aiogen: {message}\n"
    (error,) = result.results
    assert error["severity"] == "error" and error["field"]["path"].endswith("stage")
    wrong_type = call(monkeypatch, capsys, resource_list(render_config("lab.yaml", stage=1)))
    assert "spec.stage: must be a string" in wrong_type.err


def test_kpt_stage_replaces_only_its_own_earlier_output(monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Two functions in one kpt pipeline, one per stage: each keeps the other's items."""
    monkeypatch.chdir(EXAMPLES)
    everything = call(monkeypatch, capsys, resource_list(render_config("lab.yaml"))).items
    again = call(monkeypatch, capsys, resource_list(render_config("lab.yaml", stage=BROKER), everything))
    assert again.code == 0, again.err
    assert sorted(map(repr, again.items)) == sorted(map(repr, everything))


def test_legacy_plugin_renders_one_stage(tmp_path: Any, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    config = render_config("lab.yaml", stage=BROKER)
    del config["metadata"]["annotations"]
    path = tmp_path / "kust-plugin-config-1"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("KUSTOMIZE_PLUGIN_CONFIG_ROOT", str(EXAMPLES))
    result = call(monkeypatch, capsys, b"", [str(path)])
    assert result.code == 0, result.err
    assert "BrokerListener" in {d["kind"] for d in yaml.safe_load_all(result.raw) if d} <= BROKER_KINDS


def test_the_two_stage_kustomizations_with_real_kustomize() -> None:
    """examples/kustomize/stages: prerequisites, then broker; together what render yields."""
    kustomize = tool("kustomize")
    built = {}
    for stage in (PREREQUISITES, BROKER):
        result = run([kustomize, "build", *EXEC, str(KUSTOMIZE_EXAMPLES / "stages" / stage)])
        assert result.returncode == 0, result.stderr
        built[stage] = resources(result.stdout)
    assert "BrokerListener" in {key[1] for key in built[BROKER]} <= BROKER_KINDS
    assert not {key[1] for key in built[PREREQUISITES]} & BROKER_KINDS
    assert {**built[PREREQUISITES], **built[BROKER]} == rendered(EXAMPLES / "fleet.yaml", "plant-berlin")


def test_an_azure_managed_broker_is_named_not_rendered(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """brokerResources: azure: the function (which carries Kubernetes objects only) renders no broker
    objects for the cluster and says where its ARM template is, on stderr and in results."""
    monkeypatch.chdir(EXAMPLES)
    result = call(monkeypatch, capsys, kustomize_input(render_config("azure-managed.yaml", ["plant-porto"])))
    assert result.code == 0, result.err
    assert not _kinds(result.items) & BROKER_KINDS and "Issuer" in _kinds(result.items)
    warning = ("cluster 'plant-porto' manages its broker listeners and authentications from Azure (brokerResources: "
               "azure): the function renders no broker objects for it")
    assert warning in result.err and "broker/azuredeploy.json" in result.err
    assert any(warning in r["message"] and r["severity"] == "warning" for r in result.results)
    prerequisites = call(monkeypatch, capsys, kustomize_input(
        render_config("azure-managed.yaml", ["plant-porto"], stage=PREREQUISITES)))
    assert prerequisites.code == 0 and "azure" not in prerequisites.err
