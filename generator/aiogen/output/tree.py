"""Writing a rendered tree into an output directory, safely.

The rules (docs/hardening.md): a path comes from `aiogen.output.layout.tree` and is checked again
here; nothing is written, read or deleted through a symbolic link or outside ``out_dir`` (every
file system step goes through `aiogen.output.fs`); a file aiogen did not write is never replaced or
removed. `.aiogen-owned` records the digest of every file aiogen wrote: a file it no longer renders
is aiogen's (removed, shown as stale) only while its bytes still match; a path aiogen renders and
has written before is re-rendered even when edited by hand, as `render` always did. Each file is
replaced atomically (a temporary sibling, then rename), so a file on disk is always either its old
or its new version. The ownership list is widened (old and new digests) before the first rename
and narrowed after the last removal, so an interruption anywhere leaves a tree the next render can
finish; the next render also removes the temporaries a killed one left. Renders into one directory
are serialised by a lock on the directory itself (no lock file left behind).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from aiogen.model.problems import AiogenError
from aiogen.output import fs
from aiogen.output.keyscan import assert_no_private_key
from aiogen.output.owned import (
    OWNED_MARKER,
    Owned,
    digest,
    merge,
    owned_list_text,
    owns,
    parse_owned,
    path_problem,
    read_owned_text,
)
from aiogen.output.provenance import MAX_RENDERED_FILE, is_layout_path

LOCK_TIMEOUT = 60.0  # seconds to wait for another render into the same directory
_FILE_MODE = 0o644


@dataclass(frozen=True)
class WriteResult:
    written: tuple[str, ...]  # created or changed
    unchanged: tuple[str, ...]
    removed: tuple[str, ...]  # stale files aiogen had written before
    leftovers: tuple[str, ...] = ()  # temporaries of a killed render, removed

    def by_cluster(self, clusters: Sequence[str]) -> dict[str, dict[str, list[str]]]:
        """written/unchanged/removed paths of each cluster (the first directory of each path)."""
        per: dict[str, dict[str, list[str]]] = {name: {"written": [], "unchanged": [], "removed": []}
                                                for name in clusters}
        for key, paths in (("written", self.written), ("unchanged", self.unchanged), ("removed", self.removed)):
            for path in paths:
                if "/" in path:
                    per.setdefault(path.split("/", 1)[0], {"written": [], "unchanged": [], "removed": []})[
                        key].append(path)
        return per


@dataclass(frozen=True)
class WritePlan:
    """What writing a tree will do, decided before anything is touched."""

    write: tuple[str, ...]
    unchanged: tuple[str, ...]
    remove: tuple[str, ...]  # candidates: removed only if their bytes are still what aiogen wrote
    owned_before: Owned
    owned_after: Owned
    owned_text: str | None  # the list as it is on disk


def _check_paths(files: Mapping[str, str], out_dir: Path, *, keys_checked: bool) -> None:
    for path, text in files.items():
        problem = path_problem(path)
        if problem:
            raise AiogenError.single(f"refusing to write {path!r} into {out_dir}: {problem}")
        if not keys_checked:
            assert_no_private_key(path, text)


def plan_write(files: Mapping[str, str], out_dir: Path, root: int, scope: Iterable[str] | None = None) -> WritePlan:
    """What writing ``files`` into ``out_dir`` (open as ``root``) would do. Raises `AiogenError` on any conflict.

    ``scope`` limits stale-file removal to these top-level directories (the clusters rendered with
    --cluster); None means the whole spec was rendered, so the files of a cluster removed from the
    spec are stale too. The paths were checked by `write_tree` (`_check_paths`) before anything was created.
    """
    owned_text = read_owned_text(root, out_dir)
    owned = parse_owned(owned_text) if owned_text is not None else {}
    conflicts: list[str] = []
    write: list[str] = []
    unchanged: list[str] = []
    directories = fs.Directories(root)
    top: str | None = None
    try:
        for path, text in files.items():
            if path.split("/", 1)[0] != top:  # paths come cluster by cluster: hold one cluster's descriptors
                directories.close()  # (a tree of 1,000 clusters would need ~3,000 at once: EMFILE at ulimit 1024)
                top = path.split("/", 1)[0]
            _classify(path, text.encode("utf-8"), out_dir, directories, owned, (unchanged, write, conflicts))
    finally:
        directories.close()
    if conflicts:
        unique = sorted(set(conflicts))
        listing = ", ".join(unique[:10]) + (f" and {len(unique) - 10} more" if len(unique) > 10 else "")
        raise AiogenError.single(
            f"{out_dir} holds files aiogen did not write where it would write: {listing}",
            hint="aiogen never overwrites or follows them; move them away or render into another directory",
        )
    tops = set(scope) if scope is not None else None  # None: the whole spec, so every owned file is in scope
    remove = sorted(p for p in owned if p not in files and (tops is None or p.split("/", 1)[0] in tops)
                    and is_layout_path(p))  # a path aiogen never renders is never its own: not even read
    rendered = {p: frozenset({digest(t.encode("utf-8"))}) for p, t in files.items()}
    kept = {p: d for p, d in owned.items() if p not in files and tops is not None and p.split("/", 1)[0] not in tops}
    return WritePlan(tuple(write), tuple(unchanged), tuple(remove), owned, {**kept, **rendered}, owned_text)


def _classify(path: str, data: bytes, out_dir: Path, directories: fs.Directories, owned: Owned,
              into: tuple[list[str], list[str], list[str]]) -> None:
    """Append ``path`` to (unchanged, write, conflicts)."""
    unchanged, write, conflicts = into
    blocked = directories.blocked(path.split("/")[:-1])
    if blocked is not None:
        conflicts.append(f"{blocked} (a symbolic link or not a directory)")
        return
    try:
        current = fs.read_file(directories.root, path, at_most=len(data), directories=directories)
    except fs.NotRegularFile:
        conflicts.append(f"{path} (not a regular file)")
        return
    except OSError as error:
        raise AiogenError.single(f"cannot read {out_dir / path}: {error.strerror}") from None
    if current == data:
        unchanged.append(path)  # byte-identical: aiogen's (adopted if it was not listed)
    elif current is None or path in owned:  # aiogen renders this path and wrote it before
        write.append(path)
    else:
        conflicts.append(path)


def _create_out_dir(out_dir: Path) -> list[Path]:
    """Create ``out_dir`` and missing parents 0755 whatever the umask; returns those created."""
    missing: list[Path] = []
    current = out_dir
    while not current.exists() and not current.is_symlink() and current != current.parent:
        missing.append(current)
        current = current.parent
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise AiogenError.single(f"{out_dir} exists and is not a directory") from None
    except OSError as error:
        raise AiogenError.single(f"cannot create {out_dir}: {error.strerror}") from None
    if not out_dir.is_dir():
        raise AiogenError.single(f"{out_dir} exists and is not a directory")
    for created in missing:
        with contextlib.suppress(OSError):
            created.chmod(fs.DIRECTORY_MODE)
    return missing


def write_tree(files: Mapping[str, str], out_dir: Path, scope: Iterable[str] | None = None, *,
               keys_checked: bool = False) -> WriteResult:
    """Write ``files`` (relative path → text) into ``out_dir``; see the rules above.

    ``keys_checked``: every text already passed `assert_no_private_key` under the same path
    (`aiogen.output.layout.tree` does), so it is not scanned a second time."""
    if not fs.HAVE_DIR_FD:
        raise AiogenError.single(
            "writing a tree needs directory descriptors (openat), which this system lacks",
            hint="render with -o - and redirect it, or run aiogen on Linux, macOS or WSL",
        )
    _check_paths(files, out_dir, keys_checked=keys_checked)
    made = _create_out_dir(out_dir)
    try:
        with fs.signals_unwind(), _locked_directory(out_dir) as root:
            return _write_locked(files, out_dir, root, scope)
    except BaseException:
        for directory in made:  # only directories this render created, only if still empty
            with contextlib.suppress(OSError):
                directory.rmdir()
        raise


def _write_locked(files: Mapping[str, str], out_dir: Path, root: int, scope: Iterable[str] | None) -> WriteResult:
    leftovers = fs.remove_temporaries(root, recursive=True)  # a killed render's; we hold the lock
    plan = plan_write(files, out_dir, root, scope)
    created = fs.Created()
    staged: dict[str, str] = {}
    try:
        staged = _stage(files, plan.write, root, out_dir, created)
        widened = owned_list_text(merge(plan.owned_before, plan.owned_after))
        _write_owned(root, out_dir, widened, plan.owned_text)  # widen first
        folders = _Folders(root)
        try:
            for done, path in enumerate(plan.write):
                try:
                    _replace(folders, path, staged[path])
                    del staged[path]
                except OSError as error:
                    raise AiogenError.single(
                        f"cannot write {out_dir / path}: {error.strerror}; {done} of {len(plan.write)} changed "
                        "files were replaced, the others keep their previous content",
                        hint="fix the cause and render again: every file is either its old or its new version",
                    ) from None
        finally:
            folders.close()
    except BaseException:
        _discard(root, staged)
        fs.remove_created(root, created)
        raise
    removed = _remove_stale(root, plan.remove, plan.owned_before)
    final = {p: d for p, d in plan.owned_after.items() if p not in plan.remove}
    _write_owned(root, out_dir, owned_list_text(final), widened)
    return WriteResult(plan.write, plan.unchanged, tuple(removed), tuple(leftovers))


class _Folders:
    """Descriptors of the directories files go into, each opened once (`fs.open_directory`, never
    through a link) while the files of one top-level directory are written, then closed: a file
    costs no ``openat`` of its own, and the descriptors held stay one cluster's worth."""

    def __init__(self, root: int, *, created: fs.Created | None = None) -> None:
        self.root, self.created = root, created
        self._open: dict[tuple[str, ...], int] = {}

    def get(self, folders: Sequence[str]) -> int:
        key = tuple(folders)
        found = self._open.get(key)
        if found is None:
            if self._open and next(iter(self._open))[:1] != key[:1]:
                self.close()  # paths come cluster by cluster: the previous one is done
            found = fs.open_directory(self.root, folders, create=self.created is not None, created=self.created)
            self._open[key] = found
        return found

    def close(self) -> None:
        for fd in self._open.values():
            os.close(fd)
        self._open.clear()


