"""What did a spec file look like at a git revision? (`aiogen rollout check --base REV NEW_SPEC`)

A CI job checking a pull request compares the spec on the target branch with the one proposed.
The spec at REV is read together with the PEM files beside it *at that revision*: the directory
holding the spec is exported from git into a temporary directory (the whole repository with
`--allow-outside-files`), so a root file that changed in the pull request is judged as it was.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from aiogen.model.problems import AiogenError

_MAX_ARCHIVE_BYTES = 256 * 1024 * 1024


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    git = shutil.which("git")
    if git is None:
        raise AiogenError.single("--base needs git, which is not on PATH")
    try:
        return subprocess.run([git, *args], cwd=cwd, capture_output=True, check=False, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise AiogenError.single(f"cannot run git: {error}") from None


@contextlib.contextmanager
def spec_at_revision(rev: str, path: Path, *, whole_repository: bool = False) -> Iterator[tuple[Path, str]]:
    """Yield (path of the spec as it was at ``rev``, display name ``REV:relative/path``)."""
    if not rev or rev.startswith("-"):
        raise AiogenError.single(f"--base {rev!r} is not a git revision")
    spec_dir = path.absolute().parent
    if not spec_dir.is_dir():
        raise AiogenError.single(f"{path}: its directory {spec_dir} does not exist")
    top_run = _git(["rev-parse", "--show-toplevel"], spec_dir)
    if top_run.returncode != 0:
        raise AiogenError.single(f"--base {rev}: {spec_dir} is not inside a git repository")
    top = Path(top_run.stdout.decode("utf-8", "replace").strip())
    commit_run = _git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], top)
    if commit_run.returncode != 0:
        raise AiogenError.single(f"--base {rev}: no such revision in {top}",
                                 hint="fetch it first (CI checkouts are often shallow: fetch-depth: 0)")
    commit = commit_run.stdout.decode().strip()
    try:
        relative = PurePosixPath((spec_dir.resolve() / path.name).relative_to(top.resolve()).as_posix())
    except ValueError:
        raise AiogenError.single(f"--base {rev}: {path} is not inside the repository {top}") from None
    display = f"{rev}:{relative}"
    if _git(["cat-file", "-e", f"{commit}:{relative}"], top).returncode != 0:
        raise AiogenError.single(f"--base {rev}: {relative} does not exist in that revision",
                                 hint="a spec added by this change has nothing deployed to compare with")
    subtree = "" if whole_repository else str(relative.parent)
    archive = _git(["archive", "--format=tar", commit, *([] if subtree in ("", ".") else ["--", subtree])], top)
    if archive.returncode != 0:
        message = archive.stderr.decode("utf-8", "replace").strip()
        raise AiogenError.single(f"--base {rev}: git archive failed: {message}")
    if len(archive.stdout) > _MAX_ARCHIVE_BYTES:
        raise AiogenError.single(f"--base {rev}: {subtree or 'the repository'} is larger than "
                                 f"{_MAX_ARCHIVE_BYTES // (1024 * 1024)} MiB at that revision")
    with tempfile.TemporaryDirectory(prefix="aiogen-base-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(tmp, filter="data")
        yield Path(tmp) / relative, display
