"""The one place aiogen touches the file system to write (and to read back what it wrote).

Every write of the program goes through here: the rendered tree (`aiogen.output.tree`), the
simulation export (`aiogen.simulate.export`), `aiogen ca` outputs (`aiogen.pki.offline`) and
`rollout advance` (`aiogen.rollout.advance`). The rules (docs/hardening.md):

* a directory is opened with ``O_DIRECTORY|O_NOFOLLOW`` from a descriptor of its parent, a file
  created with ``O_CREAT|O_EXCL|O_NOFOLLOW``, renamed and unlinked relative to its directory's
  descriptor, so a symbolic link swapped in between a check and a write cannot redirect it; reads
  of an output tree (`render --check`, `diff`) go the same way and never follow a link either;
* a file is replaced atomically: written to a temporary sibling (`temporary_name`), then renamed
  over the old one, so it is always either its old or its new content;
* directories are created 0755 and files get an exact mode, whatever the umask;
* a temporary left by a killed run matches `is_temporary_name` and is removed by the next run.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import stat
import threading
from collections.abc import Iterable, Iterator, Sequence
from types import FrameType

from aiogen.model.record import field, record

TEMPORARY_SUFFIX = ".aiogen-tmp"
DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
READ_FLAGS = (os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
              | getattr(os, "O_CLOEXEC", 0))
# Linux and macOS have these calls; without them (Windows) no directory can be written safely.
HAVE_DIR_FD = {os.open, os.mkdir, os.rename, os.unlink, os.rmdir, os.stat} <= os.supports_dir_fd
DIRECTORY_MODE = 0o755
# `.NAME.<8 hex digits>.aiogen-tmp`: the only names aiogen ever deletes as its own leftovers.
_TEMPORARY = re.compile(r"\..+\.[0-9a-f]{8}" + re.escape(TEMPORARY_SUFFIX))


class NotRegularFile(Exception):
    """Something other than a regular file (a link, a directory, a FIFO) stands at a path."""


def temporary_name(name: str, token: str | None = None) -> str:
    """A fresh temporary sibling name for ``name``. ``token`` (8 hex digits, `temporary_token`) names
    every temporary of one run: unique beside each name, since a run stages one file per name."""
    return f".{name[:200]}.{token or temporary_token()}{TEMPORARY_SUFFIX}"


def temporary_token() -> str:
    return os.urandom(4).hex()  # as secrets.token_hex(4), without importing secrets


def is_temporary_name(name: str) -> bool:
    return _TEMPORARY.fullmatch(name) is not None


def open_root(path: os.PathLike[str] | str) -> int:
    """A descriptor of the directory ``path`` (the user's own choice: a link there is followed)."""
    return os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))


@record(frozen=False)
class Created:
    """Directories a run created (relative parts), newest last, so a failed run can remove them."""

    folders: list[tuple[str, ...]] = field(default_factory=list)