def _replace(folders: _Folders, path: str, temporary: str) -> None:
    *parts, name = path.split("/")
    directory = folders.get(parts)
    os.replace(temporary, name, src_dir_fd=directory, dst_dir_fd=directory)


def _discard(root: int, staged: Mapping[str, str]) -> None:
    """Remove temporary files that were not renamed into place."""
    for path, temporary in staged.items():
        try:
            directory = fs.open_directory(root, path.split("/")[:-1])
        except OSError:
            continue
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=directory)
        os.close(directory)


@contextlib.contextmanager
def _locked_directory(out_dir: Path) -> Iterator[int]:
    """A descriptor of ``out_dir``, locked against other aiogen processes writing into it."""
    try:
        fd = fs.open_root(out_dir)
    except OSError as error:
        raise AiogenError.single(f"cannot open {out_dir}: {error.strerror}") from None
    try:
        _lock(fd, out_dir)
        yield fd
    finally:
        os.close(fd)  # closing releases the lock


def _lock(fd: int, out_dir: Path) -> None:
    try:
        import fcntl
    except ImportError:  # no flock (Windows): renders into one directory must not overlap
        return
    deadline = time.monotonic() + LOCK_TIMEOUT
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise AiogenError.single(
                    f"another aiogen process has been writing into {out_dir} for {LOCK_TIMEOUT:.0f}s",
                    hint="wait for it to finish, or render into another directory",
                ) from None
            time.sleep(0.05)
        except OSError:  # the file system cannot lock: go on unlocked
            return


