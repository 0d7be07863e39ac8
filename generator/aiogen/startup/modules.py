"""The Python code a cold start imports, compiled into one file by `aiogen precompile` after install.

A cold `aiogen` imports ~170 modules (its own, PyYAML's, Jinja2's runtime, cryptography's, the
standard library's). For each one the import system searches ``sys.path`` or the package's
directory, builds a spec, finds the ``.pyc`` beside the source, checks it and reads it: ~10 % of a
cold KRM function, more than its own work on a one-cluster spec (measured side by side:
`bench/README.md`). `aiogen precompile`, run once after ``pip install`` (the README's and the
integrations' install steps run it), writes ``precompiled/modules.marshal`` beside this file: each
module listed in ``modules.json`` (what the cold commands import: `aiogen.startup.modules_collect`)
compiled, as Python's own loader compiles it, from the source file this interpreter's import
system finds for it (`write`). The console script's first step (`aiogen.cli.fast.console`) maps
that file and puts a finder first on ``sys.meta_path`` (`install`), which answers for the listed
modules with Python's source loader and the compiled code.

The file is code, never output, and it is used only while it describes this environment:
* Its key: the Python version, the bytecode version, ``-O``, and ``sys.path`` exactly. Another
  interpreter, ``python -m`` (the working directory comes first) or a ``PYTHONPATH`` ignores it.
* The modification time of every directory on ``sys.path`` and of every package directory that
  holds a listed module: a module, package or extension added, removed or renamed there (``pip
  install``, ``pip uninstall``) could change what an import finds, so the whole file is ignored.
  (`write` makes each such package's ``__pycache__`` first, as Python would on its first import.)
* Each module's source file, when that module is looked for: its modification time (to the
  nanosecond) and size must be those it was compiled from, or Python's own finders look for it.
A missing, unreadable, damaged or stale file changes nothing: every import then goes through
Python's own machinery. As with Python's own ``__pycache__``, whoever can write the package
directory can change the code that runs; the file is replaced atomically, never written in place.
Nothing is written at run time: a stale file stays stale (and slower) until `aiogen precompile`.
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
_FORMAT = b"aiogen-modules/1\n"
_HEAD = len(_FORMAT) + 16  # then where the index starts, and its length (8 bytes each)
_MAX_BYTES = 256 << 20  # a bound on what is read: the file is ~3 MB

# One module: its source file, whether it is a package, the source's st_mtime_ns and st_size when
# compiled, and where its marshalled code lies in the file.
Entry = tuple[str, bool, int, int, int, int]


def key() -> tuple[Any, ...]:
    """What the compiled code and the import system's answers depend on, as the console script sees them."""
    from _frozen_importlib_external import MAGIC_NUMBER

    return (sys.version, sys.implementation.cache_tag, MAGIC_NUMBER,
            sys.flags.optimize, tuple(sys.path))


def _mtime(directory: str) -> int:
    try:
        return os.stat(directory).st_mtime_ns
    except (OSError, ValueError):  # missing (python311.zip usually is), or a path the OS refuses
        return -1


class _Bundle:
    """The file read once: its index, the directories it was made against, and the code."""

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

    def code(self, name: str, path: str) -> CodeType | None:
        """The compiled code of ``name`` from ``path`` (checked unchanged when its spec was found)."""
        entry = self.index.get(name)
        if entry is None or entry[0] != path:
            return None
        try:
            code = marshal.loads(self.data[entry[4]:entry[4] + entry[5]])
        except (EOFError, ValueError, TypeError):
            return None
        return code if isinstance(code, CodeType) and code.co_filename == path else None


class Loader(SourceFileLoader):
    """Python's loader for a source file, with the code taken from the bundle while the source is unchanged."""

    bundle: _Bundle

    def get_code(self, fullname: str) -> CodeType:
        code = self.bundle.code(fullname, self.path)
        if code is None:
            return super().get_code(fullname)  # type: ignore[return-value]  # the usual .pyc or source
        return code


