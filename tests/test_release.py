"""Release hygiene: the distribution name, one version source, pins that agree, and a repo that stands alone."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib

import pytest

import aiogen
from tests.helpers import REPO

VERSION = aiogen.__version__


def test_distribution_is_aiogen_pki_with_one_version_source() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["name"] == "aiogen-pki"  # "aiogen" on PyPI is an unrelated package
    assert "version" not in project["project"] and project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "aiogen.__version__"}
    assert project["project"]["scripts"] == {"aiogen": "aiogen.cli.fast:console"}
    assert project["project"]["license"] == "Apache-2.0"
    assert (REPO / "LICENSE").read_text(encoding="utf-8").lstrip().startswith("Apache License")


def test_changelog_has_the_current_version() -> None:
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"\n## [{VERSION}]" in changelog


@pytest.mark.parametrize(
    ("path", "pattern"),
    [
        ("integrations/argocd/Dockerfile", r"ARG AIOGEN_VERSION=(\S+)"),
        ("integrations/argocd/Dockerfile", r"aiogen-cmp:(\S+)"),
        ("integrations/argocd/repo-server-sidecar.yaml", r"aiogen-cmp:(\S+)"),
        ("integrations/argocd/kustomization.yaml", r"\?ref=v(\S+)"),
        ("integrations/github-actions/aiogen.yml", r'AIOGEN_VERSION: "([^"]+)"'),
        (".pre-commit-hooks.yaml", r"rev: v(\S+)"),
        ("docs/gitops.md", r"rev: v(\S+)"),
        ("docs/rollover.md", r"aiogen-pki==([0-9][^\"\s]*)"),
    ],
)
def test_pins_name_the_current_version(path: str, pattern: str) -> None:
    found = re.findall(pattern, (REPO / path).read_text(encoding="utf-8"))
    assert found, f"{path}: no pin matching {pattern!r}"
    assert set(found) == {VERSION}, path


def tracked_files() -> list[str]:
    git = shutil.which("git")
    if git is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    listing = subprocess.run([git, "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True)
    return [name for name in listing.stdout.split("\0") if name]


def installs_the_wrong_distribution(text: str) -> bool:
    """A `pip install` whose arguments (up to a comment) name `aiogen` rather than `aiogen-pki`."""
    for args in re.findall(r"pip install([^#\n]*)", text):
        for token in args.split():
            if re.fullmatch(r"[\"']?aiogen(\[[^]]*\])?([=<>~!]=?[^\"']*)?[\"']?", token):
                return True
    return False


def test_installs_name_the_aiogen_pki_distribution() -> None:
    assert installs_the_wrong_distribution('pip install "aiogen==0.1.0"')
    assert not installs_the_wrong_distribution('pip install "aiogen-pki==0.1.0"  # the aiogen you render with')
    offenders = [name for name in tracked_files()
                 if not name.startswith("tests/upstream/") and name != "tests/test_release.py" and (REPO / name).is_file()
                 and installs_the_wrong_distribution((REPO / name).read_text(encoding="utf-8", errors="replace"))]
    assert offenders == []


def test_nothing_reads_outside_the_repository() -> None:
    """The repository stands alone: no path to a sibling docs folder, no variable pointing at one."""
    needles = ("../" + "shared", "AIOGEN_" + "SHARED")
    offenders = [name for name in tracked_files() if (REPO / name).is_file()
                 and any(n in (REPO / name).read_text(encoding="utf-8", errors="replace") for n in needles)]
    assert offenders == []
