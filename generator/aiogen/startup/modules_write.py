"""`aiogen precompile`: the modules in ``modules.json`` compiled into the file `aiogen.startup.modules` reads.

Each listed module is looked for as the import system would look for it, without running it: not
a built-in or frozen module, not one another import hook answers for, a source file found by
Python's path finder (in its package's one directory). Each is compiled from its source as Python's
own loader compiles it, with the source's modification time and size, and the code's digest. The
file also records the key (`aiogen.startup.modules.key`) and the modification time of every
directory whose listing decides what these imports find. Written atomically; run at install time
only (`aiogen precompile`), never by a command that renders.
"""

from __future__ import annotations

import marshal
import os
import sys
from typing import TYPE_CHECKING

from aiogen.startup import modules
from aiogen.startup.modules import FORMAT, HEAD, LIST_NAME, Entry, Finder, compiled_path, digest, key, mtime

if TYPE_CHECKING:
    from collections.abc import Sequence


def listed(directory: str | None = None) -> list[str]:
    """The module names in ``modules.json`` (in ``directory``, this package's by default)."""
    import json

    with open(os.path.join(directory or modules.HERE, LIST_NAME), encoding="utf-8") as handle:
        names = json.load(handle)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{LIST_NAME}: expected a list of module names")
    return names


def _claimed_by_a_hook(name: str, path: list[str] | None) -> bool:
    """Whether an import hook before Python's path finder (one a ``.pth`` file or ``sitecustomize``
    added) answers for ``name``; a hook that fails to answer is taken to claim it."""
    from importlib.machinery import BuiltinImporter, FrozenImporter, PathFinder

    for finder in sys.meta_path:
        if finder is PathFinder:
            return False
        if finder in (BuiltinImporter, FrozenImporter) or isinstance(finder, Finder):
            continue
        try:
            if finder.find_spec(name, path) is not None:
                return True
        except Exception:  # someone else's hook: whatever it raises, leave the module to it
            return True
    return True  # no path finder on sys.meta_path at all


def _locate(name: str, packages: dict[str, str | None]) -> tuple[str, bool] | None:
    """Where the import system finds ``name`` (its source file, and whether it is a package), without
    running it, or None when it is not a plain source module (built in, frozen, an extension, a
    namespace package, answered for by another hook). ``packages`` remembers each package's directory."""
    from importlib.machinery import BuiltinImporter, FrozenImporter, PathFinder, SourceFileLoader

    if BuiltinImporter.find_spec(name) is not None or FrozenImporter.find_spec(name) is not None:
        return None  # found before any file is looked for
    parent = name.rpartition(".")[0]
    if parent and parent not in packages:
        packages[parent] = None
        found = _locate(parent, packages)
        if found is not None and found[1]:
            packages[parent] = os.path.dirname(found[0])
    holder = packages.get(parent) if parent else None
    if parent and holder is None:
        return None
    search = [holder] if holder is not None else None
    if _claimed_by_a_hook(name, search):
        return None
    try:
        spec = PathFinder.find_spec(name, search)
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


def _make_caches(index: dict[str, Entry]) -> None:
    """Python makes a package's ``__pycache__`` the first time it writes bytecode there, which changes
    the package directory's time: made now, where Python would make it, before the times are recorded."""
    import contextlib

    if sys.dont_write_bytecode or sys.pycache_prefix is not None:
        return  # Python writes no bytecode beside the sources
    for package_dir in sorted({os.path.dirname(entry[0]) for entry in index.values()}):
        cache = os.path.join(package_dir, "__pycache__")
        if not os.path.lexists(cache):
            with contextlib.suppress(OSError):  # not writable: nor will Python make it
                os.mkdir(cache)


def build(names: Sequence[str]) -> tuple[bytes, int]:
    """The file for ``names``, this interpreter and ``sys.path``: its bytes, and how many modules it holds."""
    packages: dict[str, str | None] = {}
    body, index = bytearray(), {}
    for name in sorted(set(names)):
        located = _locate(name, packages)
        compiled = _compiled(located[0]) if located is not None else None
        if located is None or compiled is None:
            continue
        code, when, size = compiled
        index[name] = (located[0], located[1], when, size, HEAD + len(body), len(code), digest(code))
        body += code
    _make_caches(index)
    # every directory whose listing decides what these imports find: sys.path's, and each package's
    directories = {path: mtime(path) for path in sys.path}
    for origin, *_rest in index.values():
        directories.setdefault(os.path.dirname(origin), mtime(os.path.dirname(origin)))
    for holder in packages.values():
        if holder is not None:
            directories.setdefault(holder, mtime(holder))
    tail = marshal.dumps((key(), tuple(sorted(directories.items())), index))
    where = (HEAD + len(body)).to_bytes(8, "little") + len(tail).to_bytes(8, "little")
    return FORMAT + where + digest(tail) + bytes(body) + tail, len(index)


def write(directory: str | None = None) -> tuple[str, int, int]:
    """Compile the listed modules into ``precompiled/modules.marshal`` in ``directory`` (this package's by
    default): (its path, modules, bytes)."""
    from pathlib import Path

    from aiogen.startup.ahead import write_file

    target = Path(compiled_path(directory))
    if target.parent.is_symlink() or (target.parent.exists() and not target.parent.is_dir()):
        raise OSError(f"{target.parent} is not a directory")
    target.parent.mkdir(exist_ok=True)  # first: its package directory's time is recorded after this
    data, count = build(listed(directory))
    return str(write_file(target, data)), count, len(data)
