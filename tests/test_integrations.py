"""The ready-to-use integration files: each parsed, validated, and run where it can be run here.

* .pre-commit-hooks.yaml: a valid pre-commit manifest whose entries run, on a fresh and a stale tree.
* integrations/github-actions/aiogen.yml: a valid workflow whose `aiogen` commands parse with
  today's CLI, and whose render-check script behaves as the job needs (summary, exit status).
* integrations/argocd: the Component builds onto a repo-server Deployment with real kustomize,
  and the plugin's `generate` command, run where Argo CD runs it, yields what `aiogen render` does.
* integrations/argocd/applicationset.yaml: the cluster generator's Application has one source per
  install stage, in sync waves, and each path is a directory `aiogen render` writes.
* integrations/flux: one Flux Kustomization per stage plus two CRD gates, applied in install order
  (dependsOn); every path exists in the rendered tree (or the copied gates), and kustomize with
  builtins only (all Flux has) builds each stage into exactly its rendered resources.
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
    assert [name for name, _ in commands] == ["Spec is valid", "Rendered tree is up to date", "Rollout is safe"]
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
    # the modules a cold start imports, compiled as root after the install: uid 999 cannot write the package
    assert dockerfile.index("aiogen-pki==") < dockerfile.index("&& aiogen precompile") < dockerfile.index("USER 999")
    assert "kustomize" in dockerfile and "--checksum=sha256:" in dockerfile
    assert re.search(r"^USER 999$", dockerfile, re.MULTILINE)


# ---------------------------------------------------------------- Flux


FLUX_STAGES = {"aio-pki-prerequisites": "prerequisites", "aio-pki-broker": "broker"}
BROKER_CRDS = {"brokerlisteners.mqttbroker.iotoperations.azure.com",
               "brokerauthentications.mqttbroker.iotoperations.azure.com"}


def upstream_crd_names() -> dict[str, str]:
    """kind -> CRD name, from the upstream CRD copies in tests/upstream/."""
    names = {}
    for path in (REPO / "tests" / "upstream").glob("*/*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                names[doc["spec"]["names"]["kind"]] = doc["metadata"]["name"]
    return names


def flux_kustomizations() -> dict[str, dict[str, Any]]:
    docs = list(yaml.safe_load_all((INTEGRATIONS / "flux" / "plant-berlin.yaml").read_text()))
    assert all(d["apiVersion"] == "kustomize.toolkit.fluxcd.io/v1" and d["kind"] == "Kustomization" for d in docs)
    by_name = {d["metadata"]["name"]: d for d in docs}
    assert len(by_name) == len(docs)
    return by_name


def flux_order(kustomizations: dict[str, dict[str, Any]]) -> list[str]:
    """The order Flux applies them in: each after every Kustomization it dependsOn (a cycle fails)."""
    done: list[str] = []
    while len(done) < len(kustomizations):
        ready = [n for n, k in kustomizations.items() if n not in done
                 and all(d["name"] in done for d in k["spec"].get("dependsOn", []))]
        assert ready, f"dependsOn cycle or unknown name among {sorted(set(kustomizations) - set(done))}"
        done += sorted(ready)
    return done


def test_flux_applies_the_stages_in_install_order_with_builtins_only(tmp_path: Path) -> None:
    source = load(INTEGRATIONS / "flux" / "gitrepository.yaml")
    assert source["apiVersion"] == "source.toolkit.fluxcd.io/v1" and source["kind"] == "GitRepository"
    assert {"!/clusters/", "!/flux/gates/"} <= set(source["spec"]["ignore"].split())
    kustomizations = flux_kustomizations()
    repo = gitops_repo(tmp_path)
    shutil.copytree(INTEGRATIONS / "flux" / "gates", repo / "flux" / "gates")  # as docs/gitops.md says
    built: dict[str, dict[Any, Any]] = {}
    for name, k in kustomizations.items():
        assert k["spec"]["sourceRef"] == {"kind": "GitRepository", "name": source["metadata"]["name"]}
        assert k["spec"]["prune"] is True
        assert k["spec"]["path"].startswith("./")
        path = repo / k["spec"]["path"]
        assert (path / "kustomization.yaml").is_file(), f"{name}: {k['spec']['path']} is not in the tree"
        result = run([tool("kustomize"), "build", str(path)])  # no plugin flags: what Flux can do
        assert result.returncode == 0, result.stderr
        built[name] = resources(result.stdout)
    order = flux_order(kustomizations)
    assert order == ["aio-pki-platform", "aio-pki-prerequisites", "aio-pki-broker-crds", "aio-pki-broker"]
    # the gates wait for the CRDs each following stage uses, the broker ones only after the prerequisites
    platform = {h["name"] for h in kustomizations["aio-pki-platform"]["spec"]["healthChecks"]}
    broker = {h["name"] for h in kustomizations["aio-pki-broker-crds"]["spec"]["healthChecks"]}
    assert broker == BROKER_CRDS and not platform & BROKER_CRDS
    for stage_name, stage in FLUX_STAGES.items():
        rendered_stage = {key: doc for key, doc in rendered(EXAMPLES / "fleet.yaml", "plant-berlin").items()
                          if (key[1] in {"BrokerListener", "BrokerAuthentication"}) == (stage == "broker")}
        assert built[stage_name] == rendered_stage
        assert kustomizations[stage_name]["spec"]["path"] == f"./clusters/plant-berlin/{stage}"
        for kind in {key[1] for key in rendered_stage} - {"Namespace", "ServiceAccount", "ConfigMap", "Secret"}:
            crds = platform if stage == "prerequisites" else broker
            assert upstream_crd_names().get(kind, f"{kind.lower()}s.mqttbroker.iotoperations.azure.com") in crds, kind
    assert platform <= set(upstream_crd_names().values()), "the gate waits for CRDs by their upstream names"
    assert kustomizations["aio-pki-prerequisites"]["spec"]["wait"] is True
    assert "wait" not in kustomizations["aio-pki-broker"]["spec"]
    # every object belongs to exactly one Flux Kustomization (ownership labels would flip otherwise)
    keys = [key for objects in built.values() for key in objects]
    assert len(keys) == len(set(keys))


def test_argocd_applicationset_fans_out_the_stages_in_waves(tmp_path: Path) -> None:
    appset = load(INTEGRATIONS / "argocd" / "applicationset.yaml")
    assert appset["apiVersion"] == "argoproj.io/v1alpha1" and appset["kind"] == "ApplicationSet"
    assert appset["spec"]["goTemplate"] is True
    (generator,) = appset["spec"]["generators"]
    assert generator["clusters"]["selector"]["matchLabels"] == {"argocd.argoproj.io/secret-type": "cluster"}
    template = appset["spec"]["template"]
    assert "{{.nameNormalized}}" in template["metadata"]["name"]
    sources = template["spec"]["sources"]
    assert [s["path"] for s in sources] == ["clusters/{{.name}}/prerequisites", "clusters/{{.name}}/broker"]
    waves = [int(s["kustomize"]["commonAnnotations"]["argocd.argoproj.io/sync-wave"]) for s in sources]
    assert waves == sorted(waves) and waves[0] < waves[1]
    assert template["spec"]["destination"]["server"] == "{{.server}}"
    policy = template["spec"]["syncPolicy"]
    assert "SkipDryRunOnMissingResource=true" in policy["syncOptions"]
    assert policy["retry"]["limit"] == -1
    repo = gitops_repo(tmp_path)
    for cluster in ("plant-berlin", "plant-munich", "plant-lyon"):  # the cluster generator's {{.name}}
        for source in sources:
            path = repo / source["path"].replace("{{.name}}", cluster)
            assert (path / "kustomization.yaml").is_file(), path
            result = run([tool("kustomize"), "build", str(path)])  # Argo CD's built-in kustomize
            assert result.returncode == 0, result.stderr


def test_every_integration_file_parses() -> None:
    files = [p for p in INTEGRATIONS.rglob("*") if p.suffix in {".yaml", ".yml"}]
    files += [REPO / ".pre-commit-hooks.yaml", *KUSTOMIZE_EXAMPLES.rglob("*.yaml"),
              *KUSTOMIZE_EXAMPLES.rglob("Kptfile")]
    assert len(files) > 10
    for path in files:
        assert list(yaml.safe_load_all(path.read_text())), path

