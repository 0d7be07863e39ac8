"""`simulate --export` writes through `aiogen.output.fs`: a planted link never redirects a key."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.helpers import REPO, aiogen

SPEC = REPO / "tests/fixtures/simulate/rollover-client-root.yaml"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("export") / "material"
    assert aiogen("simulate", SPEC, "--export", out).code == 0
    folder = json.loads((out / "manifest.json").read_text())["checks"][0]["directory"]
    return out, folder


def test_a_link_at_a_key_path_is_refused_and_its_target_untouched(exported: tuple[Path, str], tmp_path: Path) -> None:
    out, folder = exported
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    key = out / folder / "server.key"
    key.unlink()
    key.symlink_to(victim)
    run = aiogen("simulate", SPEC, "--export", out)
    assert run.code == 1
    assert f"\nrefusing to write {key}: it is (or lies under) a symbolic link (export into a fresh directory)\n" in run.err
    assert victim.read_text() == "precious\n" and key.is_symlink()
    key.unlink()


def test_a_linked_directory_is_refused(exported: tuple[Path, str], tmp_path: Path) -> None:
    out, folder = exported
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cluster = out / folder.split("/")[0]
    cluster.rename(tmp_path / "moved")
    cluster.symlink_to(elsewhere)
    run = aiogen("simulate", SPEC, "--export", out)
    assert run.code == 1 and "it is (or lies under) a symbolic link" in run.err
    assert list(elsewhere.iterdir()) == []


def test_a_re_export_replaces_files_atomically_with_exact_modes(tmp_path: Path) -> None:
    out = tmp_path / "material"
    assert aiogen("simulate", SPEC, "--export", out).code == 0
    assert aiogen("simulate", SPEC, "--export", out).code == 0
    for path in out.rglob("*"):
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) == (0o600 if path.suffix == ".key" else 0o644), path
            assert not path.name.endswith(".aiogen-tmp")
