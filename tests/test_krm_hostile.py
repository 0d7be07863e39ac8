"""Hostile input to the KRM function and the legacy plugin (issue 13, items 3, 5 and 11): values
PyYAML cannot construct, spec paths that leave the base directory or name files that are not
specs, and ResourceLists past the input limits. Each ends in a ResourceList with an error result
and exit 1 (or with foreign items passed through untouched), never exit 70 or a traceback."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from aiogen.krm import resourcelist
from tests.helpers import EXAMPLES
from tests.test_krm import Call, _legacy_config, kustomize_input, render_config, resource_list
from tests.test_krm import call as call_parsed

HUGE = "9" * 5000
HEAD = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\n"
SECRET = "root:$6$s3cr3tHash:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"


def call(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], stdin: str | bytes,
         argv: list[str] | None = None) -> Call:
    """As tests.test_krm.call, but the output is read as plain strings: it may echo values (an
    invalid date) that PyYAML's safe loader cannot construct."""
    original = yaml.safe_load
    monkeypatch.setattr(yaml, "safe_load", lambda text: yaml.load(text, Loader=yaml.BaseLoader))
    try:
        return call_parsed(monkeypatch, capsys, stdin, argv)
    finally:
        monkeypatch.setattr(yaml, "safe_load", original)


def _lab(tmp_path: Path) -> Path:
    shutil.copy(EXAMPLES / "lab.yaml", tmp_path / "lab.yaml")
    return tmp_path


def _config_text(extra: str) -> str:
    return (HEAD + "items: []\nfunctionConfig:\n  apiVersion: aiogen.io/v1alpha1\n  kind: RenderConfig\n"
            f"  metadata: {{name: cfg}}\n  spec: {{topology: lab.yaml, {extra}}}\n")


def _one_error(result: Call, message: str) -> dict[str, Any]:
    assert result.code == 1, result.err
    assert result.out is not None and result.out["kind"] == "ResourceList"
    (error,) = result.results
    assert error["severity"] == "error"
    assert message in error["message"]
    assert message in result.err
    return error


# ---------------------------------------------------------------- item 3: values PyYAML cannot construct


