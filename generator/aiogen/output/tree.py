"""Writing a rendered tree into an output directory, safely.

The rules (docs/hardening.md): a path comes from `aiogen.output.layout.tree` and is checked again
here; nothing is written, read or deleted through a symbolic link or outside ``out_dir`` (every
file system step goes through `aiogen.output.fs`); a file aiogen did not write is never replaced or
removed. `.aiogen-owned` records the digest of every file aiogen wrote: a file it no longer renders
is aiogen's (removed, shown as stale) only while its bytes still match; a path aiogen renders and
has written before is re-rendered even when edited by hand, as `render` always did. Each file is
replaced atomically (a temporary sibling, then rename), so a file on disk is always either its old
or its new version. The tree is compared with the disk and staged cluster by cluster as it is
rendered (`aiogen.output.staging`: only paths and digests are kept, not the text; a large render's
temporaries are created by a child process, `aiogen.output.writer`), and nothing is renamed until
every cluster is staged and no conflict was found; a conflict, a key or a failure
before that removes every temporary and new directory. The ownership list is widened (old and new
digests) before the first rename and narrowed after the last removal, so an interruption anywhere
leaves a tree the next render can finish; the next render also removes the temporaries a killed
one left. Renders into one directory are serialised by a lock on the directory itself (no lock
file left behind).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from aiogen.model.problems import AiogenError
from aiogen.model.record import record
from aiogen.output import fs
from aiogen.output.keyscan import assert_no_private_key
from aiogen.output.owned import (
    OWNED_MARKER,
    Owned,
    owned_list_chunks,
    owns,
    parse_owned,
    path_problem,
    read_owned_text,
)
from aiogen.output.provenance import MAX_RENDERED_FILE, is_layout_path
from aiogen.output.staging import FILE_MODE, StagedTree

if TYPE_CHECKING:
    from aiogen.render import RenderedCluster

LOCK_TIMEOUT = 60.0  # seconds to wait for another render into the same directory


@record
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


def _check_paths(files: Mapping[str, str], out_dir: Path, *, keys_checked: bool) -> None:
    for path, text in files.items():
        problem = path_problem(path)
        if problem:
            raise AiogenError.single(f"refusing to write {path!r} into {out_dir}: {problem}")
        if not keys_checked:
            assert_no_private_key(path, text)


def write_tree(files: Mapping[str, str], out_dir: Path, scope: Iterable[str] | None = None, *,
               keys_checked: bool = False) -> WriteResult:
    """Write ``files`` (relative path → text) into ``out_dir``; see the rules above.

    ``scope`` limits stale-file removal to these top-level directories (the clusters rendered with
    --cluster); None means the whole spec was rendered, so the files of a cluster removed from the
    spec are stale too. ``keys_checked``: every text already passed `assert_no_private_key` under
    the same path (`aiogen.output.layout` does), so it is not scanned a second time. Every path is
    checked before anything is created."""
    _need_dir_fd()
    _check_paths(files, out_dir, keys_checked=keys_checked)
    groups: dict[str, dict[str, str]] = {}
    for path, text in files.items():
        groups.setdefault(path.split("/", 1)[0], {})[path] = text
    return _write(groups.items(), out_dir, scope)


def write_rendered(rendered: Iterable[RenderedCluster], out_dir: Path,
                   scope: Iterable[str] | None = None) -> WriteResult:
    """Write each cluster's files (`aiogen.output.layout.cluster_files`, which scans them for keys)
    into ``out_dir/<cluster>/`` as ``rendered`` yields it, so only one cluster's text is held at a
    time: the same rules and result as `write_tree` of the whole tree. A cluster that fails to
    render, or a conflict anywhere, leaves ``out_dir`` as it was (`StagedTree.discard`)."""
    from aiogen.output.layout import cluster_files

    _need_dir_fd()
    groups = ((cluster.name, {f"{cluster.name}/{path}": text for path, text in cluster_files(cluster).items()})
              for cluster in rendered)
    return _write(groups, out_dir, scope)


def _need_dir_fd() -> None:
    if not fs.HAVE_DIR_FD:
        raise AiogenError.single(
            "writing a tree needs directory descriptors (openat), which this system lacks",
            hint="render with -o - and redirect it, or run aiogen on Linux, macOS or WSL",
        )


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


def _write(groups: Iterable[tuple[str, Mapping[str, str]]], out_dir: Path, scope: Iterable[str] | None
           ) -> WriteResult:
    """Every group's paths were checked for keys (by the caller) and are checked again as staged."""
    made = _create_out_dir(out_dir)
    try:
        with fs.signals_unwind(), _locked_directory(out_dir) as root:
            return _write_locked(groups, out_dir, root, scope)
    except BaseException:
        for directory in made:  # only directories this render created, only if still empty
            with contextlib.suppress(OSError):
                directory.rmdir()
        raise


