"""The ready-to-use integration files: each parsed, validated, and run where it can be run here.

* .pre-commit-hooks.yaml: a valid pre-commit manifest whose entries run, on a fresh and a stale tree.
* integrations/github-actions/aiogen.yml: a valid workflow whose `aiogen` commands parse with
  today's CLI, and whose render-check script behaves as the job needs (summary, exit status).
* integrations/argocd: the Component builds onto a repo-server Deployment with real kustomize,
  and the plugin's `generate` command, run where Argo CD runs it, yields what `aiogen render` does.
* integrations/flux: the Kustomization's path is a directory `aiogen render` writes, and kustomize
  with builtins only (all Flux has) builds it into exactly the rendered resources.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from aiogen.cli import app as cli
from tests.helpers import EXAMPLES, REPO, aiogen
from tests.test_kustomize import KUSTOMIZE_EXAMPLES, aiogen_bin_dir, rendered, resources, run, tool, tool_env

INTEGRATIONS = REPO / "integrations"
WORKFLOW = INTEGRATIONS / "github-actions" / "aiogen.yml"


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def gitops_repo(tmp_path: Path) -> Path:
    """The layout the integrations assume: fleet/ (spec + PEMs), clusters/ (rendered, committed)."""
    repo = tmp_path / "gitops"
    (repo / "fleet").mkdir(parents=True)
    shutil.copy(EXAMPLES / "fleet.yaml", repo / "fleet" / "fleet.yaml")
    shutil.copytree(EXAMPLES / "pki", repo / "fleet" / "pki")
    result = aiogen("render", repo / "fleet" / "fleet.yaml", "-o", repo / "clusters")  # in-process: fast
    assert result.code == 0, result.err
    return repo


def make_stale(repo: Path) -> None:
    listener = repo / "clusters/plant-berlin/broker/azure-iot-operations/brokerlistener-plant-mqtts.yaml"
    listener.write_text(listener.read_text().replace("LoadBalancer", "NodePort"))


# ---------------------------------------------------------------- pre-commit

HOOK_KEYS = {  # pre-commit's manifest schema (pre_commit/clientlib.py MANIFEST_HOOK_DICT)
    "id", "name", "entry", "language", "alias", "files", "exclude", "types", "types_or", "exclude_types",
    "additional_dependencies", "args", "always_run", "fail_fast", "pass_filenames", "description",
    "language_version", "log_file", "require_serial", "stages", "verbose", "minimum_pre_commit_version",
}


def test_pre_commit_manifest_is_valid() -> None:
    hooks = load(REPO / ".pre-commit-hooks.yaml")
    assert isinstance(hooks, list) and {h["id"] for h in hooks} == {"aiogen-render-check", "aiogen-render"}
    for hook in hooks:
        assert {"id", "name", "entry", "language"} <= set(hook) <= HOOK_KEYS, hook
        assert hook["language"] == "python"  # pre-commit pip-installs this repository (pyproject.toml)
        assert hook["pass_filenames"] is False  # the spec and output come from args, not staged files
        re.compile(hook["files"])
        assert shlex.split(hook["entry"])[0] == "aiogen"


@pytest.mark.parametrize("hook_id", ["aiogen-render-check", "aiogen-render"])
def test_pre_commit_hooks_run(hook_id: str, tmp_path: Path) -> None:
    (hook,) = [h for h in load(REPO / ".pre-commit-hooks.yaml") if h["id"] == hook_id]
    repo = gitops_repo(tmp_path)
    args = ["fleet/fleet.yaml", "-o", "clusters"]  # as in the manifest's usage comment
    argv = [str(aiogen_bin_dir() / "aiogen"), *shlex.split(hook["entry"])[1:], *args]
    assert run(argv, cwd=repo).returncode == 0
    make_stale(repo)
    stale = run(argv, cwd=repo)
    if hook_id == "aiogen-render-check":
        assert stale.returncode == 3 and "-  serviceType: NodePort" in stale.stdout
    else:  # re-rendered: pre-commit sees the modified file and fails the commit for review
        assert stale.returncode == 0
        assert "serviceType: LoadBalancer" in (
            repo / "clusters/plant-berlin/broker/azure-iot-operations/brokerlistener-plant-mqtts.yaml").read_text()


# ---------------------------------------------------------------- GitHub Actions


def workflow() -> dict[str, Any]:
    data = load(WORKFLOW)
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data  # type: ignore[no-any-return]


def steps() -> list[dict[str, Any]]:
    (job,) = workflow()["jobs"].values()
    return list(job["steps"])


def test_workflow_shape() -> None:
    data = workflow()
    assert set(data["on"]) == {"pull_request", "push"}
    assert data["permissions"] == {"contents": "read"}
    (job,) = data["jobs"].values()
    assert job["runs-on"] == "ubuntu-latest"
    checkout = job["steps"][0]
    assert checkout["uses"].startswith("actions/checkout@") and checkout["with"]["fetch-depth"] == 0
    for step in job["steps"]:
        assert ("uses" in step) != ("run" in step), step
    rollout = next(s for s in job["steps"] if "rollout check" in s.get("run", ""))
    assert rollout["if"] == "github.event_name == 'pull_request'"
    assert "--base" in rollout["run"]


def _aiogen_commands() -> list[tuple[str, list[str]]]:
    env = workflow()["env"]
    commands = []
    for step in steps():
        for line in step.get("run", "").splitlines():
            words = line.strip().split(" > ")[0].split(" || ")[0]
            if words.startswith("aiogen "):
                expanded = re.sub(r'"?\$(\w+)"?', lambda m: env.get(m.group(1), "REV"), words)
                commands.append((step["name"], shlex.split(expanded)[1:]))
    return commands


def has_subcommand(name: str) -> bool:
    return importlib.util.find_spec(f"aiogen.cli.commands.{name}") is not None


def test_workflow_commands_parse_with_the_cli() -> None:
    commands = _aiogen_commands()
    assert [name for name, _ in commands] == ["Rendered tree is up to date", "Rollout is safe"]
    parser = cli.build_parser()
    for _, argv in commands:
        if has_subcommand(argv[0]):  # else: skipped with its reason in the rollout test
            parser.parse_args(argv)


def test_workflow_rollout_check_script(tmp_path: Path) -> None:
    """The step's command in a git checkout: the spec at the base commit against the working copy."""
    (step,) = [s for s in steps() if s.get("name") == "Rollout is safe"]
    if not has_subcommand("rollout"):
        pytest.skip(f"`aiogen rollout` is not in this build yet; the workflow runs `{step['run']}`")
    git = tool("git")
    repo = gitops_repo(tmp_path)
    identity = ["-c", "user.name=ci", "-c", "user.email=ci@example.invalid"]
    for argv in (["init", "-q"], ["add", "-A"], [*identity, "commit", "-q", "-m", "base"]):
        assert run([git, *argv], cwd=repo).returncode == 0
    base = run([git, "rev-parse", "HEAD"], cwd=repo).stdout.strip()
    env = tool_env(BASE_SHA=base, **{k: str(v) for k, v in workflow()["env"].items()})
    result = run([tool("bash"), "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=repo, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is safe" in result.stdout + result.stderr and "plant-berlin" in result.stdout + result.stderr


def test_workflow_render_check_script(tmp_path: Path) -> None:
    """The step's shell script, run as Actions would (bash -e), on a current and a stale tree."""
    (step,) = [s for s in steps() if s.get("name") == "Rendered tree is up to date"]
    bash = tool("bash")
    repo = gitops_repo(tmp_path)
    summary = tmp_path / "summary.md"
    env = tool_env(GITHUB_STEP_SUMMARY=str(summary), **{k: str(v) for k, v in workflow()["env"].items()})
    script = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]]
    assert run([bash, *script[1:]], cwd=repo, env=env).returncode == 0
    assert not summary.exists()
    make_stale(repo)
    failed = run([bash, *script[1:]], cwd=repo, env=env)
    assert failed.returncode == 3
    text = summary.read_text()
    assert "### `clusters` is stale" in text and "```diff\n--- a/plant-berlin/" in text