@pytest.mark.parametrize(("value", "message"), [
    ("t: 2025-02-30", "<stdin>:8:33: cannot read '2025-02-30' as a date: day is out of range for month"),
    (f"t: {HUGE}", "<stdin>:8:33: cannot read '" + "9" * 63 + "… (5002 chars) as an integer: too many digits (5000)"),
])
def test_function_config_value_that_cannot_be_read(value: str, message: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(_lab(tmp_path))
    result = call(monkeypatch, capsys, _config_text(value))
    assert result.err == f"aiogen: {message}\n"
    _one_error(result, message.split(": ", 1)[1])


def _item(metadata: str) -> str:
    return f"- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n{metadata}  data: {{a: b}}\n"


@pytest.mark.parametrize("metadata", [
    "    name: odd\n    labels: {t: 2025-02-30}\n",
    f"    name: odd\n    labels: {{n: {HUGE}}}\n",
    "    name: 2025-02-30\n    namespace: " + HUGE + "\n",
    "    name: odd\n    annotations: {config.kubernetes.io/index: 2025-02-30, config.kubernetes.io/path: 2025-02-31}\n",
    f"    name: odd\n    annotations: {{config.kubernetes.io/index: {HUGE}}}\n",
])
def test_foreign_item_with_unreadable_metadata_passes_through(
        metadata: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(_lab(tmp_path))
    item = _item(metadata)
    config = yaml.safe_dump({"functionConfig": render_config("lab.yaml")}, sort_keys=False)
    result = call(monkeypatch, capsys, HEAD + "items:\n" + item + config)
    assert result.code == 0, result.err
    assert result.err == ""
    assert result.raw.startswith(HEAD + "items:\n" + item)  # echoed untouched, first
    assert len(result.raw.split("\n- ")) > 5  # and the lab rendered after it


def test_function_config_index_annotation_of_5000_digits(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """kpt's index annotation is a string; one no file can have is ignored, not converted."""
    monkeypatch.chdir(_lab(tmp_path))
    config = render_config("lab.yaml")
    (tmp_path / "aiogen.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    config["metadata"]["annotations"].update({"config.kubernetes.io/path": "aiogen.yaml",
                                              "config.kubernetes.io/index": HUGE})
    result = call(monkeypatch, capsys, resource_list(config))
    assert result.code == 0, result.err
    config["metadata"]["annotations"]["config.kubernetes.io/index"] = "٣"  # a digit, but not ASCII
    assert call(monkeypatch, capsys, resource_list(config)).code == 0


@pytest.mark.parametrize("junk", ["t: 2025-02-30\n", f"n: {HUGE}\n"])
def test_sibling_generator_and_kustomization_that_cannot_be_read(
        junk: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Finding the config's own file reads the kustomization's other generators: best effort."""
    monkeypatch.chdir(_lab(tmp_path))
    (tmp_path / "kustomization.yaml").write_text("generators: [other.yaml, aiogen.yaml]\nt: 2025-02-30\n")
    (tmp_path / "other.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n" + junk)
    config = render_config("lab.yaml", extra=1)
    (tmp_path / "aiogen.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    result = call(monkeypatch, capsys, kustomize_input(config))
    error = _one_error(result, "unknown field; expected topology, clusters, allowOutsideFiles, stage")
    assert error["file"] == {"path": "aiogen.yaml"}  # still located in its own file
    del config["spec"]["extra"]
    (tmp_path / "aiogen.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    assert call(monkeypatch, capsys, kustomize_input(config)).code == 0


def test_legacy_plugin_config_that_cannot_be_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("KUSTOMIZE_PLUGIN_CONFIG_ROOT", str(_lab(tmp_path)))
    path = tmp_path / "kust-plugin-config-1"
    for junk, message in [("2025-02-30", "cannot read '2025-02-30' as a date: day is out of range for month"),
                          (HUGE, "as an integer: too many digits (5000)")]:
        path.write_text(f"apiVersion: aiogen.io/v1alpha1\nkind: RenderConfig\nspec: {{topology: lab.yaml}}\n"
                        f"t: {junk}\n")
        result = call(monkeypatch, capsys, b"", [str(path)])
        assert result.code == 1
        assert result.err.startswith(f"aiogen: {path}:4:4: the plugin config: ")
        assert message in result.err
    (tmp_path / "kustomization.yaml").write_text("generators: [other.yaml]\nt: 2025-02-30\n")
    (tmp_path / "other.yaml").write_text(f"kind: RenderConfig\nn: {HUGE}\n")
    ok = call(monkeypatch, capsys, b"", [str(_legacy_config(tmp_path, render_config("lab.yaml")))])
    assert ok.code == 0, ok.err


# ---------------------------------------------------------------- item 5: where topology: may point


def _outside(tmp_path: Path) -> tuple[Path, Path]:
    """A base directory holding a spec, and a spec-shaped secret beside it."""
    base = tmp_path / "base"
    base.mkdir()
    _lab(base)
    (tmp_path / "shadow").write_text(SECRET)
    return base, tmp_path / "shadow"


@pytest.mark.parametrize(("topology", "message"), [
    ("{secret}", "spec.topology: '{secret}' is an absolute path (write it relative to {base}, the directory "
                 "holding the config, or set spec.allowOutsideFiles: true)"),
    ("../shadow", "spec.topology: '../shadow' is outside {base}, the directory holding the config (keep the spec "
                  "under it, or set spec.allowOutsideFiles: true)"),
    ("link/shadow", "spec.topology: 'link/shadow' is outside {base}, the directory holding the config"),
    ("lab.yaml/../../shadow", "spec.topology: 'lab.yaml/../../shadow' is outside {base}"),
])
def test_topology_stays_in_the_base_directory(topology: str, message: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    base, secret = _outside(tmp_path)
    (base / "link").symlink_to(tmp_path)
    monkeypatch.chdir(base)
    topology = topology.format(secret=secret)
    result = call(monkeypatch, capsys, kustomize_input(render_config(topology)))
    _one_error(result, message.format(secret=secret, base=base).split("spec.topology: ")[1])
    assert "s3cr3t" not in result.raw + result.err
    assert call(monkeypatch, capsys, kustomize_input(render_config("./link/base/../base/lab.yaml"))).code == 0


def test_topology_may_leave_with_allow_outside_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    base, _ = _outside(tmp_path)
    shutil.move(base / "lab.yaml", tmp_path / "lab.yaml")
    monkeypatch.chdir(base)
    result = call(monkeypatch, capsys, kustomize_input(render_config("../lab.yaml", allowOutsideFiles=True)))
    assert result.code == 0, result.err
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fn"},
          "data": {"topology": "../lab.yaml", "allowOutsideFiles": "true"}}
    assert call(monkeypatch, capsys, resource_list(cm)).code == 0
    cm["data"]["allowOutsideFiles"] = "false"
    _one_error(call(monkeypatch, capsys, resource_list(cm)), "(keep the spec under it, or set "
                                                             "data.allowOutsideFiles: true)")


@pytest.mark.parametrize("content", [
    SECRET,  # one long plain scalar
    "password: s3cr3t\nuser: admin\n",  # a mapping, not a spec
    "- s3cr3t\n- more\n",  # a list
    "s3cr3t: [unclosed\n",  # not YAML
    "1: s3cr3t\n",  # a key that is not a string
    "\x00s3cr3t\n",  # not text YAML accepts
])
def test_a_file_that_is_not_a_spec_is_never_echoed(content: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    base, secret = _outside(tmp_path)
    secret.write_text(content)
    monkeypatch.chdir(base)
    result = call(monkeypatch, capsys, kustomize_input(render_config(str(secret), allowOutsideFiles=True)))
    message = f"{secret} is not a topology spec (a YAML mapping with apiVersion: aiogen.io/v1alpha1 and kind: Topology)"
    assert result.err == f"aiogen: {message}\n"
    _one_error(result, message)
    assert "s3cr3t" not in result.raw


def test_a_spec_with_errors_is_still_located(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Only files that are not specs lose their details: a spec's own mistakes keep file:line:col."""
    monkeypatch.chdir(_lab(tmp_path))
    text = (tmp_path / "lab.yaml").read_text()
    (tmp_path / "lab.yaml").write_text(text.replace("kind: Topology", "kind: Topolgy"))
    misspelt = call(monkeypatch, capsys, kustomize_input(render_config("lab.yaml")))
    assert misspelt.err == "aiogen: lab.yaml:5:7 kind: 'Topolgy' is not allowed; expected 'Topology'\n"
    (tmp_path / "lab.yaml").write_text(text + "  oops: [\n")
    broken = call(monkeypatch, capsys, kustomize_input(render_config("lab.yaml")))
    assert broken.code == 1 and "aiogen: lab.yaml:" in broken.err and "not a topology spec" not in broken.err


# ---------------------------------------------------------------- item 11: bounded input


def _items(count: int) -> str:
    return "".join(f"- {{apiVersion: v1, kind: ConfigMap, metadata: {{name: c{n}}}, data: {{k: v{n}}}}}\n"
                   for n in range(count))


def test_too_many_items_is_refused_before_composing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(_lab(tmp_path))
    config = yaml.safe_dump({"functionConfig": render_config("lab.yaml")}, sort_keys=False)
    text = HEAD + "items:\n" + _items(100_000) + config
    start = time.process_time()
    result = call(monkeypatch, capsys, text)
    assert time.process_time() - start < 3  # it used to cost 20 s and 660 MB
    _one_error(result, "the ResourceList holds more than 10000 items (docs/kustomize.md lists the input limits)")
    assert result.err.startswith("aiogen: <stdin>:10004:3: ")
    assert resourcelist.MAX_ITEMS == 10_000


def test_too_many_values_and_too_many_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(_lab(tmp_path))
    config = yaml.safe_dump({"functionConfig": render_config("lab.yaml")}, sort_keys=False)
    monkeypatch.setattr(resourcelist, "MAX_VALUES", 100)
    many = HEAD + "items:\n- apiVersion: v1\n  kind: List\n  items: [" + ", ".join(["x"] * 200) + "]\n" + config
    _one_error(call(monkeypatch, capsys, many), "the ResourceList holds more than 100 values")
    monkeypatch.setattr(resourcelist, "MAX_INPUT_BYTES", 1000)
    big = HEAD + "items:\n" + _items(30) + config
    _one_error(call(monkeypatch, capsys, big), "the ResourceList on stdin is over 1000 bytes")
    monkeypatch.setenv("KUSTOMIZE_PLUGIN_CONFIG_ROOT", str(tmp_path))
    legacy = call(monkeypatch, capsys, big, [str(_legacy_config(tmp_path, render_config("lab.yaml")))])
    assert legacy.code == 1 and "the resources on stdin are over 1000 bytes" in legacy.err


def test_passing_items_through_is_linear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(_lab(tmp_path))
    config = yaml.safe_dump({"functionConfig": render_config("lab.yaml")}, sort_keys=False)

    def cost(count: int) -> float:
        text = HEAD + "items:\n" + _items(count) + config
        start = time.process_time()
        result = call(monkeypatch, capsys, text)
        assert result.code == 0 and len(result.items) > count
        return time.process_time() - start

    cost(10)  # imports and templates, once
    small, large = min(cost(1000) for _ in range(2)), min(cost(8000) for _ in range(2))
    assert large < 8 * small * 2, (small, large)
    assert large < 5, large


def test_limits_are_documented() -> None:
    text = (Path(__file__).resolve().parent.parent / "docs" / "kustomize.md").read_text()
    for limit in (f"{resourcelist.MAX_INPUT_BYTES // (1 << 20)} MiB", f"{resourcelist.MAX_ITEMS:,}",
                  f"{resourcelist.MAX_VALUES:,}"):
        assert limit in text, limit
