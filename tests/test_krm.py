"""The KRM function and legacy plugin entry points, in-process: config forms, path resolution,
what is echoed and what is not, results, and clean failures for every kind of bad input."""

from __future__ import annotations

import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from aiogen import cli
from tests.helpers import EXAMPLES
from tests.specs import intermediate_fleet, lab, write_spec

KUSTOMIZE_COPY = {  # what kustomize adds to a generator's copy of its own config
    "config.kubernetes.io/local-config": "true",
    "config.kubernetes.io/index": "0",
    "internal.config.kubernetes.io/index": "0",
    "internal.config.kubernetes.io/id": "1",
    "config.k8s.io/id": "1",
}
FUNCTION = {"config.kubernetes.io/function": "exec:\n  path: aiogen\n"}


@dataclass
class Call:
    code: int
    out: dict[str, Any] | None  # the ResourceList written to stdout
    raw: str
    err: str

    @property
    def items(self) -> list[dict[str, Any]]:
        assert self.out is not None
        return list(self.out.get("items") or [])

    @property
    def results(self) -> list[dict[str, Any]]:
        assert self.out is not None
        return list(self.out.get("results") or [])


class _Stdin(io.TextIOWrapper):
    def isatty(self) -> bool:
        return False


def call(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], stdin: str | bytes,
         argv: list[str] | None = None) -> Call:
    data = stdin.encode() if isinstance(stdin, str) else stdin
    monkeypatch.setattr(sys, "stdin", _Stdin(io.BytesIO(data), encoding="utf-8"))
    code = cli.main(argv or [])
    captured = capsys.readouterr()
    out = yaml.safe_load(captured.out) if captured.out.strip() and not argv else None
    assert "Traceback" not in captured.err
    return Call(code, out, captured.out, captured.err)


def resource_list(config: dict[str, Any] | None, items: list[dict[str, Any]] | None = None) -> str:
    doc: dict[str, Any] = {"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": items or []}
    if config is not None:
        doc["functionConfig"] = config
    return yaml.safe_dump(doc, sort_keys=False)


def kustomize_input(config: dict[str, Any]) -> str:
    """A generator's input as kustomize builds it: the config, and a copy of it as the only item."""
    copy = yaml.safe_load(yaml.safe_dump(config))
    copy["metadata"].setdefault("annotations", {}).update(KUSTOMIZE_COPY)
    return resource_list(config, [copy])


def render_config(topology: str, clusters: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"topology": topology, **extra}
    if clusters is not None:
        spec["clusters"] = clusters
    return {"apiVersion": "aiogen.io/v1alpha1", "kind": "RenderConfig",
            "metadata": {"name": "cfg", "annotations": dict(FUNCTION)}, "spec": spec}


def stream(*argv: str) -> list[dict[str, Any]]:
    """Resources `aiogen render ... -o -` prints (in-process)."""
    from tests.helpers import aiogen

    result = aiogen("render", *argv, "-o", "-")
    assert result.code == 0, result.err
    return [d for d in yaml.safe_load_all(result.out) if d]


