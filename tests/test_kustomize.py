"""aiogen inside real kustomize and kubectl, on the kustomizations of examples/kustomize/.

Each build must yield exactly the resources `aiogen render --cluster X -o -` yields (compared as
parsed objects: kustomize sorts keys and reorders documents), and a bad spec must fail the build
with aiogen's located message on stderr. Tests skip, with the reason, when a binary is missing;
CI installs them all (.ci/run). The helpers here are shared with test_kpt.py and
test_integrations.py.
"""

from __future__ import annotations

import copy
import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import EXAMPLES, REPO

KUSTOMIZE_EXAMPLES = EXAMPLES / "kustomize"
EXEC = ["--enable-alpha-plugins", "--enable-exec"]
Key = tuple[str, str, str, str]


def aiogen_bin_dir() -> Path:
    """The directory holding the `aiogen` console script of this interpreter's environment."""
    here = Path(sys.executable).parent
    return here if (here / "aiogen").exists() else REPO / ".venv" / "bin"


def tool(name: str) -> str:
    """Absolute path of a binary (kustomize is also looked up in <repo>/.tools/bin), or skip."""
    search = os.pathsep.join([str(REPO / ".tools" / "bin"), os.environ.get("PATH", "")])
    found = shutil.which(name, path=search)
    if found is None:
        if name == "kustomize":
            pytest.skip("kustomize is not on PATH nor in .tools/bin "
                        "(install it: bash tools/install-kustomize.sh .tools)")
        pytest.skip(f"{name} is not installed (not on PATH)")
    return found


def tool_env(**extra: str) -> dict[str, str]:
    """The environment for kustomize/kpt: `aiogen` must be on PATH for `exec: {path: aiogen}`."""
    if not (aiogen_bin_dir() / "aiogen").exists():
        pytest.skip(f"the aiogen console script is not installed in {aiogen_bin_dir()} (pip install -e .)")
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(aiogen_bin_dir()), str(REPO / ".tools" / "bin"), env.get("PATH", "")])
    env.pop("AIOGEN_DEBUG", None)
    env.update(extra)
    return env


