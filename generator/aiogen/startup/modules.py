"""The Python code a cold start imports, compiled into one file by `aiogen precompile` after install.

A cold `aiogen` imports ~170 modules (its own, PyYAML's, Jinja2's runtime, cryptography's, the
standard library's). For each one the import system searches ``sys.path`` or the package's
directory, builds a spec, finds the ``.pyc`` beside the source, checks it and reads it: ~10 % of a
cold KRM function, more than its own work on a one-cluster spec (measured side by side:
`bench/README.md`). `aiogen precompile`, run once after ``pip install`` (the README's install
command, ``.ci/run`` and the Argo CD image run it), writes ``precompiled/modules.marshal`` beside
this file (`aiogen.startup.modules_write`): each module listed in ``modules.json`` (what the cold
commands import: `aiogen.startup.modules_collect`) compiled, as Python's own loader compiles it,
from the source file this interpreter's import system finds for it. The console script's first
step (`aiogen.cli.fast.console`) reads that file and puts a finder first on ``sys.meta_path``
(`install`), which answers for the listed modules with Python's source loader and that code.

The file is code, never output, and it is used only while it describes this environment:
* Its key: the Python version, the bytecode version, ``-O``, ``sys.path`` exactly, and the import
  hooks (``sys.meta_path``, ``sys.path_hooks``). Another interpreter, ``python -m`` (the working
  directory comes first), a ``PYTHONPATH`` or a hook a ``.pth`` file adds: not used.
* The modification time of every directory on ``sys.path`` and of every package directory that
  holds a listed module: a module, package or extension added, removed or renamed there (``pip
  install``, ``pip uninstall``) could change what an import finds, so the whole file is not used.
* Each module's source file, when that module is looked for (and when its loader is asked for its
  code again later): its modification time (to the nanosecond) and size must be those it was
  compiled from, and the code its digest; else Python's own finders and loader take over.
* While the process runs: ``sys.path`` and the import hooks as they were (else the finder answers
  for nothing more), and no ``importlib.invalidate_caches()`` (which says the files changed).
A missing, unreadable, damaged or stale file changes nothing: every import goes through Python's
own machinery. The file is mapped, and replaced atomically when written (`_read`). Nothing is
written at run time: a stale file stays stale (and slower) until `aiogen precompile` runs again.
"""

from __future__ import annotations

import marshal
import os
import sys

# the interpreter's own import system, loaded already (importlib.machinery re-exports these names):
# importing importlib or typing here would cost a cold start what this module saves it
from _frozen_importlib import ModuleSpec
from _frozen_importlib_external import SourceFileLoader
from types import CodeType

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (mypy knows the name)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import ModuleType
    from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))  # a string: pathlib is not imported yet when `install` runs
LIST_NAME = "modules.json"
# In a directory of its own: writing it there changes no package directory's modification time
COMPILED_NAME = os.path.join("precompiled", "modules.marshal")
FORMAT = b"aiogen-modules/3\n"
# After FORMAT: where the index starts, its length and its digest (8 bytes each)
HEAD = len(FORMAT) + 24
_MAX_BYTES = 256 << 20  # a bound on what is read: the file is ~3 MB

# One module: its source file, whether it is a package, the source's st_mtime_ns and st_size when
# compiled, and where its marshalled code lies in the file, with that code's digest.
Entry = tuple[str, bool, int, int, int, int, bytes]


def digest(data: bytes | memoryview) -> bytes:
    """8 bytes of SipHash-1-3 over ``data``: what Python checks a hash-based ``.pyc``'s source with, built
    into the interpreter (``zlib``'s CRC-32 would cost loading an extension module on every start)."""
    import _imp

    made: bytes = _imp.source_hash(_DIGEST_KEY, data)
    return made


_DIGEST_KEY = int.from_bytes(b"aiogen-m", "little")


def _named(hook: object) -> str:
    kind = hook if isinstance(hook, type) or hasattr(hook, "__qualname__") else type(hook)  # a class, a function
    return f"{getattr(kind, '__module__', '?')}.{getattr(kind, '__qualname__', '?')}"


