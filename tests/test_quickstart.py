"""docs/quickstart.md, walked as written: its shell blocks run in order, in an empty directory, with
the installed `aiogen` command and real git; the commands in the spec `aiogen init` writes run too;
the JSON keys the page documents are the keys each command prints. The page cannot rot.

Step 1's install line and step 6's `az`/`kubectl` commands need a package index or a cluster: the
first is replaced by the `aiogen` under test, the second is checked for what it names (directories
and files that the steps before it made)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

QUICKSTART = REPO / "docs" / "quickstart.md"
INSTALLS = ("python3 -m venv", "pip install")  # step 1 installs aiogen: the test runs the one under test
PROBE = """\
COMP_WORDS=(aiogen rollout ""); COMP_CWORD=2; COMPREPLY=(); _aiogen; echo "completes: ${COMPREPLY[*]}"
COMP_WORDS=(aiogen explain spec.clusters.pki.r); COMP_CWORD=2; COMPREPLY=(); _aiogen; echo "completes: ${COMPREPLY[*]}"
"""


def steps() -> dict[str, list[str]]:
    """``## N. Title`` → the bash blocks of that step, in order (sub-sections belong to their step)."""
    found: dict[str, list[str]] = {}
    for section in re.split(r"\n(?=## )", QUICKSTART.read_text(encoding="utf-8")):
        heading = re.match(r"## (\d+)\. ", section)
        if heading:
            found[heading.group(1)] = re.findall(r"```bash\n(.*?)```", section, re.S)
    return found


def keys_table() -> dict[str, list[str]]:
    """The page's table of JSON keys: command → top-level keys (nested ones are in parentheses)."""
    section = QUICKSTART.read_text(encoding="utf-8").split("--format json`", 1)[1]
    table: dict[str, list[str]] = {}
    for command, keys in re.findall(r"^\| `([^`]+)` \| (.+) \|$", section, re.M):
        table[command] = re.findall(r"`([^`]+)`", re.sub(r"\([^)]*\)", "", keys))
    return table