def open_directory(root: int, parts: Sequence[str], *, create: bool = False, created: Created | None = None) -> int:
    """A descriptor of root/parts..., never through a symbolic link; created (0755) when ``create``."""
    fd = os.dup(root)
    try:
        for index, part in enumerate(parts):
            try:
                child = os.open(part, DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                os.mkdir(part, DIRECTORY_MODE, dir_fd=fd)
                child = os.open(part, DIR_FLAGS, dir_fd=fd)
                os.fchmod(child, DIRECTORY_MODE)  # whatever the umask, like the files inside
                if created is not None:
                    created.folders.append(tuple(parts[: index + 1]))
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def remove_created(root: int, created: Created) -> None:
    """Remove the directories a failed run created, deepest first, each only if still empty."""
    for folders in reversed(created.folders):
        with contextlib.suppress(OSError):
            parent = open_directory(root, folders[:-1])
            try:
                os.rmdir(folders[-1], dir_fd=parent)
            finally:
                os.close(parent)
    created.folders.clear()


class Directories:
    """Descriptors of the directories below ``root``, opened once each (never through a link) and
    kept until `close`: reading a whole tree costs one ``openat`` per directory, not per file."""

    def __init__(self, root: int) -> None:
        self.root = root
        self._open: dict[tuple[str, ...], int] = {(): root}
        self._missing: set[tuple[str, ...]] = set()  # looked for once: a new tree is not searched per file
        self._made: set[tuple[str, ...]] = set()  # created by `make`

    def make(self, parts: Sequence[str], created: Created, *, chmod: bool = True) -> int:
        """The descriptor of root/parts, creating what is missing (0755, recorded in ``created``) like
        `open_directory(..., create=True)`; a directory already found missing is not looked for again."""
        key = tuple(parts)
        found = self._open.get(key)
        if found is not None:
            return found
        parent = self.make(key[:-1], created, chmod=chmod)
        if key not in self._missing and key[:-1] not in self._made:  # a new directory is empty
            with contextlib.suppress(FileNotFoundError):
                found = os.open(key[-1], DIR_FLAGS, dir_fd=parent)
        made = False
        if found is None:
            try:
                os.mkdir(key[-1], DIRECTORY_MODE, dir_fd=parent)
                created.folders.append(key)
                made = True
            except FileExistsError:  # made meanwhile: opened below, never through a link
                pass
            found = os.open(key[-1], DIR_FLAGS, dir_fd=parent)
            self._missing.discard(key)
        self._open[key] = found
        if made:
            self._made.add(key)
            if chmod:
                os.fchmod(found, DIRECTORY_MODE)  # whatever the umask, like the files inside
        return found

    def get(self, parts: Sequence[str]) -> int:
        """The descriptor of root/parts; raises OSError (ELOOP/ENOTDIR/ENOENT) like `open_directory`."""
        key = tuple(parts)
        found = self._open.get(key)
        if found is None:
            if key in self._missing or key[:-1] in self._made:  # a directory `make` created is empty
                self._missing.add(key)
                raise FileNotFoundError(2, "No such file or directory", key[-1])
            parent = self.get(key[:-1])
            try:
                found = os.open(key[-1], DIR_FLAGS, dir_fd=parent)
            except FileNotFoundError:
                self._missing.add(key)
                raise
            self._open[key] = found
        return found

    def missing(self, parts: Sequence[str]) -> bool:
        """Is root/parts known to be missing (a directory of it was looked for and not found, or it
        lies in a directory `make` created)? Then no file below it exists: nothing to look for."""
        key = tuple(parts)
        while key:
            if key in self._made or key in self._missing:
                return True
            if key in self._open:
                return False
            key = key[:-1]
        return False

    def blocked(self, parts: Sequence[str]) -> str | None:
        """The first of ``parts`` that is a link or not a directory (None: all are, or one is missing)."""
        for depth in range(1, len(parts) + 1):
            try:
                self.get(parts[:depth])
            except FileNotFoundError:
                return None
            except OSError:
                return "/".join(parts[:depth])
        return None

    def close(self) -> None:
        for key, fd in self._open.items():
            if key:
                os.close(fd)
        self._open = {(): self.root}
        self._missing.clear()
        self._made.clear()


def read_file(root: int, path: str, *, limit: int | None = None, at_most: int | None = None,
              directories: Directories | None = None) -> bytes | None:
    """The bytes of root/path, read without following any link; None when it does not exist.

    Raises `NotRegularFile` when a link or anything but a regular file stands at the path or at
    one of its directories, or (``limit``) when the file is larger than ``limit``. ``at_most``
    reads only the first ``at_most + 1`` bytes, so a caller comparing with known bytes learns that a
    huge file differs without holding it. ``directories`` caches the directory descriptors across calls.
    """
    *folders, name = path.split("/")
    try:
        directory = directories.get(folders) if directories is not None else open_directory(root, folders)
    except FileNotFoundError:
        return None
    except OSError as error:  # ELOOP (a link), ENOTDIR (a file where a directory belongs)
        raise NotRegularFile(path) from error
    try:
        try:
            fd = os.open(name, READ_FLAGS, dir_fd=directory)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise NotRegularFile(path) from error
    finally:
        if directories is None:
            os.close(directory)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFile(path)
        if limit is not None and info.st_size > limit:
            raise NotRegularFile(path)
        most = min(m for m in (limit, at_most) if m is not None) if (limit, at_most) != (None, None) else None
        return _read_up_to(fd, info.st_size, None if most is None else most + 1)
    finally:
        os.close(fd)


def _read_up_to(fd: int, size: int, most: int | None) -> bytes:
    """The bytes of ``fd`` up to end of file, or its first ``most`` (a file may grow while read)."""
    chunks: list[bytes] = []
    left = most
    want = size + 1 if most is None else min(size + 1, most)  # one more than its size: end of file in one call
    while left is None or left > 0:
        chunk = os.read(fd, max(want, 1) if left is None else min(max(want, 1), left))
        if not chunk:
            break
        chunks.append(chunk)
        if left is not None:
            left -= len(chunk)
        want = 1 << 16
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def write_new(directory: int, name: str, data: bytes | Iterable[bytes], mode: int, *, sync: bool = False,
              chmod: bool = True) -> None:
    """Create ``name`` (never through a link, never over an existing name) holding ``data`` (or its
    chunks, written as they come), mode exact (``chmod=False``: the caller knows the umask leaves
    ``mode`` whole, `umask_keeps`)."""
    fd = os.open(name, NEW_FILE_FLAGS, mode, dir_fd=directory)
    try:
        try:
            if chmod:
                os.fchmod(fd, mode)  # whatever the umask
            for chunk in (data,) if isinstance(data, bytes) else data:
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=directory)
        raise