def hooks() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The import hooks, by name: ``sys.meta_path`` (without this module's finder) and ``sys.path_hooks``."""
    return (tuple(_named(f) for f in sys.meta_path if not isinstance(f, Finder)),
            tuple(_named(h) for h in sys.path_hooks))


def key() -> tuple[Any, ...]:
    """What the compiled code and the import system's answers depend on, as this process sees them."""
    from _frozen_importlib_external import MAGIC_NUMBER

    return (sys.version, sys.implementation.cache_tag, MAGIC_NUMBER, sys.flags.optimize, tuple(sys.path),
            hooks())


def mtime(directory: str) -> int:
    """A directory's st_mtime_ns, or -1 when it is missing (``python311.zip`` usually is)."""
    try:
        return os.stat(directory).st_mtime_ns
    except (OSError, ValueError):
        return -1


class _Bundle:
    """The file, mapped once: its index and the code."""

    __slots__ = ("data", "index")

    def __init__(self, data: memoryview, index: dict[str, Entry]) -> None:
        self.data = data
        self.index = index

    def unchanged(self, entry: Entry) -> bool:
        """Whether ``entry``'s source file is still the one it was compiled from (time to the nanosecond, size)."""
        try:
            stat = os.stat(entry[0])
        except (OSError, ValueError):
            return False
        return stat.st_mtime_ns == entry[2] and stat.st_size == entry[3]

    def code(self, name: str, path: str, checked: bool = False) -> CodeType | None:
        """The compiled code of ``name`` from ``path`` while that source is unchanged (``checked``: it was,
        a moment ago) and the code intact."""
        entry = self.index.get(name)
        if entry is None or entry[0] != path or not (checked or self.unchanged(entry)):
            return None
        blob = self.data[entry[4]:entry[4] + entry[5]]
        if digest(blob) != entry[6]:
            return None
        try:
            code = marshal.loads(blob)
        except Exception:  # marshal raises several kinds on data it cannot read
            return None
        return code if isinstance(code, CodeType) and code.co_filename == path else None


class Loader(SourceFileLoader):
    """Python's loader for a source file, with the code taken from the bundle while the source is unchanged."""

    bundle: _Bundle
    checked = False  # the source was found unchanged when the spec was made: once, no need to look again

    def get_code(self, fullname: str) -> CodeType:
        code = self.bundle.code(fullname, self.path, self.checked)
        self.checked = False
        if code is None:
            return super().get_code(fullname)  # type: ignore[return-value]  # the usual .pyc or source
        return code


class Finder:
    """First on ``sys.meta_path`` in a console process: the listed modules, at the paths they were found at."""

    def __init__(self, bundle: _Bundle) -> None:
        self.bundle = bundle
        self.path = list(sys.path)
        self.hooks = list(sys.path_hooks)
        self.meta_path: list[object] = []  # as it is once this finder is on it (`install`)
        self.stopped = False

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        entry = self.bundle.index.get(fullname)
        if entry is None or self.stopped:
            return None
        if sys.path != self.path or sys.meta_path != self.meta_path or sys.path_hooks != self.hooks:
            self.stopped = True  # the import system was changed: it decides from now on
            return None
        origin, package = entry[0], entry[1]
        directory = os.path.dirname(origin)
        parent = os.path.dirname(directory) if package else directory
        if (path is None) != ("." not in fullname) or (path is not None and list(path) != [parent]):
            return None  # asked for in another place than it was found in
        if not self.bundle.unchanged(entry):
            return None  # changed, moved or gone: Python's own finders decide
        loader = Loader(fullname, origin)
        loader.bundle, loader.checked = self.bundle, True
        spec = ModuleSpec(fullname, loader, origin=origin, is_package=package)
        spec.has_location = True
        if package:
            spec.submodule_search_locations = [directory]
        return spec

    def invalidate_caches(self) -> None:
        """`importlib.invalidate_caches` says files changed: Python's own finders decide from now on."""
        self.stopped = True


def _read(path: str) -> memoryview | None:
    """The file at ``path``, mapped (its pages are the page cache's: nothing is copied or allocated), when it
    is a regular file not reached through a symbolic link and not too large; else None. `aiogen precompile`
    replaces it by renaming a new file over it, so a process never sees its file change; truncating it in
    place while a command runs (nothing aiogen, pip or an editor does to it) would stop that command."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        import mmap
        import stat

        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or not HEAD <= info.st_size <= _MAX_BYTES:
            return None
        return memoryview(mmap.mmap(fd, 0, access=mmap.ACCESS_READ))
    except (OSError, ValueError, ImportError):
        return None
    finally:
        os.close(fd)


def _valid_entry(name: object, entry: object, end: int) -> bool:
    return (isinstance(name, str) and isinstance(entry, tuple) and len(entry) == 7
            and isinstance(entry[0], str) and isinstance(entry[1], bool)
            and all(type(n) is int for n in entry[2:6]) and isinstance(entry[6], bytes)
            and entry[4] >= HEAD and entry[4] + entry[5] <= end)


def _parse(data: memoryview) -> tuple[tuple[Any, ...], tuple[tuple[str, int], ...], dict[str, Entry]] | None:
    """The key, directories and index of a file's ``data``, or None when it is not one `write` made, intact."""
    if len(data) < HEAD or data[:len(FORMAT)] != FORMAT:
        return None
    where = int.from_bytes(data[HEAD - 24:HEAD - 16], "little")
    length = int.from_bytes(data[HEAD - 16:HEAD - 8], "little")
    if where < HEAD or where + length != len(data) or digest(data[where:]) != data[HEAD - 8:HEAD]:
        return None  # checked before it is read: a damaged length inside could ask marshal for gigabytes
    try:
        made_for, directories, index = marshal.loads(data[where:])
    except Exception:  # marshal raises several kinds on data it cannot read
        return None
    if not isinstance(made_for, tuple) or not isinstance(directories, tuple) or not isinstance(index, dict):
        return None
    if not all(isinstance(d, tuple) and len(d) == 2 and isinstance(d[0], str) and type(d[1]) is int
               for d in directories):
        return None
    if not all(_valid_entry(name, entry, where) for name, entry in index.items()):
        return None
    return made_for, directories, index


def compiled_path(directory: str | None = None) -> str:
    """Where the file is: ``precompiled/modules.marshal`` in ``directory`` (this package's by default)."""
    return os.path.join(directory or HERE, COMPILED_NAME)


def load(directory: str | None = None) -> _Bundle | None:
    """The bundle in ``directory`` (this package's by default) when it was made for this interpreter,
    ``sys.path``, import hooks and directories; else None."""
    data = _read(compiled_path(directory))
    parsed = _parse(data) if data is not None else None
    if data is None or parsed is None:
        return None
    made_for, directories, index = parsed
    if made_for != key() or any(mtime(path) != when for path, when in directories):
        return None
    return _Bundle(data, index)


def install(directory: str | None = None) -> bool:
    """Put the bundle's finder first on ``sys.meta_path`` when the bundle is current (the console script
    only: a program that imports aiogen keeps its own import system). Whether it did."""
    if any(isinstance(finder, Finder) for finder in sys.meta_path):
        return True
    try:
        bundle = load(directory)
    except Exception:  # a speed-up is never a reason for a command to fail: Python's own import, then
        return False
    if bundle is None:
        return False
    finder = Finder(bundle)
    sys.meta_path.insert(0, finder)
    finder.meta_path = list(sys.meta_path)
    return True


def current(directory: str | None = None) -> bool:
    """Whether the bundle serves every module it holds here: current, no source changed, no code damaged."""
    bundle = load(directory)
    if bundle is None:
        return False
    return all(bundle.code(name, entry[0]) is not None for name, entry in bundle.index.items())


def started_as_console() -> bool:
    """Whether this process is the console script (``sys.path`` starts with the script's directory), whose
    ``sys.path`` a file `aiogen precompile` writes is for; not ``python -m aiogen.cli`` (the working directory)."""
    return bool(sys.argv and sys.argv[0]) and sys.path[:1] == [os.path.dirname(os.path.realpath(sys.argv[0]))]


def main(argv: list[str]) -> int:
    """``--collect``: rewrite ``modules.json`` from the examples (a checkout). (`aiogen precompile` writes the file.)"""
    if argv != ["--collect"]:
        print("usage: python -m aiogen.startup.modules --collect   (the file: `aiogen precompile`)", file=sys.stderr)
        return 2
    from pathlib import Path

    from aiogen.startup import modules_collect

    names = modules_collect.collect()
    print(f"{len(names)} modules run from source; {modules_collect.write_list(names, Path(HERE))} rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