@pytest.fixture(scope="module")
def walked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], str]:
    """Steps 1 to 5 as one bash script in an empty directory; returns (repository, env, output)."""
    installed = shutil.which("aiogen", path=str(Path(sys.executable).parent))
    if installed is None or shutil.which("git") is None or shutil.which("bash") is None:
        pytest.skip("needs the installed aiogen command (pip install -e .), git and bash")
    work, home = tmp_path_factory.mktemp("quickstart"), tmp_path_factory.mktemp("home")
    env = {"PATH": f"{Path(installed).parent}{os.pathsep}{os.environ.get('PATH', '')}", "HOME": str(home),
           "LANG": "C.UTF-8", "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "Operator",
           "GIT_AUTHOR_EMAIL": "operator@example.com", "GIT_COMMITTER_NAME": "Operator",
           "GIT_COMMITTER_EMAIL": "operator@example.com"}
    script = ["set -euo pipefail"]
    for number in ["1", "2", "3", "4", "5"]:
        for block in steps()[number][:1]:  # a step's first block is its walk; later ones are reference
            script += [line for line in block.replace("\\\n", " ").splitlines()
                       if not any(line.startswith(i) or f"&& {i}" in line for i in INSTALLS)]
        if number == "1":
            script.append(PROBE)
    run = subprocess.run(["bash", "-c", "\n".join(script)], cwd=work, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    return work / "contoso-fleet", env, run.stdout


def test_every_step_runs_as_written(walked: tuple[Path, dict[str, str], str]) -> None:
    repo, env, output = walked
    assert output.startswith("aiogen ")  # `aiogen --version`
    assert "completes: check advance plan\n" in output  # `source <(aiogen completion bash)` completes
    assert "completes: spec.clusters.pki.root\n" in output
    assert "rollout check: " in output and " is safe on " in output
    log = subprocess.run(["git", "log", "--format=%s"], cwd=repo, env=env, capture_output=True, text=True, check=True)
    assert log.stdout == "contoso fleet: first render\n"
    status = subprocess.run(["git", "status", "--porcelain"], cwd=repo, env=env, capture_output=True, text=True,
                            check=True)
    assert status.stdout == ""  # render --check changed nothing, and every rendered file was committed
    committed = subprocess.run(["git", "ls-files"], cwd=repo, env=env, capture_output=True, text=True,
                               check=True).stdout.split()
    assert not any(b"PRIVATE KEY" in (repo / name).read_bytes() for name in committed)
    (key,) = (Path(env["HOME"]) / ".aiogen" / "keys" / "contoso").glob("contoso-root-*.key")
    assert f"fleet/pki/{key.stem}.pem" in committed


def test_install_step_names_the_command_and_distribution() -> None:
    (install,) = steps()["1"]
    assert "pip install aiogen-pki" in install and "source <(aiogen completion bash)" in install
    assert "\naiogen precompile " in install  # after the install, on PATH


def test_the_specs_own_commands_run(walked: tuple[Path, dict[str, str], str]) -> None:
    """The commented `aiogen ca intermediate` command in the scaffolded spec mints the cluster's CA."""
    repo, env, _ = walked
    spec = (repo / "fleet" / "fleet.yaml").read_text(encoding="utf-8")
    lines = re.findall(r"^\s*#   ((?:aiogen|  ).*)$", spec, re.M)
    command = " ".join(line.rstrip("\\ ").strip() for line in lines if "kubectl" not in line
                       and not line.strip().startswith("--cert "))
    assert command.startswith("aiogen ca intermediate "), lines
    assert "~/.aiogen/keys/contoso/" in command and env["HOME"] not in spec  # no user's home in the repository
    run = subprocess.run(["bash", "-c", command], cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    keys = Path(env["HOME"]) / ".aiogen" / "keys" / "contoso"
    assert {"cluster-1-ica.chain.pem", "cluster-1-ica.key"} <= {p.name for p in keys.iterdir()}
    kubectl = re.search(r"kubectl create secret tls cluster-1-ica -n cert-manager\s*\\\n\s*#\s+--cert (\S+) --key (\S+)",
                        spec)
    assert kubectl and kubectl.group(1).startswith("~/") and kubectl.group(2).startswith("~/")
    assert (Path(env["HOME"]) / kubectl.group(1)[2:]).is_file() and (Path(env["HOME"]) / kubectl.group(2)[2:]).is_file()


def test_the_install_step_names_what_the_render_wrote(walked: tuple[Path, dict[str, str], str]) -> None:
    repo, _, _ = walked
    (install,) = steps()["6"]
    for directory in re.findall(r"kubectl apply -k (\S+)", install):
        assert (repo / directory / "kustomization.yaml").is_file(), directory
    (settings,) = re.findall(r"grep -v '\^#' (\S+)\)", install)
    arguments = [line for line in (repo / settings).read_text().splitlines() if not line.startswith("#")]
    assert shlex.split(" ".join(arguments))[0] == "--trust-settings"
    assert "--user-trust" in install.split("az iot ops create")[0]


def run_json(command: str, repo: Path, env: dict[str, str]) -> tuple[int, object]:
    """Run a documented `--format json` command; stdout must be exactly one JSON document."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, env=env, capture_output=True, text=True, check=True)
    run = subprocess.run(["bash", "-c", command], cwd=repo, env={**env, "BASE_SHA": head.stdout.strip()},
                         capture_output=True, text=True, timeout=300)
    return run.returncode, json.loads(run.stdout)  # json.loads refuses anything after the document


def test_json_reports_have_the_documented_keys(walked: tuple[Path, dict[str, str], str]) -> None:
    repo, env, _ = walked
    table = keys_table()
    documented = [line.strip() for line in steps()["5"][1].splitlines() if line.strip()]
    runs = {  # each row of the table, run against the quickstart's repository
        "validate": documented[0],
        "render -o DIR --check": documented[1],
        "rollout check": documented[2],
        "rollout plan": documented[3],
        "ca lint": documented[4],
        "render -o DIR": "aiogen render fleet/fleet.yaml -o clusters --format json",
        "simulate": "aiogen simulate fleet/fleet.yaml --format json",
    }
    assert set(runs) == set(table)
    for row, command in runs.items():
        assert command.endswith("--format json"), command
        code, report = run_json(command, repo, env)
        assert code == 0, command
        assert isinstance(report, dict) and list(report) == table[row], command


def test_json_problems_have_the_documented_fields(walked: tuple[Path, dict[str, str], str]) -> None:
    repo, env, _ = walked
    spec = repo / "fleet" / "fleet.yaml"
    broken = repo / "fleet" / "broken.yaml"
    text = spec.read_text(encoding="utf-8").replace("port: 8883", "port: 18883")
    broken.write_text(text, encoding="utf-8")
    line = text[:text.index("port: 18883")].count("\n") + 1
    try:
        code, report = run_json("aiogen validate fleet/broken.yaml fleet/fleet.yaml --format json", repo, env)
        render = subprocess.run(["aiogen", "render", "fleet/broken.yaml", "-o", "clusters", "--format", "json"],
                                cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    finally:
        broken.unlink()
    assert render.returncode == 1 and "fleet/broken.yaml:" in render.stderr
    stopped = json.loads(render.stdout)  # as documented: the located problems, as validate lists them
    assert (stopped["ok"], stopped["exitCode"]) == (False, 1)
    assert code == 1 and isinstance(report, dict)
    (problem,) = report["specs"][0]["problems"]
    doc = QUICKSTART.read_text(encoding="utf-8")
    fields = re.search(r"A problem \(in `problems` and `warnings`\) is (.*?), the same", doc, re.S)
    assert fields is not None
    assert list(problem) == re.findall(r"`([^`]+)`", fields.group(1))
    assert (stopped["problems"], stopped["warnings"]) == ([problem], report["specs"][0]["warnings"])
    assert (problem["file"], problem["line"], problem["path"]) == (
        "fleet/broken.yaml", line, "spec.clusters[0].broker.listeners[0].ports[0].port")
