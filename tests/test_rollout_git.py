"""`aiogen rollout check --base REV SPEC`: the deployed spec comes from git, as a CI job on a pull request sees it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import EXAMPLES, aiogen

ROLLOVER = EXAMPLES / "rollover"
GIT = shutil.which("git")
pytestmark = pytest.mark.skipif(GIT is None, reason="git is not installed")


def git(repo: Path, *args: str) -> str:
    assert GIT is not None
    run = subprocess.run([GIT, "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false",
                          *args], cwd=repo, capture_output=True, text=True, check=True)
    return run.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository whose main branch has the fleet in prepare (fleet/spec.yaml)."""
    repo = tmp_path / "gitops"
    (repo / "fleet").mkdir(parents=True)
    shutil.copytree(ROLLOVER / "pki", repo / "fleet" / "pki")
    shutil.copy(ROLLOVER / "01-prepare.yaml", repo / "fleet" / "spec.yaml")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "root-2028: prepare")
    return repo


def test_a_safe_pull_request(repo: Path) -> None:
    shutil.copy(ROLLOVER / "02-distribute.yaml", repo / "fleet" / "spec.yaml")
    run = aiogen("rollout", "check", "--base", "main", repo / "fleet" / "spec.yaml", "--now", "2026-12-08")
    assert run.code == 0, run.err
    assert run.out.splitlines()[0] == f"rollout check: main:fleet/spec.yaml → {repo / 'fleet' / 'spec.yaml'} is safe " \
                                      "on 2026-12-08"


def test_a_pull_request_that_skips_distribute(repo: Path) -> None:
    shutil.copy(ROLLOVER / "03-switch.yaml", repo / "fleet" / "spec.yaml")
    run = aiogen("rollout", "check", "--base", "HEAD", repo / "fleet" / "spec.yaml", "--now", "2026-12-15")
    assert run.code == 3
    assert "would not trust AIO's default listener aio-broker:18883 and listener plant-mqtts:8883 after the switch: " \
           "root contoso-root-2028 is not in their bundle yet" in run.err
    assert run.out.startswith("rollout check: HEAD:fleet/spec.yaml → ")


def test_the_base_is_read_with_its_own_pem_files(repo: Path) -> None:
    """A root file changed in the pull request is judged as it was at the base revision."""
    shutil.copy(ROLLOVER / "02-distribute.yaml", repo / "fleet" / "spec.yaml")
    shutil.copy(EXAMPLES / "pki" / "fabrikam-root.pem", repo / "fleet" / "pki" / "contoso-root-2028.pem")
    run = aiogen("rollout", "check", "--base", "main", repo / "fleet" / "spec.yaml", "--now", "2026-12-08")
    assert run.code == 3
    assert "root contoso-root-2028 is a different certificate in the proposed spec" in run.err


def test_errors_name_the_revision(repo: Path, tmp_path: Path) -> None:
    spec = repo / "fleet" / "spec.yaml"
    unknown = aiogen("rollout", "check", "--base", "no-such-branch", spec)
    assert (unknown.code, unknown.err) == (1, f"--base no-such-branch: no such revision in {repo} (fetch it first "
                                              "(CI checkouts are often shallow: fetch-depth: 0))\n")
    shutil.copy(spec, repo / "fleet" / "new.yaml")
    absent = aiogen("rollout", "check", "--base", "main", repo / "fleet" / "new.yaml")
    assert (absent.code, absent.err) == (1, "--base main: fleet/new.yaml does not exist in that revision (a spec added "
                                            "by this change has nothing deployed to compare with)\n")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copy(spec, outside / "spec.yaml")
    shutil.copytree(repo / "fleet" / "pki", outside / "pki")
    not_repo = aiogen("rollout", "check", "--base", "main", outside / "spec.yaml")
    assert (not_repo.code, not_repo.err) == (1, f"--base main: {outside} is not inside a git repository\n")
    option = aiogen("rollout", "check", "--base=--output=x", spec)
    assert (option.code, option.err) == (1, "--base '--output=x' is not a git revision\n")