def run(argv: list[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None,
        stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=dict(env) if env is not None else tool_env(), input=stdin,
                          capture_output=True, text=True, timeout=120, check=False)


def resources(text: str) -> dict[Key, dict[str, Any]]:
    """Documents of a YAML stream by (apiVersion, kind, namespace, name); duplicates fail."""
    out: dict[Key, dict[str, Any]] = {}
    for doc in yaml.safe_load_all(text):
        if not doc:
            continue
        meta = doc.get("metadata") or {}
        key = (doc["apiVersion"], doc["kind"], meta.get("namespace", ""), meta.get("name", ""))
        assert key not in out, f"duplicate resource {key}"
        out[key] = doc
    return out


def rendered(spec: Path, *clusters: str) -> dict[Key, dict[str, Any]]:
    """What `aiogen render SPEC --cluster X -o -` yields, run as the real console script."""
    return copy.deepcopy(_rendered(spec, clusters))


@functools.cache
def _rendered(spec: Path, clusters: tuple[str, ...]) -> dict[Key, dict[str, Any]]:
    argv = [str(aiogen_bin_dir() / "aiogen"), "render", str(spec), "-o", "-"]
    for name in clusters:
        argv += ["--cluster", name]
    result = run(argv)
    assert result.returncode == 0, result.stderr
    docs = resources(result.stdout)
    assert docs
    return docs


def kustomize_build(directory: Path, *flags: str, env: Mapping[str, str] | None = None
                    ) -> subprocess.CompletedProcess[str]:
    return run([tool("kustomize"), "build", *flags, str(directory)], env=env)


def without_annotations(spec: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in spec["metadata"].items() if k != "annotations"}
    return {**spec, "metadata": meta}


# ---------------------------------------------------------------- exec KRM function


def test_render_config_form_yields_exactly_what_render_yields() -> None:
    result = kustomize_build(KUSTOMIZE_EXAMPLES / "render-config", *EXEC)
    assert result.returncode == 0, result.stderr
    assert resources(result.stdout) == rendered(EXAMPLES / "fleet.yaml", "plant-berlin")
    assert "RenderConfig" not in result.stdout  # the config item is not echoed back


def test_topology_form_yields_exactly_what_render_yields() -> None:
    example = KUSTOMIZE_EXAMPLES / "topology" / "topology.yaml"
    # the example is ../lab-intermediate.yaml plus the function annotation, nothing else
    assert without_annotations(yaml.safe_load(example.read_text())) == yaml.safe_load(
        (EXAMPLES / "lab-intermediate.yaml").read_text())
    result = kustomize_build(example.parent, *EXEC)
    assert result.returncode == 0, result.stderr
    assert resources(result.stdout) == rendered(EXAMPLES / "lab-intermediate.yaml")
    assert "kind: Topology" not in result.stdout


def test_overlay_patches_a_rendered_resource() -> None:
    result = kustomize_build(KUSTOMIZE_EXAMPLES / "overlay", *EXEC)
    assert result.returncode == 0, result.stderr
    built = resources(result.stdout)
    expected = rendered(EXAMPLES / "fleet.yaml", "plant-berlin")
    listener = ("mqttbroker.iotoperations.azure.com/v1", "BrokerListener", "azure-iot-operations", "plant-mqtts")
    assert built[listener]["metadata"]["annotations"] == {"argocd.argoproj.io/sync-wave": "1"}
    built[listener]["metadata"].pop("annotations")
    assert built == expected


def test_without_enable_exec_kustomize_silently_skips_the_function() -> None:
    """Why the docs insist on --enable-exec: without it the build 'succeeds' with nothing."""
    result = kustomize_build(KUSTOMIZE_EXAMPLES / "render-config", "--enable-alpha-plugins")
    assert result.returncode == 0
    assert resources(result.stdout) == {}


def test_without_plugins_kustomize_refuses_like_flux_does() -> None:
    """Flux builds with builtins only: the same error a user of Flux would get."""
    result = kustomize_build(KUSTOMIZE_EXAMPLES / "render-config")
    assert result.returncode != 0
    assert "external plugins disabled; unable to load external plugin 'RenderConfig'" in result.stderr


# ---------------------------------------------------------------- errors end to end


def _broken_lab(directory: Path) -> None:
    text = (EXAMPLES / "lab.yaml").read_text()
    assert "port: 8883" in text
    (directory / "spec.yaml").write_text(text.replace("port: 8883", "port: 18883"))


def test_bad_spec_fails_the_build_with_the_located_message(tmp_path: Path) -> None:
    _broken_lab(tmp_path)
    line = next(n for n, text in enumerate((tmp_path / "spec.yaml").read_text().splitlines(), 1) if "18883" in text)
    (tmp_path / "kustomization.yaml").write_text("generators: [aiogen.yaml]\n")
    (tmp_path / "aiogen.yaml").write_text(
        "apiVersion: aiogen.io/v1alpha1\nkind: RenderConfig\nmetadata:\n  name: lab\n  annotations:\n"
        "    config.kubernetes.io/function: 'exec: {path: aiogen}'\nspec:\n  topology: spec.yaml\n")
    result = kustomize_build(tmp_path, *EXEC)
    assert result.returncode == 1
    assert result.stdout == ""
    assert f"aiogen: spec.yaml:{line}:23 spec.clusters[0].broker.listeners[0].ports[0].port: port 18883" \
        in result.stderr
    assert "Error: couldn't execute function: exit status 1" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_topology_config_is_located_in_its_own_file(tmp_path: Path) -> None:
    """The Topology form: the message points into the file the kustomization lists."""
    text = (KUSTOMIZE_EXAMPLES / "topology" / "topology.yaml").read_text().replace("port: 8883", "port: 18883")
    (tmp_path / "topology.yaml").write_text(text)
    shutil.copy(KUSTOMIZE_EXAMPLES / "topology" / "kustomization.yaml", tmp_path)
    line = next(n for n, t in enumerate(text.splitlines(), 1) if "18883" in t)
    result = kustomize_build(tmp_path, *EXEC)
    assert result.returncode == 1
    assert f"aiogen: topology.yaml:{line}:" in result.stderr
    assert "ports[0].port: port 18883 is already used by the default listener" in result.stderr


def test_missing_spec_file_is_a_located_error(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("generators: [aiogen.yaml]\n")
    (tmp_path / "aiogen.yaml").write_text(
        "apiVersion: aiogen.io/v1alpha1\nkind: RenderConfig\nmetadata:\n  name: x\n  annotations:\n"
        "    config.kubernetes.io/function: 'exec: {path: aiogen}'\nspec:\n  topology: nope.yaml\n")
    result = kustomize_build(tmp_path, *EXEC)
    assert result.returncode == 1
    assert "aiogen: aiogen.yaml:8:13 spec.topology: 'nope.yaml' does not exist" in result.stderr
    assert f"relative to {tmp_path}" in result.stderr


# ---------------------------------------------------------------- legacy exec plugin (kubectl)


def _plugin_home(root: Path) -> Path:
    """The layout docs/kustomize.md shows: <home>/aiogen.io/v1alpha1/<lowercase kind>/<Kind>."""
    for kind in ("RenderConfig", "Topology"):
        folder = root / "kustomize" / "plugin" / "aiogen.io" / "v1alpha1" / kind.lower()
        folder.mkdir(parents=True)
        (folder / kind).symlink_to(aiogen_bin_dir() / "aiogen")
    return root


def test_legacy_plugin_with_kubectl_kustomize(tmp_path: Path) -> None:
    kubectl = tool("kubectl")
    env = tool_env(XDG_CONFIG_HOME=str(_plugin_home(tmp_path / "xdg")))
    result = run([kubectl, "kustomize", "--enable-alpha-plugins", str(KUSTOMIZE_EXAMPLES / "legacy")], env=env)
    assert result.returncode == 0, result.stderr
    assert resources(result.stdout) == rendered(EXAMPLES / "fleet.yaml", "plant-berlin")


def test_legacy_plugin_with_standalone_kustomize_reports_errors(tmp_path: Path) -> None:
    env = tool_env(XDG_CONFIG_HOME=str(_plugin_home(tmp_path / "xdg")))
    _broken_lab(tmp_path)
    (tmp_path / "kustomization.yaml").write_text("generators: [aiogen.yaml]\n")
    (tmp_path / "aiogen.yaml").write_text(
        "apiVersion: aiogen.io/v1alpha1\nkind: RenderConfig\nmetadata:\n  name: lab\nspec:\n  topology: spec.yaml\n")
    result = kustomize_build(tmp_path, "--enable-alpha-plugins", env=env)
    assert result.returncode == 1
    assert "aiogen: spec.yaml:" in result.stderr and "port 18883 is already used" in result.stderr


def test_kubectl_silently_skips_the_exec_function() -> None:
    """The trap docs/kustomize.md warns about: exit 0, and none of aiogen's resources."""
    kubectl = tool("kubectl")
    result = run([kubectl, "kustomize", "--enable-alpha-plugins", str(KUSTOMIZE_EXAMPLES / "render-config")])
    assert result.returncode == 0, result.stderr
    assert resources(result.stdout) == {}