# ---------------------------------------------------------------- Argo CD


def test_argocd_component_builds_onto_the_repo_server(tmp_path: Path) -> None:
    install = tmp_path / "argocd-install"
    install.mkdir()
    (install / "repo-server.yaml").write_text(yaml.safe_dump({  # the parts of Argo CD's manifest that matter
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "argocd-repo-server"},
        "spec": {"template": {"spec": {
            "containers": [{"name": "argocd-repo-server", "image": "quay.io/argoproj/argocd:v2.13.0"}],
            "volumes": [{"name": "var-files", "emptyDir": {}}, {"name": "plugins", "emptyDir": {}}]}}},
    }))
    component = os.path.relpath(INTEGRATIONS / "argocd", install)  # kustomize wants it relative
    (install / "kustomization.yaml").write_text(yaml.safe_dump({
        "namespace": "argocd", "resources": ["repo-server.yaml"], "components": [component]}))
    result = run([tool("kustomize"), "build", str(install)])
    assert result.returncode == 0, result.stderr
    built = resources(result.stdout)
    deployment = built[("apps/v1", "Deployment", "argocd", "argocd-repo-server")]
    (config_map_key,) = [k for k in built if k[1] == "ConfigMap"]
    pod = deployment["spec"]["template"]["spec"]
    (sidecar,) = [c for c in pod["containers"] if c["name"] == "aiogen-cmp"]
    assert sidecar["command"] == ["/var/run/argocd/argocd-cmp-server"]
    assert sidecar["securityContext"]["runAsUser"] == 999
    mounts = {m["mountPath"]: m for m in sidecar["volumeMounts"]}
    assert {"/var/run/argocd", "/home/argocd/cmp-server/plugins", "/tmp"} <= set(mounts)
    plugin_mount = mounts["/home/argocd/cmp-server/config/plugin.yaml"]
    volume = next(v for v in pod["volumes"] if v["name"] == plugin_mount["name"])
    assert volume["configMap"]["name"] == config_map_key[3]  # the hashed name, followed by kustomize
    plugin = yaml.safe_load(built[config_map_key]["data"][plugin_mount["subPath"]])
    assert plugin == load(INTEGRATIONS / "argocd" / "plugin.yaml")


