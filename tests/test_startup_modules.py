"""aiogen.startup.modules: the code `aiogen precompile` compiles into one file, used only while it describes
the environment; anything changed, added, damaged or strange leaves every import to Python's own machinery.

Each case runs in a fresh interpreter (the finder goes on ``sys.meta_path``) over a small library of its
own: a package, a module in it, a top-level module importing that one, and a standard-library module.
"""

from __future__ import annotations

import json
import marshal
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from aiogen.cli.app import main
from aiogen.startup import modules, modules_collect, modules_write
from tests.helpers import EXAMPLES

COLLECT = "python -m aiogen.startup.modules --collect"
LISTED = ["pkgx", "pkgx.mod", "topmod", "email", "email.errors", "not.installed", "_weakref"]

# run in the library's directory with it first on sys.path; argv[1] is where the bundle and its list are
_PRELUDE = ("import json, sys\nsys.path.insert(0, {lib!r})\nfrom aiogen.startup import modules, modules_write\n"
            "here = sys.argv[1]\n")
_IMPORT = """\
ok = modules.install(here)
import inspect, topmod, pkgx.mod, email.errors
loaders = {name: type(sys.modules[name].__spec__.loader).__name__ for name in ("pkgx", "pkgx.mod", "topmod", "email")}
print(json.dumps({"installed": ok, "loaders": loaders, "value": topmod.VALUE, "file": pkgx.mod.__file__,
                  "cached": pkgx.mod.__cached__, "path": list(pkgx.__path__), "source": inspect.getsource(pkgx.mod),
                  "errors": issubclass(email.errors.HeaderParseError, email.errors.MessageError)}))
"""


def _fresh(tmp: Path, code: str, *flags: str) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    done = subprocess.run([sys.executable, *flags, "-c", _PRELUDE.format(lib=str(tmp / "lib")) + code,
                           str(tmp / "state")], capture_output=True, text=True, cwd=tmp, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """The library, its list, and the bundle written for it (as `aiogen precompile` writes one)."""
    package = tmp_path / "lib" / "pkgx"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("NAME = 'pkgx'\n")
    (package / "mod.py").write_text("VALUE = 1\n")
    (tmp_path / "lib" / "topmod.py").write_text("import pkgx.mod\nVALUE = pkgx.mod.VALUE + 1\n")
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / modules.LIST_NAME).write_text(json.dumps(LISTED))
    written = _fresh(tmp_path, "print(json.dumps(modules_write.write(here)))")
    assert written == [str(tmp_path / "state" / modules.COMPILED_NAME), 5, _bundle(tmp_path).stat().st_size]
    return tmp_path


def _bundle(library: Path) -> Path:
    return library / "state" / modules.COMPILED_NAME


def test_the_listed_modules_come_from_the_file_with_pythons_own_attributes(library: Path) -> None:
    seen = _fresh(library, _IMPORT)
    assert seen["installed"] is True
    assert seen["loaders"] == {"pkgx": "Loader", "pkgx.mod": "Loader", "topmod": "Loader", "email": "Loader"}
    assert seen["value"] == 2 and seen["errors"] is True
    mod = library / "lib" / "pkgx" / "mod.py"
    assert seen["file"] == str(mod) and seen["path"] == [str(mod.parent)]
    assert seen["cached"] == str(mod.parent / "__pycache__" / f"mod.{sys.implementation.cache_tag}.pyc")
    assert seen["source"] == "VALUE = 1\n"  # Python's source loader still answers for the source
    assert modules.load(str(library / "state")) is None  # this process has another sys.path: not for it
    assert _fresh(library, "print(json.dumps(modules.current(here)))") is True


def test_the_file_holds_the_found_sources_only(library: Path) -> None:
    """Not the module that is not installed, not the built-in one; each at its source file."""
    index = _fresh(library, "b = modules.load(here)\nprint(json.dumps({n: e[0] for n, e in b.index.items()}))")
    assert sorted(index) == ["email", "email.errors", "pkgx", "pkgx.mod", "topmod"]
    assert all(str(origin).endswith(".py") for origin in index.values())


