"""The non-editable wheel, installed in a fresh venv, renders the examples (templates travel with it, and the
spec validator built ahead of time: pydantic is not imported)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import venv
import zipfile
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
    # Dependencies come from the package index (CI reaches it); the wheel itself from the build above. pydantic
    # as in the build: the spec validator the build made is current for that version only (else, not used).
    from importlib.metadata import version

    pins = [f"{name}=={version(name)}" for name in ("pydantic", "pydantic-core")]
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel), *pins], capture_output=True,
                             text=True, timeout=600)
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
    # `aiogen precompile`, the install's last step: made in the installed package, current, and the console
    # script's modules then come from it (no .pyc of a listed module is read), with the same output
    console = str(env_dir / "bin" / "aiogen")
    assert subprocess.run([console, "precompile", "--check"], capture_output=True, env=env).returncode == 3
    made = subprocess.run([console, "precompile"], capture_output=True, text=True, env=env, timeout=120)
    assert made.returncode == 0 and "modules compiled into" in made.stdout, made.stderr
    assert subprocess.run([console, "precompile", "--check"], capture_output=True, env=env).returncode == 0
    spec = EXAMPLE_SPECS[0]
    plain = subprocess.run([console, "render", spec.name, "-o", "-", "--now", "2026-11-27"], cwd=work,
                           capture_output=True, text=True, env=env, timeout=120)
    verbose = subprocess.run([str(python), "-v", console, "render", spec.name, "-o", "-", "--now", "2026-11-27"],
                             cwd=work, capture_output=True, text=True, env=env, timeout=120)
    read = [line for line in verbose.stderr.splitlines() if line.startswith("# code object from")]
    assert verbose.returncode == 0 and verbose.stdout == plain.stdout, verbose.stderr[-2000:]
    assert not any("/yaml/" in line or "/aiogen/render/" in line or "/jinja2/" in line for line in read), read
    assert 0 < len(read) < 60  # the interpreter's start, the console script's wrapper and aiogen's first step
    # the spec validator the wheel build made (aiogen.model.spec_codegen) is in the wheel, current, and used
    assert "aiogen/model/spec_compiled.marshal" in zipfile.ZipFile(wheel).namelist()
    probe = ("import sys; from aiogen.cli.app import main; code = main(sys.argv[1:]); "
             "print(sorted(m for m in sys.modules if m.startswith('pydantic')), file=sys.stderr); sys.exit(code)")
    used = subprocess.run([str(python), "-c", probe, "validate", "fleet.yaml"], cwd=work, capture_output=True,
                          text=True, env=env, timeout=120)
    assert used.returncode == 0 and used.stderr.splitlines()[-1] == "['pydantic_core._pydantic_core']", used.stderr
    # the regular expressions the wheel build compiled (aiogen.startup.regexes) are in it, current, and seeded
    assert "aiogen/startup/regexes.marshal" in zipfile.ZipFile(wheel).namelist()
    from aiogen.startup import regexes

    seedable = [f for _, f in regexes.listed() if not f & (re.DEBUG | re.LOCALE)]
    seeded = subprocess.run([str(python), "-c", "from aiogen.startup import regexes; print(regexes.seed())"],
                            cwd=work, capture_output=True, text=True, env=env, timeout=120)
    assert seeded.stdout.strip() == str(len(seedable)) and len(seedable) > 40, seeded.stderr
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


def tracked_copy(destination: Path) -> Path:
    """The files a fresh clone has (git ls-files), symlinks kept as symlinks, nothing else."""
    git = shutil.which("git")
    if git is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    listing = subprocess.run([git, "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True)
    for name in filter(None, listing.stdout.split("\0")):
        source, target = REPO / name, destination / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the work tree, not yet committed
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)
    return destination


@pytest.mark.slow
def test_the_sdist_builds_a_wheel_with_templates_schemas_and_licence(tmp_path: Path) -> None:
    import tarfile
    import zipfile

    clone = tracked_copy(tmp_path / "clone")
    sdist = subprocess.run([sys.executable, "-c", "import sys; from setuptools import build_meta as b; "
                            "print(b.build_sdist(sys.argv[1]))", str(tmp_path / "sdist")],
                           cwd=clone, capture_output=True, text=True, timeout=300)
    assert sdist.returncode == 0, sdist.stderr
    archive = tmp_path / "sdist" / sdist.stdout.strip().splitlines()[-1]
    assert archive.name.startswith("aiogen_pki-") and archive.name.endswith(".tar.gz")
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    (source,) = (tmp_path / "unpacked").iterdir()
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w",
                            str(tmp_path / "dist"), str(source)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    (wheel,) = (tmp_path / "dist").glob("aiogen_pki-*-py3-none-any.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = {f"aiogen/templates/{p.name}" for p in (REPO / "templates").glob("*.j2")}
    schemas = {f"aiogen/schemas/{p.name}" for p in (REPO / "schemas").glob("*.json")}
    assert templates and templates <= names
    assert schemas == {"aiogen/schemas/topology.schema.json", "aiogen/schemas/renderconfig.schema.json"} <= names
    dist_info = wheel.name.split("-py3")[0]
    assert {f"{dist_info}.dist-info/licenses/LICENSE", f"{dist_info}.dist-info/entry_points.txt"} <= names
    assert {"aiogen/cli/app.py", "aiogen/render/templates.py", "aiogen/pipeline.py"} <= names
    assert {"aiogen/startup/regexes.json", "aiogen/startup/regexes.marshal"} <= names  # the list, and compiled
    assert not any(name.startswith(("tests/", "examples/", "bench/")) for name in names)
    metadata = zipfile.ZipFile(wheel).read(f"{dist_info}.dist-info/METADATA").decode()
    assert "\nName: aiogen-pki\n" in metadata and "\nLicense-Expression: Apache-2.0\n" in metadata
    entry_points = zipfile.ZipFile(wheel).read(f"{dist_info}.dist-info/entry_points.txt").decode()
    assert "aiogen = aiogen.cli.fast:console" in entry_points
