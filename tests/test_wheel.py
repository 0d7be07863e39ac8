"""The non-editable wheel, installed in a fresh venv, renders the examples (templates travel with it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.helpers import EXAMPLE_SPECS, REPO


@pytest.mark.slow
def test_wheel_renders_examples_like_the_source_tree(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(REPO)],
        capture_output=True, text=True, timeout=300,
    )
    if build.returncode != 0 and "No module named" in build.stderr:
        pytest.skip(f"cannot build a wheel here: {build.stderr.strip().splitlines()[-1]}")
    assert build.returncode == 0, build.stderr
    # The distribution is aiogen-pki ("aiogen" on PyPI is another project); import name and command stay aiogen.
    (wheel,) = dist.glob("aiogen_pki-*.whl")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    python = env_dir / "bin" / "python"
    # Dependencies come from the package index (CI reaches it); the wheel itself from the build above.
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], capture_output=True, text=True,
                             timeout=600)
    if install.returncode != 0 and ("No matching distribution" in install.stderr or "connection" in install.stderr.lower()):
        pytest.skip(f"package index unreachable: {install.stderr.strip().splitlines()[-1]}")
    assert install.returncode == 0, install.stderr
    work = tmp_path / "work"
    shutil.copytree(REPO / "examples", work)
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH"}}
    for spec in EXAMPLE_SPECS:
        installed = subprocess.run([str(env_dir / "bin" / "aiogen"), "render", spec.name, "-o", "-", "--now", "2026-11-27"],
                                   cwd=work, capture_output=True, text=True, env=env, timeout=120)
        assert installed.returncode == 0, installed.stderr
        source = subprocess.run([sys.executable, "-m", "aiogen.cli", "render", str(spec), "-o", "-", "--now",
                                 "2026-11-27"], capture_output=True, text=True, timeout=120)
        assert installed.stdout == source.stdout
    schema = subprocess.run([str(env_dir / "bin" / "aiogen"), "schema"], cwd=work, capture_output=True, text=True)
    assert schema.stdout == (REPO / "schemas" / "topology.schema.json").read_text()
    loc = subprocess.run([str(python), "-c", "import aiogen, pathlib; print(pathlib.Path(aiogen.__file__).parent)"],
                         capture_output=True, text=True)
    assert str(REPO) not in loc.stdout, "the wheel must not point back into the source tree"
    meta = subprocess.run(
        [str(python), "-c", "import aiogen, importlib.metadata as m; d = m.distribution('aiogen-pki'); "
         "print(d.version, aiogen.__version__, d.metadata['License-Expression'], "
         "any(str(f).endswith('LICENSE') for f in d.files or []))"],
        capture_output=True, text=True)
    version, module_version, licence, has_licence_file = meta.stdout.split()
    assert version == module_version  # one version source: aiogen.__version__
    assert (licence, has_licence_file) == ("Apache-2.0", "True")
    assert subprocess.run([str(env_dir / "bin" / "aiogen"), "--version"], capture_output=True,
                          text=True).stdout.strip() == f"aiogen {version}"