def _stage(files: Mapping[str, str], paths: Sequence[str], root: int, out_dir: Path,
           created: fs.Created) -> dict[str, str]:
    """Write each file to a temporary sibling (created, never followed): path → temporary name."""
    staged: dict[str, str] = {}
    path = ""
    folders = _Folders(root, created=created)
    try:
        for path in paths:
            *parts, name = path.split("/")
            temporary = fs.temporary_name(name)
            directory = folders.get(parts)
            staged[path] = temporary  # before the file exists: an interruption still removes it
            fs.write_new(directory, temporary, files[path].encode("utf-8"), _FILE_MODE)
    except BaseException as error:
        folders.close()
        _discard(root, staged)
        if isinstance(error, OSError):
            raise AiogenError.single(
                f"cannot write {out_dir / path}: {error.strerror or error}; no file in {out_dir} was changed",
                hint="a directory of the tree may be a symbolic link, a file, or read-only",
            ) from None
        raise
    folders.close()
    return staged


def _remove_stale(root: int, paths: Sequence[str], owned: Owned) -> list[str]:
    """Remove files aiogen wrote and no longer renders, if their bytes are still what it wrote and
    they are plain files inside the tree. Directories left empty are removed too."""
    removed: list[str] = []
    for path in paths:
        *folders, name = path.split("/")
        try:
            current = fs.read_file(root, path, at_most=MAX_RENDERED_FILE)
            if current is None or len(current) > MAX_RENDERED_FILE or not owns(owned, path, current):
                continue  # gone, or no longer (never) aiogen's: the list forgets it, the file stays
            directory = fs.open_directory(root, folders)
        except (OSError, fs.NotRegularFile):
            continue  # a folder became a link or a file: not ours to follow
        try:
            os.unlink(name, dir_fd=directory)
            removed.append(path)
        except OSError:
            pass
        finally:
            os.close(directory)
        _prune_empty(root, folders)
    return removed


def _prune_empty(root: int, folders: Sequence[str]) -> None:
    for depth in range(len(folders), 0, -1):
        try:
            parent = fs.open_directory(root, folders[: depth - 1])
        except OSError:
            return
        try:
            os.rmdir(folders[depth - 1], dir_fd=parent)
        except OSError:  # not empty (or not a directory): stop climbing
            return
        finally:
            os.close(parent)


def _write_owned(root: int, out_dir: Path, text: str, current: str | None) -> None:
    """Replace the ownership list by ``text``, unless it already says exactly that."""
    if text == current:
        return  # a no-op render writes nothing, so it succeeds on a read-only tree
    try:
        fs.replace(root, OWNED_MARKER, text.encode("utf-8"), _FILE_MODE)
    except OSError as error:
        raise AiogenError.single(f"cannot write {out_dir / OWNED_MARKER}: {error.strerror}") from None