def strip_paths(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        item = yaml.safe_load(yaml.safe_dump(item))
        annotations = item["metadata"].get("annotations", {})
        for key in ("config.kubernetes.io/path", "internal.config.kubernetes.io/path"):
            annotations.pop(key, None)
        if not annotations:
            item["metadata"].pop("annotations", None)
        out.append(item)
    return out


# ---------------------------------------------------------------- config forms


def test_render_config_form(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(EXAMPLES / "kustomize" / "render-config")
    result = call(monkeypatch, capsys, kustomize_input(render_config("../../fleet.yaml", ["plant-berlin"],
                                                                       allowOutsideFiles=True)))
    assert result.code == 0, result.err
    assert strip_paths(result.items) == stream(str(EXAMPLES / "fleet.yaml"), "--cluster", "plant-berlin")
    assert result.results == []
    assert all(i["kind"] != "RenderConfig" for i in result.items)  # the config copy is not echoed


def test_items_carry_the_render_tree_layout_for_kpt(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(EXAMPLES)
    result = call(monkeypatch, capsys, resource_list(render_config("lab.yaml")))
    assert result.code == 0, result.err
    paths = [i["metadata"]["annotations"]["config.kubernetes.io/path"] for i in result.items]
    assert "lab-1/broker/azure-iot-operations/brokerlistener-lab-mqtts.yaml" in paths
    assert result.raw.count("# Generated by aiogen. Do not edit") == len(paths)


def test_topology_form_resolves_pem_paths_against_the_base_directory(
        tmp_path: Path, pki_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    spec_path = write_spec(tmp_path, pki_dir, intermediate_fleet())
    config = yaml.safe_load(spec_path.read_text())
    config["metadata"]["annotations"] = dict(FUNCTION)
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.chdir(other)  # pki/ is not here: the PEMs are not found
    missing = call(monkeypatch, capsys, kustomize_input(config))
    assert missing.code == 1
    assert "'pki/root-a.pem' does not exist" in missing.err
    monkeypatch.chdir(tmp_path)  # kustomize runs the function in the kustomization directory
    found = call(monkeypatch, capsys, kustomize_input(config))
    assert found.code == 0, found.err
    assert strip_paths(found.items) == stream(str(spec_path))


def test_topology_with_several_clusters_must_name_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    config = lab()
    second = yaml.safe_load(yaml.safe_dump(config["spec"]["clusters"][0]))
    second["name"] = "lab-2"
    config["spec"]["clusters"].append(second)
    config["metadata"]["annotations"] = dict(FUNCTION)
    monkeypatch.chdir(tmp_path)
    unnamed = call(monkeypatch, capsys, kustomize_input(config))
    assert unnamed.code == 1
    assert ("aiogen: functionConfig Topology/lab metadata: the spec holds 2 clusters (lab-1, lab-2); name the "
            'ones to render in the annotation aiogen.io/clusters: "lab-1"') in unnamed.err
    (problem,) = unnamed.results
    assert problem["severity"] == "error" and problem["field"] == {"path": "metadata"}
    assert problem["resourceRef"] == {"apiVersion": "aiogen.io/v1alpha1", "kind": "Topology", "name": "lab"}

    config["metadata"]["annotations"]["aiogen.io/clusters"] = "lab-2, lab-9"
    unknown = call(monkeypatch, capsys, kustomize_input(config))
    assert unknown.code == 1
    assert "metadata.annotations.aiogen.io/clusters: no cluster named 'lab-9' in the spec" in unknown.err

    config["metadata"]["annotations"]["aiogen.io/clusters"] = "lab-2"
    named = call(monkeypatch, capsys, kustomize_input(config))
    assert named.code == 0, named.err
    assert {i["metadata"]["annotations"]["config.kubernetes.io/path"].split("/")[0] for i in named.items} == {"lab-2"}


def test_topology_form_located_in_the_kustomization_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """kustomize passes the object without its file; aiogen finds it among the generators."""
    text = (EXAMPLES / "kustomize" / "topology" / "topology.yaml").read_text()
    (tmp_path / "kustomization.yaml").write_text("generators:\n- other.yaml\n- topology.yaml\n")
    (tmp_path / "other.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    (tmp_path / "topology.yaml").write_text("---\n# leading document marker\n" + text.replace("10y", "10 years"))
    config = yaml.safe_load(text)
    monkeypatch.chdir(tmp_path)
    result = call(monkeypatch, capsys, kustomize_input(config))
    assert result.code == 1
    line = next(n for n, t in enumerate((tmp_path / "topology.yaml").read_text().splitlines(), 1) if "10 years" in t)
    assert f"aiogen: topology.yaml:{line}:" in result.err
    assert result.results[0]["file"] == {"path": "topology.yaml"}
    assert result.results[0]["tags"]["line"] == str(line)


def test_config_map_form(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(EXAMPLES)
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "function-input"},
              "data": {"topology": "fleet.yaml", "clusters": "plant-lyon"}}
    result = call(monkeypatch, capsys, resource_list(config))
    assert result.code == 0, result.err
    assert strip_paths(result.items) == stream("fleet.yaml", "--cluster", "plant-lyon")


def test_render_config_problems_are_located(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "kustomization.yaml").write_text("generators: [aiogen.yaml]\n")
    config = render_config("spec.yaml", clusters="lab-1", extra=True)  # type: ignore[arg-type]
    (tmp_path / "aiogen.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    monkeypatch.chdir(tmp_path)
    result = call(monkeypatch, capsys, kustomize_input(config))
    assert result.code == 1
    assert "aiogen: aiogen.yaml:" in result.err
    assert "spec.extra: unknown field; expected topology, clusters, allowOutsideFiles" in result.err
    assert "spec.clusters: must be a list of cluster names" in result.err
    assert {r["field"]["path"] for r in result.results} == {"spec.extra", "spec.clusters"}
    assert all(r["resourceRef"]["kind"] == "RenderConfig" for r in result.results)


def test_missing_spec_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    result = call(monkeypatch, capsys, kustomize_input(render_config("specs/fleet.yaml")))
    assert result.code == 1
    assert (f"aiogen: functionConfig RenderConfig/cfg spec.topology: 'specs/fleet.yaml' does not exist "
            f"(the path is relative to {tmp_path}, the directory holding the config)") in result.err
    assert result.results[0]["field"] == {"path": "spec.topology"}


def test_spec_errors_point_into_the_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "spec.yaml").write_text((EXAMPLES / "lab.yaml").read_text().replace("port: 8883", "port: 70000"))
    monkeypatch.chdir(tmp_path)
    result = call(monkeypatch, capsys, kustomize_input(render_config("spec.yaml")))
    assert result.code == 1
    (problem,) = result.results
    assert problem["resourceRef"] == {"apiVersion": "aiogen.io/v1alpha1", "kind": "Topology", "name": "lab"}
    assert problem["field"] == {"path": "spec.clusters[0].broker.listeners[0].ports[0].port"}
    assert problem["file"] == {"path": "spec.yaml"}
    assert "aiogen: spec.yaml:" in result.err and "ports[0].port:" in result.err


def test_warnings_are_results_on_success(tmp_path: Path, pki_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    def spare_root(spec: dict[str, Any]) -> None:  # a root no cluster uses is worth a warning
        spec["spec"]["roots"]["spare"] = {"certificate": {"file": "pki/root-b.pem"}}

    write_spec(tmp_path, pki_dir, intermediate_fleet(), spare_root)
    monkeypatch.chdir(tmp_path)
    result = call(monkeypatch, capsys, kustomize_input(render_config("fleet.yaml")))
    assert result.code == 0, result.err
    warnings = [r for r in result.results if r["severity"] == "warning"]
    assert any(r["field"]["path"] == "spec.roots.spare" for r in warnings), result.results
    assert "aiogen: warning: fleet.yaml:" in result.err
    assert all(r["severity"] != "error" for r in result.results)


# ---------------------------------------------------------------- kpt: package items


def test_kpt_items_are_echoed_and_earlier_output_replaced(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(EXAMPLES)
    user = {"apiVersion": "v1", "kind": "Service", "metadata": {
        "name": "svc", "annotations": {"config.kubernetes.io/path": "svc.yaml"}}, "spec": {"ports": [{"port": 80}]}}
    earlier = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "old", "namespace": "cert-manager",
        "annotations": {"config.kubernetes.io/path": "lab-1/cert-manager/configmap-old.yaml"}}}
    result = call(monkeypatch, capsys, resource_list(render_config("lab.yaml"), [user, earlier]))
    assert result.code == 0, result.err
    assert result.items[0] == user
    assert all(i["metadata"]["name"] != "old" for i in result.items)  # aiogen's own, no longer rendered

    again = call(monkeypatch, capsys, resource_list(render_config("lab.yaml"), result.items))
    assert again.code == 0, again.err
    assert again.items == result.items  # idempotent


def test_kpt_conflict_with_a_hand_written_resource(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(EXAMPLES)
    first = call(monkeypatch, capsys, resource_list(render_config("lab.yaml")))
    mine = yaml.safe_load(yaml.safe_dump(first.items[0]))
    mine["metadata"]["annotations"] = {"config.kubernetes.io/path": "by-hand.yaml"}
    result = call(monkeypatch, capsys, resource_list(render_config("lab.yaml"), [mine]))
    assert result.code == 1
    assert "is already in the input at by-hand.yaml; aiogen renders it for cluster 'lab-1'" in result.err


def test_kpt_render_package_path_is_the_base_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """kpt fn render runs functions in its own cwd but names the package in an annotation."""
    package = EXAMPLES / "kustomize" / "kpt"
    config = render_config("../../lab.yaml", allowOutsideFiles=True)
    config["metadata"]["annotations"]["internal.config.kubernetes.io/package-path"] = str(package)
    monkeypatch.chdir(tmp_path)
    result = call(monkeypatch, capsys, resource_list(config))
    assert result.code == 0, result.err
    assert strip_paths(result.items) == stream(str(EXAMPLES / "lab.yaml"))


# ---------------------------------------------------------------- bad input, never a traceback


@pytest.mark.parametrize(("stdin", "message"), [
    (b"", "<stdin>: expected a ResourceList on stdin, got nothing"),
    (b"\xff\xfe", "<stdin>: byte 0 is not UTF-8"),
    (b"items: [\n", "<stdin>:2:1: the ResourceList is not valid YAML"),
    (b"- a\n- b\n", "<stdin>: expected a ResourceList on stdin, not a YAML list"),
    (b"a: 1\n---\nb: 2\n", "<stdin>:2:1: stdin holds more than one YAML document; a ResourceList is one"),
    (b"apiVersion: v1\nkind: List\nitems: []\n", "expected a ResourceList (apiVersion config.kubernetes.io/v1) "
                                                  "on stdin, got v1/List"),
    (b"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: 3\n", "<stdin>:3:8 items: must be a list"),
    (b"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: [3]\n",
     "<stdin>:3:9 items[0]: must be a mapping"),
    (b"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n", "the ResourceList has no functionConfig"),
    (b"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nfunctionConfig: [1]\n",
     "functionConfig: must be a mapping"),
    (b"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nfunctionConfig: {apiVersion: v1, kind: Service}\n",
     "the function config is v1/Service; aiogen takes a Topology or a RenderConfig"),
    (b"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nfunctionConfig:\n  apiVersion: aiogen.io/v1alpha1\n"
     b"  kind: RenderConfig\n  spec: [1]\n", "spec: must be a mapping with topology"),
    (b"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nfunctionConfig:\n  apiVersion: aiogen.io/v1alpha1\n"
     b"  kind: RenderConfig\n  metadata: {name: x}\n", "functionConfig RenderConfig/x spec: required field is missing"),
    (b"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nfunctionConfig:\n  apiVersion: aiogen.io/v1alpha1\n"
     b"  kind: RenderConfig\n  spec: {topology: .}\n", "spec.topology: '.' is not a file"),
    (b"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nfunctionConfig:\n  apiVersion: aiogen.io/v1alpha1\n"
     b"  kind: Topology\n  metadata: {name: t, annotations: {aiogen.io/clusters: 3}}\n",
     "metadata.annotations.aiogen.io/clusters: must be a string"),
    (b"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nfunctionConfig:\n  apiVersion: aiogen.io/v1alpha1\n"
     b"  kind: Topology\n  metadata: {name: t}\n  spec: {}\n", "spec.clusters: required field is missing"),
])
def test_bad_input_is_a_clean_error(stdin: bytes, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    result = call(monkeypatch, capsys, stdin)
    assert result.code == 1
    assert message in result.err
    assert result.out is not None and result.out["kind"] == "ResourceList"  # still a ResourceList
    assert result.results and all(r["severity"] == "error" for r in result.results)


def test_a_bug_is_reported_without_a_traceback(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from aiogen.krm import function

    def broken() -> int:
        raise KeyError("oops")

    monkeypatch.setattr(function, "_function", broken)
    monkeypatch.delenv("AIOGEN_DEBUG", raising=False)
    result = call(monkeypatch, capsys, b"")
    assert result.code == 70
    assert "aiogen: internal error: KeyError: 'oops'" in result.err


def test_no_arguments_on_a_terminal_prints_usage(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Tty())
    assert cli.main([]) == 2
    err = capsys.readouterr().err
    assert "aiogen: with no subcommand, aiogen runs as a KRM function" in err
    assert "kustomize build --enable-alpha-plugins --enable-exec" in err


# ---------------------------------------------------------------- legacy exec plugin


def _legacy_config(tmp_path: Path, config: dict[str, Any]) -> Path:
    path = tmp_path / "kust-plugin-config-123"
    path.write_text(yaml.safe_dump(config))
    return path


def test_legacy_plugin_generator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    config = render_config("../../fleet.yaml", ["plant-berlin"], allowOutsideFiles=True)
    del config["metadata"]["annotations"]
    monkeypatch.setenv("KUSTOMIZE_PLUGIN_CONFIG_ROOT", str(EXAMPLES / "kustomize" / "legacy"))
    result = call(monkeypatch, capsys, b"", [str(_legacy_config(tmp_path, config))])
    assert result.code == 0, result.err
    docs = [d for d in yaml.safe_load_all(result.raw) if d]
    assert docs == stream(str(EXAMPLES / "fleet.yaml"), "--cluster", "plant-berlin")


def test_legacy_plugin_transformer_keeps_its_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("KUSTOMIZE_PLUGIN_CONFIG_ROOT", str(EXAMPLES))
    service = "apiVersion: v1\nkind: Service\nmetadata:\n  name: svc\n"
    result = call(monkeypatch, capsys, service, [str(_legacy_config(tmp_path, render_config("lab.yaml")))])
    assert result.code == 0, result.err
    assert result.raw.startswith(service)
    assert len([d for d in yaml.safe_load_all(result.raw) if d]) == 1 + len(stream(str(EXAMPLES / "lab.yaml")))


def test_legacy_plugin_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("KUSTOMIZE_PLUGIN_CONFIG_ROOT", str(tmp_path))
    result = call(monkeypatch, capsys, b"", [str(_legacy_config(tmp_path, render_config("nope.yaml")))])
    assert result.code == 1
    assert "spec.topology: 'nope.yaml' does not exist" in result.err
    bad = tmp_path / "bad"
    bad.write_text("a: [")
    result = call(monkeypatch, capsys, b"", [str(bad)])
    assert result.code == 1
    assert "aiogen: the plugin config is not valid YAML" in result.err
    args = call(monkeypatch, capsys, b"", [str(bad), "--foo"])
    assert args.code == 1 and "takes no arguments" in args.err


def test_a_file_argument_outside_kustomize_is_a_usage_hint(monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("KUSTOMIZE_PLUGIN_CONFIG_ROOT", raising=False)
    spec = str(EXAMPLES / "lab.yaml")
    result = call(monkeypatch, capsys, b"", [spec])
    assert result.code == 2
    assert f"To render a spec: aiogen render {spec} -o DIR|-" in result.err


def test_krm_path_imports_nothing_heavy_before_it_needs_to() -> None:
    """`import aiogen.krm` (what every kustomize build pays first) stays standard-library only."""
    code = ("import sys, aiogen.cli, aiogen.krm; heavy = [m for m in ('pydantic', 'jinja2', 'ruamel', "
            "'cryptography', 'yaml') if m in sys.modules]; print(heavy)")
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.stdout.strip() == "[]"
