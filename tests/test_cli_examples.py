"""Every example under every subcommand's --help runs as written, in the order --help lists them:
from a copy of this repository's examples/, and (``fleet/fleet.yaml``) from a GitOps repository
with a rotation under way and an ``origin/main``, as a user who copies them would have.

Nothing here writes outside a temporary directory: HOME is one, ``/media/offline`` is one, and the
zsh example's ``${fpath[1]}`` is one (in bash as in zsh). The one exception is ``aiogen precompile``,
which rewrites the installed aiogen's own precompiled modules, as its install step does."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aiogen.cli.examples import EXAMPLES
from tests.helpers import EXAMPLES as EXAMPLES_DIR
from tests.helpers import REPO


def example_commands() -> list[str]:
    """Each example command line, continuation lines joined, its trailing description dropped."""
    commands: list[str] = []
    for text in EXAMPLES.values():
        for line in re.sub(r"\\\n\s*", " ", text).splitlines():
            command = re.split(r"\s{3,}", line.strip())[0]
            if command.startswith("aiogen ") and command not in commands:
                commands.append(command)
    return commands


def git(*args: str, cwd: Path, env: dict[str, str]) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    installed = shutil.which("aiogen", path=str(Path(sys.executable).parent))
    if installed is None or shutil.which("git") is None or shutil.which("bash") is None:
        pytest.skip("needs the installed aiogen command (pip install -e .), git and bash")
    root = tmp_path_factory.mktemp("examples")
    work, home, media = root / "work", root / "home", root / "media"
    shutil.copytree(EXAMPLES_DIR, work / "examples", ignore=shutil.ignore_patterns("rendered"))
    # fleet/: a GitOps repository whose rotation root-2028 began its prepare phase a month ago
    (work / "fleet").mkdir()
    shutil.copytree(EXAMPLES_DIR / "rollover" / "pki", work / "fleet" / "pki")
    month_ago = (datetime.now(UTC) - timedelta(days=30)).date().isoformat()
    spec = (EXAMPLES_DIR / "rollover" / "01-prepare.yaml").read_text(encoding="utf-8")
    (work / "fleet" / "fleet.yaml").write_text(spec.replace('prepare: "2026-12-01"', f'prepare: "{month_ago}"'),
                                               encoding="utf-8")
    for directory in (home / ".local/share/bash-completion/completions", home / ".config/fish/completions",
                      home / ".zfunc"):
        directory.mkdir(parents=True)
    env = {"PATH": f"{Path(installed).parent}{os.pathsep}{os.environ.get('PATH', '')}", "HOME": str(home),
           "LANG": "C.UTF-8", "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "Operator",
           "GIT_AUTHOR_EMAIL": "operator@example.com", "GIT_COMMITTER_NAME": "Operator",
           "GIT_COMMITTER_EMAIL": "operator@example.com", "AIOGEN_TEST_MEDIA": str(media)}
    git("init", "-q", cwd=work, env=env)
    git("add", "-A", cwd=work, env=env)
    git("commit", "-qm", "fleet", cwd=work, env=env)
    git("update-ref", "refs/remotes/origin/main", "HEAD", cwd=work, env=env)
    return work, env


def test_the_examples_cover_every_command() -> None:
    from aiogen.cli.app import command_names

    assert {command.split()[1] for command in example_commands()} == set(command_names())


def test_every_example_runs_as_written(sandbox: tuple[Path, dict[str, str]]) -> None:
    work, env = sandbox
    failed = []
    for command in example_commands():
        script = command.replace("/media/offline", "$AIOGEN_TEST_MEDIA/offline")
        # bash arrays count from 0, zsh's from 1: element 1 is the same directory in both
        run = subprocess.run(["bash", "-c", f'fpath=(unused "$HOME/.zfunc")\nset -o pipefail\n{script}'], cwd=work,
                             env=env, capture_output=True, text=True, timeout=300)
        if run.returncode != 0:
            failed.append(f"{command}: exit {run.returncode}: {run.stderr.strip()[-300:]}")
    assert failed == []
    home = Path(env["HOME"])
    assert (home / ".zfunc" / "_aiogen").read_text().startswith("# zsh completion for aiogen")
    assert (home / "offline" / "contoso-root-2025.key").is_file() and (home / "offline" / "berlin-ica-2025.key").is_file()
    advanced = (work / "fleet" / "fleet.yaml").read_text()  # `rollout advance` edited it in place
    assert "phase: distribute" in advanced and f'distribute: "{datetime.now(UTC).date().isoformat()}"' in advanced
    assert (work / "rendered").is_dir() and (work / "fleet-repo" / "fleet" / "fleet.yaml").is_file()
    assert not (REPO / "fleet-repo").exists()
    keys = [p for p in work.rglob("*") if p.is_file() and b"PRIVATE KEY" in p.read_bytes()]
    assert keys == []  # no example leaves a private key in the working directory