def test_a_changed_source_is_imported_from_itself(library: Path) -> None:
    (library / "lib" / "pkgx" / "mod.py").write_text("VALUE = 41\n")  # in place: its directory is unchanged
    seen = _fresh(library, _IMPORT)
    assert seen["installed"] is True and seen["value"] == 42 and seen["source"] == "VALUE = 41\n"
    assert seen["loaders"] == {"pkgx": "Loader", "pkgx.mod": "SourceFileLoader", "topmod": "Loader", "email": "Loader"}


def test_a_same_size_edit_is_seen_by_its_time(library: Path) -> None:
    mod = library / "lib" / "pkgx" / "mod.py"
    before = mod.stat()
    mod.write_text("VALUE = 7\n")
    os.utime(mod, ns=(before.st_atime_ns, before.st_mtime_ns + 1))  # a nanosecond later, the same size
    assert _fresh(library, _IMPORT)["value"] == 8


@pytest.mark.parametrize("added", ["lib/pkgx/other.py", "lib/shadow.py"])
def test_a_file_added_where_imports_look_leaves_the_file_unused(library: Path, added: str) -> None:
    (library / added).write_bytes(b"")
    seen = _fresh(library, _IMPORT)
    assert seen["installed"] is False and seen["value"] == 2
    assert set(seen["loaders"].values()) == {"SourceFileLoader"}  # type: ignore[union-attr]


@pytest.mark.parametrize("flags", [("-O",), ("-X", "importtime"), ("-I",)])
def test_another_interpreter_setup_leaves_it_unused_when_it_matters(library: Path, flags: tuple[str, ...]) -> None:
    """-O compiles other code and -I drops the library's path: not used. -X importtime changes neither."""
    seen = _fresh(library, "print(json.dumps(modules.install(here)))", *flags)
    assert seen is (flags == ("-X", "importtime"))


def test_another_sys_path_leaves_it_unused(library: Path) -> None:
    assert _fresh(library, "sys.path.append('/nonexistent')\nprint(json.dumps(modules.install(here)))") is False


def _parts(bundle: Path) -> tuple[bytes, int, tuple[object, object, dict[str, tuple[object, ...]]]]:
    data = bundle.read_bytes()
    where = int.from_bytes(data[len(modules.FORMAT):len(modules.FORMAT) + 8], "little")
    return data, where, marshal.loads(data[where:])


def _rewrite(bundle: Path, body: bytes, tail: object) -> None:
    """The file with ``body`` and the index ``tail``, its header (offsets, digest) consistent: only what the
    index says is wrong."""
    index = marshal.dumps(tail)
    bundle.unlink()
    bundle.write_bytes(modules.FORMAT + (modules.HEAD + len(body)).to_bytes(8, "little")
                       + len(index).to_bytes(8, "little") + modules.digest(index) + body + index)


def _damage(bundle: Path, how: str) -> None:
    data, where, (key, directories, index) = _parts(bundle)
    body = data[modules.HEAD:where]
    if how == "an index pointing outside":
        _rewrite(bundle, body, (key, directories, {n: (*e[:4], len(data) * 2, *e[5:]) for n, e in index.items()}))
        return
    if how == "an index of another shape":
        _rewrite(bundle, body, (key, directories, {n: e[:6] for n, e in index.items()}))
        return
    bundle.unlink()
    if how == "truncated":
        bundle.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        bundle.write_bytes(b"")
    elif how == "garbage":
        bundle.write_bytes(os.urandom(4096))
    elif how == "a byte flipped in the index":  # its tuple sizes could otherwise ask marshal for gigabytes
        bundle.write_bytes(data[:where + 40] + bytes([data[where + 40] ^ 0x41]) + data[where + 41:])
    elif how == "a symlink to it":
        real = bundle.with_name("real.marshal")
        real.write_bytes(data)
        bundle.symlink_to(real)
    elif how == "a fifo":
        os.mkfifo(bundle)
    elif how == "a directory":
        bundle.mkdir()


