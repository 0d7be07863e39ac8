"""Writing a rendered tree into an output directory, safely.

The rules (docs/hardening.md): a path comes from `aiogen.output.layout.tree` and is checked again
here; nothing is written or deleted through a symbolic link or outside ``out_dir``; a file aiogen
did not write is never replaced or removed; `.aiogen-owned` names what aiogen wrote and is the only
list of candidates for removal, each entry checked like a rendered path. Each file is replaced
atomically (a temporary sibling, then rename), so a file on disk is always either its old or its
new version. The ownership list is widened before the first rename and narrowed after the last
removal, so an interruption anywhere leaves a tree the next render can finish. Renders into one
directory are serialised by a lock on the directory itself (no lock file left behind).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from aiogen.model.problems import AiogenError
from aiogen.output.keyscan import assert_no_private_key
from aiogen.output.owned import OWNED_MARKER, TEMPORARY_SUFFIX, owned_list_text, path_problem, read_owned

LOCK_TIMEOUT = 60.0  # seconds to wait for another render into the same directory
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
# Every step goes through a descriptor of its directory (openat, renameat, unlinkat), so a link
# swapped in between a check and a write cannot redirect it. Linux and macOS have these calls.
_HAVE_DIR_FD = {os.open, os.mkdir, os.rename, os.unlink, os.rmdir, os.stat} <= os.supports_dir_fd


@dataclass(frozen=True)
class WriteResult:
    written: tuple[str, ...]  # created or changed
    unchanged: tuple[str, ...]
    removed: tuple[str, ...]  # stale files aiogen had written before


@dataclass(frozen=True)
class WritePlan:
    """What writing a tree will do, decided before anything is touched."""

    write: tuple[str, ...]
    unchanged: tuple[str, ...]
    remove: tuple[str, ...]
    owned_before: frozenset[str]
    owned_after: frozenset[str]


def _blocked_by(out_dir: Path, path: str) -> str | None:
    """The first part of ``path`` that is a symbolic link or not a directory, or None."""
    parts = path.split("/")
    current = out_dir
    for index, part in enumerate(parts[:-1]):
        current = current / part
        try:
            info = current.lstat()
        except FileNotFoundError:
            return None  # created on write
        except OSError:
            return "/".join(parts[: index + 1])
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
            return "/".join(parts[: index + 1])
    return None


def _same_content(target: Path, data: bytes) -> bool | None:
    """True/False when ``target`` is a regular file (same bytes or not), None when it does not exist.

    Raises ``ValueError`` when something else (a link, a directory, a FIFO) stands there.
    """
    try:
        info = target.lstat()
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(str(target))
    if info.st_size != len(data):
        return False
    return target.read_bytes() == data


def plan_write(files: Mapping[str, str], out_dir: Path, scope: Iterable[str] | None = None) -> WritePlan:
    """What writing ``files`` into ``out_dir`` would do. Raises `AiogenError` on any conflict.

    ``scope`` limits stale-file removal to these top-level directories (the clusters rendered with
    --cluster); None means the whole spec was rendered, so the files of a cluster removed from the
    spec are stale too.
    """
    for path, text in files.items():
        problem = path_problem(path)
        if problem:
            raise AiogenError.single(f"refusing to write {path!r} into {out_dir}: {problem}")
        assert_no_private_key(path, text)
    if out_dir.exists() and not out_dir.is_dir():
        raise AiogenError.single(f"{out_dir} exists and is not a directory")
    owned = read_owned(out_dir)
    conflicts: list[str] = []
    write: list[str] = []
    unchanged: list[str] = []
    for path, text in files.items():
        blocked = _blocked_by(out_dir, path)
        if blocked is not None:
            conflicts.append(f"{blocked} (a symbolic link or not a directory)")
            continue
        try:
            same = _same_content(out_dir / path, text.encode("utf-8"))
        except ValueError:
            conflicts.append(f"{path} (not a regular file)")
            continue
        except OSError as error:
            raise AiogenError.single(f"cannot read {out_dir / path}: {error.strerror}") from None
        if same:
            unchanged.append(path)
        elif same is None or path in owned:
            write.append(path)
        else:
            conflicts.append(path)
    if conflicts:
        unique = sorted(set(conflicts))
        listing = ", ".join(unique[:10]) + (f" and {len(unique) - 10} more" if len(unique) > 10 else "")
        raise AiogenError.single(
            f"{out_dir} holds files aiogen did not write where it would write: {listing}",
            hint="aiogen never overwrites or follows them; move them away or render into another directory",
        )
    tops = set(scope) if scope is not None else None  # None: the whole spec, so every owned file is in scope
    remove = sorted(p for p in owned if p not in files and (tops is None or p.split("/", 1)[0] in tops))
    owned_after = frozenset({p for p in owned if p not in remove} | set(files))
    return WritePlan(tuple(write), tuple(unchanged), tuple(remove), frozenset(owned), owned_after)


def write_tree(files: Mapping[str, str], out_dir: Path, scope: Iterable[str] | None = None) -> WriteResult:
    """Write ``files`` (relative path → text) into ``out_dir``; see the rules above."""
    if not _HAVE_DIR_FD:
        raise AiogenError.single(
            "writing a tree needs directory descriptors (openat), which this system lacks",
            hint="render with -o - and redirect it, or run aiogen on Linux, macOS or WSL",
        )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise AiogenError.single(f"{out_dir} exists and is not a directory") from None
    except OSError as error:
        raise AiogenError.single(f"cannot create {out_dir}: {error.strerror}") from None
    with _locked_directory(out_dir) as root:
        plan = plan_write(files, out_dir, scope)
        staged = _stage(files, plan.write, root, out_dir)
        try:
            _write_owned(root, out_dir, plan.owned_before | plan.owned_after)  # widen first
            for done, path in enumerate(plan.write):
                try:
                    _replace(root, path, staged[path])
                    del staged[path]
                except OSError as error:
                    raise AiogenError.single(
                        f"cannot write {out_dir / path}: {error.strerror}; {done} of {len(plan.write)} changed "
                        "files were replaced, the others keep their previous content",
                        hint="fix the cause and render again: every file is either its old or its new version",
                    ) from None
        finally:
            _discard(root, staged)
        removed, kept = _remove_stale(root, plan.remove)
        _write_owned(root, out_dir, plan.owned_after - set(removed) - set(kept))
    return WriteResult(plan.write, plan.unchanged, tuple(removed))


def _replace(root: int, path: str, temporary: str) -> None:
    *folders, name = path.split("/")
    directory = _open_directory(root, folders, create=False)
    try:
        os.replace(temporary, name, src_dir_fd=directory, dst_dir_fd=directory)
    finally:
        os.close(directory)


def _discard(root: int, staged: Mapping[str, str]) -> None:
    """Remove temporary files that were not renamed into place."""
    for path, temporary in staged.items():
        try:
            directory = _open_directory(root, path.split("/")[:-1], create=False)
        except OSError:
            continue
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=directory)
        os.close(directory)


@contextlib.contextmanager
def _locked_directory(out_dir: Path) -> Iterator[int]:
    """A descriptor of ``out_dir``, locked against other aiogen processes writing into it."""
    try:
        fd = os.open(out_dir, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
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


def _open_directory(root: int, parts: Sequence[str], *, create: bool) -> int:
    """A descriptor of root/parts..., never through a symbolic link; created when ``create``."""
    fd = os.dup(root)
    try:
        for part in parts:
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                os.mkdir(part, 0o755, dir_fd=fd)
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _stage(files: Mapping[str, str], paths: Sequence[str], root: int, out_dir: Path) -> dict[str, str]:
    """Write each file to a temporary sibling (created, never followed): path → temporary name."""
    staged: dict[str, str] = {}
    try:
        for path in paths:
            *folders, name = path.split("/")
            temporary = f".{name[:200]}.{secrets.token_hex(4)}{TEMPORARY_SUFFIX}"
            directory = _open_directory(root, folders, create=True)
            try:
                fd = os.open(temporary, _FILE_FLAGS, 0o644, dir_fd=directory)
                staged[path] = temporary
                with os.fdopen(fd, "wb") as handle:
                    os.fchmod(handle.fileno(), 0o644)  # whatever the umask: a rendered tree is readable
                    handle.write(files[path].encode("utf-8"))
            finally:
                os.close(directory)
    except BaseException as error:
        _discard(root, staged)
        if isinstance(error, OSError):
            raise AiogenError.single(
                f"cannot write {out_dir / path}: {error.strerror or error}; no file in {out_dir} was changed",
                hint="a directory of the tree may be a symbolic link, a file, or read-only",
            ) from None
        raise
    return staged


def _remove_stale(root: int, paths: Sequence[str]) -> tuple[list[str], list[str]]:
    """Remove files aiogen wrote and no longer renders: (removed, kept because no longer a plain
    file inside the tree). Directories left empty are removed too."""
    removed: list[str] = []
    kept: list[str] = []
    for path in paths:
        *folders, name = path.split("/")
        try:
            directory = _open_directory(root, folders, create=False)
        except FileNotFoundError:
            kept.append(path)  # already gone
            continue
        except OSError:
            kept.append(path)  # a folder became a link or a file: not ours to follow
            continue
        try:
            info = os.stat(name, dir_fd=directory, follow_symlinks=False)
            if stat.S_ISREG(info.st_mode):
                os.unlink(name, dir_fd=directory)
                removed.append(path)
            else:
                kept.append(path)
        except OSError:
            kept.append(path)
        finally:
            os.close(directory)
        _prune_empty(root, folders)
    return removed, kept


def _prune_empty(root: int, folders: Sequence[str]) -> None:
    for depth in range(len(folders), 0, -1):
        try:
            parent = _open_directory(root, folders[: depth - 1], create=False)
        except OSError:
            return
        try:
            os.rmdir(folders[depth - 1], dir_fd=parent)
        except OSError:  # not empty (or not a directory): stop climbing
            return
        finally:
            os.close(parent)


def _write_owned(root: int, out_dir: Path, paths: Iterable[str]) -> None:
    temporary = f"{OWNED_MARKER}.{secrets.token_hex(4)}{TEMPORARY_SUFFIX}"
    try:
        fd = os.open(temporary, _FILE_FLAGS, 0o644, dir_fd=root)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o644)
            handle.write(owned_list_text(paths))
        os.replace(temporary, OWNED_MARKER, src_dir_fd=root, dst_dir_fd=root)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=root)
        raise AiogenError.single(f"cannot write {out_dir / OWNED_MARKER}: {error.strerror}") from None