def test_argocd_plugin_generate_yields_the_rendered_resources() -> None:
    plugin = load(INTEGRATIONS / "argocd" / "plugin.yaml")
    assert (plugin["apiVersion"], plugin["kind"]) == ("argoproj.io/v1alpha1", "ConfigManagementPlugin")
    command = plugin["spec"]["generate"]["command"]
    tool(command[0])
    application = load(INTEGRATIONS / "argocd" / "application.yaml")
    assert application["spec"]["source"]["plugin"]["name"] == f"{plugin['metadata']['name']}-{plugin['spec']['version']}"
    source = REPO / application["spec"]["source"]["path"]  # Argo CD runs generate in the source directory
    result = run(command, cwd=source)
    assert result.returncode == 0, result.stderr
    built = resources(result.stdout)
    expected = rendered(EXAMPLES / "fleet.yaml", "plant-berlin")
    assert built.keys() == expected.keys()


def test_argocd_image_has_what_the_plugin_runs() -> None:
    dockerfile = (INTEGRATIONS / "argocd" / "Dockerfile").read_text()
    assert re.search(r"pip install .*aiogen-pki==", dockerfile)
    assert "kustomize" in dockerfile and "--checksum=sha256:" in dockerfile
    assert re.search(r"^USER 999$", dockerfile, re.MULTILINE)


# ---------------------------------------------------------------- Flux


def test_flux_reconciles_the_committed_tree_with_builtins_only(tmp_path: Path) -> None:
    source = load(INTEGRATIONS / "flux" / "gitrepository.yaml")
    kustomization = load(INTEGRATIONS / "flux" / "plant-berlin.yaml")
    assert source["apiVersion"] == "source.toolkit.fluxcd.io/v1" and source["kind"] == "GitRepository"
    assert kustomization["apiVersion"] == "kustomize.toolkit.fluxcd.io/v1"
    assert kustomization["spec"]["sourceRef"] == {"kind": "GitRepository", "name": source["metadata"]["name"]}
    assert kustomization["spec"]["prune"] is True
    repo = gitops_repo(tmp_path)
    path = repo / kustomization["spec"]["path"]
    assert (path / "kustomization.yaml").is_file()
    # the GitRepository's ignore rules keep the rendered tree
    assert "!/clusters/" in source["spec"]["ignore"]
    result = run([tool("kustomize"), "build", str(path)])  # no plugin flags: what Flux can do
    assert result.returncode == 0, result.stderr
    assert resources(result.stdout) == rendered(EXAMPLES / "fleet.yaml", "plant-berlin")


def test_every_integration_file_parses() -> None:
    files = [p for p in INTEGRATIONS.rglob("*") if p.suffix in {".yaml", ".yml"}]
    files += [REPO / ".pre-commit-hooks.yaml", *KUSTOMIZE_EXAMPLES.rglob("*.yaml"),
              *KUSTOMIZE_EXAMPLES.rglob("Kptfile")]
    assert len(files) > 10
    for path in files:
        assert list(yaml.safe_load_all(path.read_text())), path