class Finder:
    """First on ``sys.meta_path`` in a console process: the listed modules, at the paths they were found at."""

    def __init__(self, bundle: _Bundle) -> None:
        self.bundle = bundle

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        entry = self.bundle.index.get(fullname)
        if entry is None:
            return None
        origin, package = entry[0], entry[1]
        directory = os.path.dirname(origin)
        parent = os.path.dirname(directory) if package else directory
        if (path is None) != ("." not in fullname) or (path is not None and list(path) != [parent]):
            return None  # asked for in another place than it was found in
        if not self.bundle.unchanged(entry):
            return None  # changed, moved or gone: Python's own finders decide
        loader = Loader(fullname, origin)
        loader.bundle = self.bundle
        spec = ModuleSpec(fullname, loader, origin=origin, is_package=package)
        spec.has_location = True
        if package:
            spec.submodule_search_locations = [directory]
        return spec

    def invalidate_caches(self) -> None:
        """Nothing is cached beyond the file itself, whose every entry is checked when used."""


def _read(path: str) -> memoryview | None:
    """The file at ``path``, mapped (only the pages used are read, none copied), when it is a regular
    file not reached through a symbolic link; else None. `write` replaces it by renaming a new file
    over it, so a mapping never sees a file change under it."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        import mmap
        import stat

        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or not 0 < info.st_size <= _MAX_BYTES:
            return None
        return memoryview(mmap.mmap(fd, 0, access=mmap.ACCESS_READ))
    except (OSError, ValueError, ImportError):
        return None
    finally:
        os.close(fd)


def _parse(data: memoryview) -> tuple[tuple[Any, ...], tuple[tuple[str, int], ...], dict[str, Entry]] | None:
    """The key, directories and index of a file's ``data``, or None when it is not one `write` made."""
    if len(data) < _HEAD or data[:len(_FORMAT)] != _FORMAT:
        return None
    where = int.from_bytes(data[_HEAD - 16:_HEAD - 8], "little")
    length = int.from_bytes(data[_HEAD - 8:_HEAD], "little")
    if where < _HEAD or where + length != len(data):
        return None
    try:
        made_for, directories, index = marshal.loads(data[where:])
    except (EOFError, ValueError, TypeError):
        return None
    if not isinstance(made_for, tuple) or not isinstance(directories, tuple) or not isinstance(index, dict):
        return None
    for directory in directories:
        if not (isinstance(directory, tuple) and len(directory) == 2 and isinstance(directory[0], str)
                and isinstance(directory[1], int)):
            return None
    for name, entry in index.items():
        if not (isinstance(name, str) and isinstance(entry, tuple) and len(entry) == 6
                and isinstance(entry[0], str) and isinstance(entry[1], bool)
                and all(isinstance(n, int) for n in entry[2:])
                and entry[4] >= _HEAD and entry[4] + entry[5] <= where):
            return None
    return made_for, directories, index


def load(directory: str | None = None) -> _Bundle | None:
    """The bundle in ``directory`` when it was made for this interpreter and these directories, else None."""
    data = _read(os.path.join(directory or HERE, COMPILED_NAME))
    parsed = _parse(data) if data is not None else None
    if data is None or parsed is None:
        return None
    made_for, directories, index = parsed
    if made_for != key():
        return None
    for path, mtime in directories:
        if _mtime(path) != mtime:
            return None
    return _Bundle(data, index)


def install(directory: str | None = None) -> bool:
    """Put the bundle's finder first on ``sys.meta_path`` when the bundle is current (the console script
    only: a program that imports aiogen keeps its own import system). Whether it did."""
    if any(isinstance(finder, Finder) for finder in sys.meta_path):
        return True
    bundle = load(directory)
    if bundle is None:
        return False
    sys.meta_path.insert(0, Finder(bundle))
    return True


def current(directory: str | None = None) -> bool:
    """Whether the bundle serves every module it holds here: current, and no source changed since."""
    bundle = load(directory)
    if bundle is None:
        return False
    return all(bundle.unchanged(entry) and bundle.code(name, entry[0]) is not None
               for name, entry in bundle.index.items())


def listed(directory: str | None = None) -> list[str]:
    """The module names in ``modules.json``."""
    import json

    with open(os.path.join(directory or HERE, LIST_NAME), encoding="utf-8") as handle:
        names = json.load(handle)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{LIST_NAME}: expected a list of module names")
    return names