def umask_keeps(*modes: int) -> bool:
    """Does this process's umask leave every one of ``modes`` whole? Read from /proc (Linux), never by
    setting the umask (another thread could create a file meanwhile); False when it cannot be read."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"Umask:"):
                    umask = int(line.split()[1], 8)
                    return all(mode & umask == 0 for mode in modes)
    except (OSError, ValueError, IndexError):
        pass
    return False


def stage(directory: int, name: str, data: bytes | Iterable[bytes], mode: int, *, sync: bool = False) -> str:
    """Write ``data`` to a fresh temporary sibling of ``name``; returns the temporary's name."""
    temporary = temporary_name(name)
    write_new(directory, temporary, data, mode, sync=sync)
    return temporary


def replace(directory: int, name: str, data: bytes | Iterable[bytes], mode: int, *,
            owner: tuple[int, int] | None = None) -> None:
    """Replace ``name`` in ``directory`` atomically (temporary sibling + rename); a link there is
    replaced, never followed. ``owner`` (uid, gid) is kept when this process may set it."""
    temporary = stage(directory, name, data, mode)
    try:
        if owner is not None:
            with contextlib.suppress(OSError):  # only root (or a member of the group) may
                os.chown(temporary, *owner, dir_fd=directory, follow_symlinks=False)
        os.replace(temporary, name, src_dir_fd=directory, dst_dir_fd=directory)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=directory)
        raise


def unlink(directory: int, name: str) -> None:
    """Remove the file ``name`` in ``directory`` (a link there is removed, never followed)."""
    os.unlink(name, dir_fd=directory)


def lstat_at(directory: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=directory, follow_symlinks=False)
    except FileNotFoundError:
        return None


def remove_temporaries(directory: int, *, recursive: bool, prefix: str = "") -> list[str]:
    """Remove aiogen's own leftover temporaries (regular files named like `temporary_name`) under
    ``directory``, never following a link; returns their paths relative to it."""
    found = find_temporaries(directory, recursive=recursive, prefix=prefix)
    removed: list[str] = []
    for path in found:
        *folders, name = path.split("/")
        with contextlib.suppress(OSError):
            parent = open_directory(directory, folders)
            try:
                os.unlink(name, dir_fd=parent)
                removed.append(path)
            finally:
                os.close(parent)
    return removed


def find_temporaries(directory: int, *, recursive: bool, prefix: str = "") -> list[str]:
    """The leftover temporaries `remove_temporaries` would remove (regular files only)."""
    found: list[str] = []
    for relative, name, info in _walk(directory, (), recursive=recursive):
        if stat.S_ISREG(info.st_mode) and is_temporary_name(name) and name.startswith(f".{prefix}"):
            found.append("/".join((*relative, name)))
    return sorted(found)


def _walk(directory: int, relative: tuple[str, ...], *, recursive: bool
          ) -> Iterator[tuple[tuple[str, ...], str, os.stat_result]]:
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return
    for name in names:
        info = lstat_at(directory, name)
        if info is None:
            continue
        yield relative, name, info
        if recursive and stat.S_ISDIR(info.st_mode):  # never a link: lstat
            try:
                child = os.open(name, DIR_FLAGS, dir_fd=directory)
            except OSError:
                continue
            try:
                yield from _walk(child, (*relative, name), recursive=True)
            finally:
                os.close(child)


class Terminated(BaseException):
    """SIGTERM (or SIGHUP) arrived while aiogen was writing: unwound like Ctrl-C, so temporaries go."""


@contextlib.contextmanager
def signals_unwind() -> Iterator[None]:
    """While writing, turn SIGTERM and SIGHUP into an exception (SIGINT already is one), so every
    ``finally`` that removes a temporary runs. Only the main thread can set handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Terminated(signum)

    saved: dict[int, object] = {}
    for name in ("SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is not None:
            saved[number] = signal.signal(number, handler)
    try:
        yield
    except Terminated as error:
        raise SystemExit(128 + int(error.args[0])) from None
    finally:
        for number, previous in saved.items():
            signal.signal(number, previous)  # type: ignore[arg-type]


def fsync_directory(directory: int) -> None:
    with contextlib.suppress(OSError):
        os.fsync(directory)