@pytest.mark.parametrize("how", ["truncated", "empty", "garbage", "a byte flipped in the index",
                                 "an index pointing outside", "an index of another shape", "a symlink to it",
                                 "a fifo", "a directory"])
def test_a_damaged_or_strange_file_is_ignored_without_hanging(library: Path, how: str) -> None:
    _damage(_bundle(library), how)
    seen = _fresh(library, _IMPORT)
    assert seen["installed"] is False and seen["value"] == 2 and seen["errors"] is True
    assert _fresh(library, "print(json.dumps(modules.current(here)))") is False


def test_a_damaged_module_is_compiled_from_its_source_the_others_come_from_the_file(library: Path) -> None:
    """Any byte of a module's code changed: its checksum says so, and the source is imported as usual."""
    bundle = _bundle(library)
    data, _where, (_key, _directories, index) = _parts(bundle)
    origin, offset, length = index["pkgx.mod"][0], index["pkgx.mod"][4], index["pkgx.mod"][5]
    # code that marshal reads, of this very file, the same length: only the checksum tells
    other = marshal.dumps(compile("VALUE = 9\n", str(origin), "exec", dont_inherit=True))
    assert len(other) == length
    bundle.unlink()
    bundle.write_bytes(data[:offset] + other + data[offset + length:])
    assert _fresh(library, _IMPORT)["value"] == 2
    for position in (offset, offset + length // 2, offset + length - 1):
        damaged = data[:position] + bytes([data[position] ^ 0x08]) + data[position + 1:]
        bundle.unlink()
        bundle.write_bytes(damaged)
        seen = _fresh(library, _IMPORT)
        assert seen["installed"] is True and seen["value"] == 2 and seen["source"] == "VALUE = 1\n"
        assert _fresh(library, "print(json.dumps(modules.current(here)))") is False  # --check: stale


def test_a_file_rewritten_while_in_use_is_replaced_not_changed_under_the_process(library: Path) -> None:
    """`aiogen precompile` in another process while a command runs: a new file is renamed over the old one,
    which the running command keeps reading (mapped) as it was."""
    bundle = _bundle(library)
    inode = bundle.stat().st_ino
    code = ("ok = modules.install(here)\nimport os\n"
            "modules_write.write(here)\n"
            "import topmod\nprint(json.dumps([ok, topmod.VALUE, type(topmod.__spec__.loader).__name__]))\n")
    assert _fresh(library, code) == [True, 2, "Loader"]
    assert bundle.stat().st_ino != inode and not list(bundle.parent.glob(".*.tmp"))


def test_an_import_hook_that_answers_for_a_module_keeps_it(library: Path) -> None:
    """A hook (a .pth file's, sitecustomize's) before Python's path finder: its module is not in the file, and
    the hooks are in the key (without it, the file is not used)."""
    hook = ("import importlib.util\nclass Hook:\n    def find_spec(self, name, path=None, target=None):\n"
            "        if name != 'topmod':\n            return None\n"
            "        return importlib.util.spec_from_loader(name, self)\n"
            "    def create_module(self, spec):\n        return None\n"
            "    def exec_module(self, module):\n        module.VALUE = 'from the hook'\n"
            "sys.meta_path.insert(0, Hook())\n")
    _fresh(library, hook + "print(json.dumps(modules_write.write(here)))")
    index = _fresh(library, hook + "b = modules.load(here)\nprint(json.dumps(sorted(b.index)))")
    assert "topmod" not in index and "pkgx.mod" in index  # type: ignore[operator]
    seen = _fresh(library, hook + _IMPORT)
    assert seen["installed"] is True and seen["value"] == "from the hook"
    assert seen["loaders"]["pkgx.mod"] == "Loader"  # type: ignore[index]
    assert _fresh(library, _IMPORT)["installed"] is False  # made with the hook: not for a process without it


def test_a_changed_sys_path_or_invalidated_caches_hand_imports_back(library: Path) -> None:
    other = library / "other"
    other.mkdir()
    (other / "topmod.py").write_text("VALUE = 'other'\n")
    moved = (f"ok = modules.install(here)\nsys.path.insert(0, {str(other)!r})\nimport topmod\n"
             "print(json.dumps([ok, topmod.VALUE]))\n")
    assert _fresh(library, moved) == [True, "other"]
    # a package made beside pkgx/mod.py once the file is in use, which an import then prefers to the module
    invalidated = ("ok = modules.install(here)\nimport importlib, os\n"
                   f"os.mkdir({str(library / 'lib' / 'pkgx' / 'mod')!r})\n"
                   f"open({str(library / 'lib' / 'pkgx' / 'mod' / '__init__.py')!r}, 'w').write('VALUE = 10')\n"
                   "importlib.invalidate_caches()\n"
                   "import topmod\nprint(json.dumps([ok, topmod.VALUE]))\n")
    assert _fresh(library, invalidated) == [True, 11]


def test_a_loader_asked_again_after_an_edit_compiles_the_edit(library: Path) -> None:
    code = ("modules.install(here)\nimport pkgx.mod\n"
            "open(pkgx.mod.__file__, 'w').write('VALUE = 5\\n')\n"
            "namespace = {}\nexec(pkgx.mod.__loader__.get_code('pkgx.mod'), namespace)\n"
            "print(json.dumps([pkgx.mod.VALUE, namespace['VALUE']]))\n")
    assert _fresh(library, code) == [1, 5]


def _listing(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.lstat().st_mtime_ns for p in sorted(root.rglob("*"))}


def test_nothing_is_written_when_imports_come_from_the_file(library: Path) -> None:
    before = _listing(library)
    assert _fresh(library, _IMPORT)["installed"] is True
    assert _listing(library) == before  # no .pyc written for a module the file served


def test_writing_refuses_a_linked_directory_and_the_command_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / modules.LIST_NAME).write_text(json.dumps(["json"]))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "precompiled").symlink_to(elsewhere)
    with pytest.raises(OSError, match="not a directory"):
        modules_write.write(str(tmp_path))
    assert list(elsewhere.iterdir()) == []
    monkeypatch.setattr(modules, "HERE", str(tmp_path))
    assert main(["precompile"]) == 1  # pytest's process: not the console script's import path
    assert "for the `aiogen` console script" in capsys.readouterr().err
    monkeypatch.setattr(modules, "started_as_console", lambda: True)
    assert main(["precompile"]) == 1
    err = capsys.readouterr().err
    assert "cannot write" in err and "precompile" in err and "Traceback" not in err
    assert main(["precompile", "--check"]) == 3
    assert "missing or stale" in capsys.readouterr().err