def _locate(name: str, packages: dict[str, str | None]) -> tuple[str, bool] | None:
    """Where the import system finds ``name`` (its source file, and whether it is a package), without
    running it, or None when it is not a plain source module (built in, frozen, an extension, a
    namespace package, found by another finder). ``packages`` remembers each package's directory."""
    from importlib.machinery import BuiltinImporter, FrozenImporter, PathFinder

    if BuiltinImporter.find_spec(name) is not None or FrozenImporter.find_spec(name) is not None:
        return None  # found before any file is looked for
    parent, _, _ = name.rpartition(".")
    if parent and parent not in packages:
        packages[parent] = None
        found = _locate(parent, packages)
        if found is not None and found[1]:
            packages[parent] = os.path.dirname(found[0])
    if parent and packages.get(parent) is None:
        return None
    try:
        spec = PathFinder.find_spec(name, [packages[parent]] if parent else None)  # type: ignore[list-item]
    except (ImportError, ValueError):
        return None
    if spec is None or type(spec.loader) is not SourceFileLoader or not spec.origin \
            or not spec.origin.endswith(".py") or not spec.has_location:
        return None
    locations = spec.submodule_search_locations
    if locations is not None and list(locations) != [os.path.dirname(spec.origin)]:
        return None
    return spec.origin, locations is not None


def _compiled(origin: str) -> tuple[bytes, int, int] | None:
    """``origin`` compiled as Python's own loader compiles it, with the st_mtime_ns and st_size it had."""
    try:
        with open(origin, "rb") as handle:
            before = os.fstat(handle.fileno())
            source = handle.read()
        after = os.stat(origin)
    except OSError:
        return None
    if (before.st_mtime_ns, before.st_size) != (after.st_mtime_ns, after.st_size) or len(source) != after.st_size:
        return None  # changed while read
    try:
        code = compile(source, origin, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return None
    return marshal.dumps(code), after.st_mtime_ns, after.st_size


def build(names: Sequence[str]) -> tuple[bytes, int]:
    """The bundle of ``names`` for this interpreter and ``sys.path`` (its bytes, and how many modules it holds)."""
    import contextlib

    packages: dict[str, str | None] = {}
    body, index = bytearray(), {}
    offset = _HEAD
    for name in sorted(set(names)):
        located = _locate(name, packages)
        compiled = _compiled(located[0]) if located is not None else None
        if located is None or compiled is None:
            continue
        code, mtime, size = compiled
        index[name] = (located[0], located[1], mtime, size, offset + len(body), len(code))
        body += code
    # Python makes a package's __pycache__ the first time it writes bytecode there, which changes the
    # package directory's time: made now (where it can be), before the times are recorded
    for package_dir in sorted({os.path.dirname(entry[0]) for entry in index.values()}):
        cache = os.path.join(package_dir, "__pycache__")
        if not os.path.lexists(cache):
            with contextlib.suppress(OSError):  # not writable: nor will Python make it
                os.mkdir(cache)
    # every directory whose listing decides what these imports find: sys.path's, and each package's
    directories = {path: _mtime(path) for path in sys.path}
    for origin, *_rest in index.values():
        directories.setdefault(os.path.dirname(origin), _mtime(os.path.dirname(origin)))
    for holder in packages.values():
        if holder is not None:
            directories.setdefault(holder, _mtime(holder))
    tail = marshal.dumps((key(), tuple(sorted(directories.items())), index))
    where = (_HEAD + len(body)).to_bytes(8, "little") + len(tail).to_bytes(8, "little")
    return _FORMAT + where + bytes(body) + tail, len(index)


def write(directory: str | None = None) -> tuple[str, int, int]:
    """Compile the listed modules into ``modules.marshal`` in ``directory``: (its path, modules, bytes)."""
    from pathlib import Path

    from aiogen.startup.ahead import write_file

    target = Path(directory or HERE) / COMPILED_NAME
    if target.parent.is_symlink() or (target.parent.exists() and not target.parent.is_dir()):
        raise OSError(f"{target.parent} is not a directory")
    target.parent.mkdir(exist_ok=True)  # first: its package directory's time is recorded after this
    data, count = build(listed(directory))
    return str(write_file(target, data)), count, len(data)


def main(argv: list[str]) -> int:
    """``--collect``: rewrite ``modules.json`` from the examples (a checkout). Else: `write` (`aiogen precompile`)."""
    if argv == ["--collect"]:
        from pathlib import Path

        from aiogen.startup import modules_collect

        names = modules_collect.collect()
        print(f"{len(names)} modules run from source; {modules_collect.write_list(names, Path(HERE))} rewritten")
        return 0
    path, count, size = write()
    print(f"{count} modules compiled into {path} ({size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
