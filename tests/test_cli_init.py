"""`aiogen init DIR`: a GitOps repository that validates, renders and passes its own CI checks; the
root's key outside it; nothing ever overwritten."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from aiogen.output.scaffold import WORKFLOW
from tests.helpers import REPO, aiogen

FILES = ["fleet/fleet.yaml", "fleet/pki/contoso-root-{year}.pem", "fleet/topology.schema.json", ".gitignore",
         ".pre-commit-config.yaml", ".github/workflows/aiogen.yml", "README.md"]


def snapshot(*roots: Path) -> dict[Path, tuple[bytes, int, int]]:
    return {p: (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_mode) for root in roots for p in root.rglob("*")
            if p.is_file()}


@pytest.fixture
def made(tmp_path: Path) -> tuple[Path, Path]:
    repo, keys = tmp_path / "contoso", tmp_path / "offline" / "contoso"
    run = aiogen("init", repo, "--key-dir", keys)
    assert run.code == 0, run.err
    return repo, keys


def test_init_writes_a_repository_whose_spec_validates(made: tuple[Path, Path]) -> None:
    repo, keys = made
    (key,) = keys.iterdir()
    year = key.stem.rsplit("-", 1)[1]
    assert sorted(str(p.relative_to(repo)) for p in repo.rglob("*") if p.is_file()) == sorted(
        f.format(year=year) for f in FILES)
    run = aiogen("validate", repo / "fleet" / "fleet.yaml")
    assert run.code == 0, run.err
    assert run.out.startswith(f"{repo / 'fleet' / 'fleet.yaml'}: valid: 1 cluster(s), ")
    spec = (repo / "fleet" / "fleet.yaml").read_text()
    assert spec.count("\n#") + spec.count("  # ") >= 10, "the spec explains itself"
    assert f"--root-key {key}" in spec


def test_the_root_key_is_outside_the_repository_and_matches_its_certificate(made: tuple[Path, Path]) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    repo, keys = made
    (key_file,) = keys.iterdir()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and stat.S_IMODE(keys.stat().st_mode) == 0o700
    assert not any(b"PRIVATE KEY" in p.read_bytes() for p in repo.rglob("*") if p.is_file())
    cert = x509.load_pem_x509_certificate((repo / "fleet" / "pki" / f"{key_file.stem}.pem").read_bytes())
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    assert cert.public_key() == key.public_key()
    assert cert.issuer == cert.subject
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True


def test_a_second_init_changes_nothing_and_says_so(made: tuple[Path, Path]) -> None:
    repo, keys = made
    before = snapshot(repo, keys)
    run = aiogen("init", repo, "--key-dir", keys)
    assert (run.code, run.err) == (0, "")
    assert run.out == f"{repo}: nothing to do, every file exists already (none was changed)\n"
    assert snapshot(repo, keys) == before


def test_existing_files_are_kept(tmp_path: Path) -> None:
    repo = tmp_path / "fleet-repo"
    repo.mkdir()
    (repo / "README.md").write_text("mine\n")
    run = aiogen("init", repo, "--key-dir", tmp_path / "keys")
    assert run.code == 0, run.err
    assert f"kept  {repo / 'README.md'} (exists; not changed)" in run.out.splitlines()
    assert (repo / "README.md").read_text() == "mine\n"
    assert (repo / "fleet" / "fleet.yaml").is_file()


def test_a_key_dir_inside_a_git_work_tree_is_refused(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / ".git").mkdir(parents=True)
    run = aiogen("init", tmp_path / "repo", "--key-dir", work / "keys")
    assert run.code == 1
    assert run.err == (f"--key-dir {work / 'keys'} is inside the git work tree {work} (keep the root's private key "
                       "outside any repository, e.g. ~/.aiogen/keys/NAME or removable media)\n")
    inside = aiogen("init", tmp_path / "repo", "--key-dir", tmp_path / "repo" / "keys")
    assert inside.code == 1 and "is inside" in inside.err
    assert not (tmp_path / "repo").exists() and not (work / "keys").exists()


def test_gitignore_refuses_keys(made: tuple[Path, Path]) -> None:
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    repo, keys = made
    subprocess.run([git, "init", "-q"], cwd=repo, check=True)
    names = ["ica.key", "fleet/ica.pfx", "ica.p12", "fleet/pki/ica-key.pem", "fleet/pki/ica.kv.pem"]
    ignored = subprocess.run([git, "check-ignore", *names], cwd=repo, capture_output=True, text=True)
    assert ignored.stdout.splitlines() == names
    kept = subprocess.run([git, "check-ignore", "fleet/pki/ica.pem", "fleet/fleet.yaml"], cwd=repo)
    assert kept.returncode == 1  # neither is ignored
    # An operator who mints a cluster's intermediate inside the repository by mistake commits no key:
    # every file `aiogen ca intermediate` writes with a private key in it (.key, .kv.pem, .pfx) is ignored.
    (root_key,) = keys.iterdir()
    minted = aiogen("ca", "intermediate", "--root-cert", repo / "fleet" / "pki" / f"{root_key.stem}.pem",
                    "--root-key", root_key, "--out", repo / "fleet" / "pki", "--name", "ica", "--common-name", "ica")
    assert minted.code == 0, minted.err
    assert minted.err == (f"aiogen: warning: {repo / 'fleet' / 'pki'} is inside the git work tree {repo.resolve()}: "
                          "never commit ica.key (and ica.kv.pem, ica.pfx); keep CA keys outside any repository\n")
    assert {p.name for p in (repo / "fleet" / "pki").glob("ica.*")} == {
        "ica.pem", "ica.chain.pem", "ica.key", "ica.kv.pem", "ica.pfx"}
    subprocess.run([git, "add", "-A"], cwd=repo, check=True)
    staged = subprocess.run([git, "diff", "--cached", "--name-only"], cwd=repo, capture_output=True, text=True,
                            check=True).stdout.split()
    assert {"fleet/pki/ica.pem", "fleet/pki/ica.chain.pem"} <= set(staged)
    assert [name for name in staged if name.endswith((".key", ".pfx")) or b"PRIVATE KEY" in (repo / name).read_bytes()] == []


def test_ci_and_pre_commit_use_aiogens_own_files(made: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    repo, _ = made
    assert (REPO / "integrations" / "github-actions" / "aiogen.yml").read_text() == WORKFLOW
    assert (repo / ".github" / "workflows" / "aiogen.yml").read_text() == WORKFLOW
    config = yaml.safe_load((repo / ".pre-commit-config.yaml").read_text())
    hook_ids = {h["id"] for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    (entry,) = config["repos"]
    assert {h["id"] for h in entry["hooks"]} <= hook_ids
    (hook,) = entry["hooks"]
    monkeypatch.chdir(repo)  # the hook's args, and the workflow's env, are relative to the repository
    assert aiogen("render", *hook["args"]).code == 0
    assert aiogen("render", *hook["args"], "--check").code == 0
    assert aiogen("validate", "fleet/fleet.yaml").code == 0


def test_a_bad_name_is_refused(tmp_path: Path) -> None:
    run = aiogen("init", tmp_path / "repo", "--name", "Contoso Fleet", "--key-dir", tmp_path / "keys")
    assert (run.code, run.err) == (1, "--name 'Contoso Fleet' is not a DNS label (use lower-case letters, digits "
                                      "and '-' (at most 42), e.g. contoso)\n")
    assert not (tmp_path / "repo").exists()