def _write_locked(groups: Iterable[tuple[str, Mapping[str, str]]], out_dir: Path, root: int,
                  scope: Iterable[str] | None) -> WriteResult:
    leftovers = fs.remove_temporaries(root, recursive=True)  # a killed render's; we hold the lock
    owned_text = read_owned_text(root, out_dir)
    owned = parse_owned(owned_text) if owned_text is not None else {}
    on_disk = hashlib.sha256(owned_text.encode("utf-8")).digest() if owned_text is not None else None
    del owned_text  # compared by digest from here on
    tree = StagedTree(root, out_dir, owned, keys_checked=True)
    tops = set(scope) if scope is not None else None  # None: the whole spec, so every owned file is in scope

    def kept(path: str) -> bool:  # an owned file not rendered stays listed only outside the clusters rendered
        return tops is not None and path.split("/", 1)[0] not in tops

    try:
        for top, files in groups:
            tree.add(top, files)
        tree.finish()
        tree.raise_conflicts()  # before anything is renamed: a conflict anywhere changes no file
        remove = sorted(p for p in owned if not tree.renders(p) and not kept(p)
                        and is_layout_path(p))  # a path aiogen never renders is never its own: not even read
        widened = _write_owned(root, out_dir, lambda: owned_list_chunks(tree.digests(), owned, widen=True,
                                                                        keep=lambda _: True), on_disk)  # widen first
        _rename_staged(tree, root, out_dir)
    except BaseException:
        tree.discard()
        raise
    removed = _remove_stale(root, remove, owned)
    if owned:  # nothing was listed before: the widened list is the list
        _write_owned(root, out_dir, lambda: owned_list_chunks(tree.digests(), owned, widen=False, keep=kept), widened)
    return WriteResult(tuple(tree.changed()), tuple(tree.unchanged()), tuple(removed), tuple(leftovers))


def _rename_staged(tree: StagedTree, root: int, out_dir: Path) -> None:
    """Rename every staged temporary over its file, holding one cluster's directory descriptors at a time."""
    folders = fs.Directories(root)
    top: list[str] = []
    try:
        for done, path in enumerate(tree.changed()):
            *parts, name = path.split("/")
            if parts[:1] != top:
                folders.close()
                top = parts[:1]
            try:
                directory = folders.get(parts)
                os.replace(fs.temporary_name(name, tree.token), name, src_dir_fd=directory, dst_dir_fd=directory)
            except OSError as error:
                raise AiogenError.single(
                    f"cannot write {out_dir / path}: {error.strerror}; {done} of {tree.staged} changed "
                    "files were replaced, the others keep their previous content",
                    hint="fix the cause and render again: every file is either its old or its new version",
                ) from None
    finally:
        folders.close()


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


def _write_owned(root: int, out_dir: Path, chunks: Callable[[], Iterator[bytes]], current: bytes | None) -> bytes:
    """Replace the ownership list by the bytes ``chunks()`` gives (streamed, never held whole), unless
    they are the bytes on disk (``current``: their SHA-256). Returns the SHA-256 of the new bytes."""
    new = hashlib.sha256()
    if current is not None:
        for chunk in chunks():
            new.update(chunk)
        if new.digest() == current:
            return current  # a no-op render writes nothing, so it succeeds on a read-only tree
        new = hashlib.sha256()

    def hashed() -> Iterator[bytes]:
        for chunk in chunks():
            new.update(chunk)
            yield chunk

    try:
        fs.replace(root, OWNED_MARKER, hashed(), FILE_MODE)
    except OSError as error:
        raise AiogenError.single(f"cannot write {out_dir / OWNED_MARKER}: {error.strerror}") from None
    return new.digest()