def test_the_command_writes_a_current_file_and_check_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """In this process (pytest's sys.path): written, then current, then stale once a listed source changes."""
    package = tmp_path / "lib" / "pkgy"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path / "lib"))
    (tmp_path / modules.LIST_NAME).write_text(json.dumps(["pkgy"]))
    monkeypatch.setattr(modules, "HERE", str(tmp_path))
    monkeypatch.setattr(modules, "started_as_console", lambda: True)
    assert main(["precompile"]) == 0
    assert "1 modules compiled into" in capsys.readouterr().out
    assert main(["precompile", "--check"]) == 0
    (package / "__init__.py").write_text("X = 22\n")
    assert main(["precompile", "--check"]) == 3


def test_the_listing_holds_every_module_aiogen_imports_cold(tmp_path: Path) -> None:
    """``render`` (to stdout and a directory), ``validate`` and the KRM function over an example spec."""
    import shutil

    shutil.copy(EXAMPLES / "fleet.yaml", tmp_path)
    shutil.copytree(EXAMPLES / "pki", tmp_path / "pki")
    imported = modules_collect.collect(tmp_path)
    listed = set(modules_write.listed())
    assert len(imported) > 100 and "yaml" in imported and "aiogen.krm.function" in imported
    missing = [name for name in imported if name not in listed]
    assert [name for name in missing if name.split(".")[0] == "aiogen"] == [], f"run `{COLLECT}`"
    if missing:  # another version of a library imports other modules: slower here, not wrong
        warnings.warn(f"modules imported cold but not in modules.json (library versions differ? `{COLLECT}`): "
                      f"{missing}", stacklevel=1)
