"""Is there a Topology validator built ahead of time, current for this aiogen and this pydantic? Load it.

pydantic defines and validates the spec (`aiogen.model.spec`), but importing pydantic and building
its ~40 models costs more than the rest of a cold render. So the wheel build (or, in a development
checkout, `python -m aiogen.model.spec_codegen`) asks pydantic for the Topology's core schema and
writes it, as code, to ``spec_compiled.marshal`` beside the models (`aiogen.model.spec_codegen`).
At run time pydantic-core's validator is built from it directly: the same checks
(`aiogen.model.spec_checks`) producing plain spec objects (`aiogen.model.spec_objects`) equal to
the models' field by field; the `pydantic` package is not imported.

The file is code, never output, and it is used only while current. Its first line is a key over
the Python bytecode version, pydantic's and pydantic-core's versions, and the bytes of every module
the schema is made from; a file whose key differs, or that is missing or unreadable, is ignored and
the pydantic models validate (the same result, slower). Nothing is written at run time.
"""

from __future__ import annotations

import marshal
import sys
from datetime import date, timedelta
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any

from aiogen.startup.ahead import blake2b, bytecode_magic

COMPILED_NAME = "spec_compiled.marshal"
HERE = Path(__file__).parent
# the modules the schema is made from, or that make it (a change to any: the file is stale)
KEYED = ("spec.py", "spec_checks.py", "spec_objects.py", "spec_codegen.py", "spec_compiled.py", "phases.py")
_CORE = "pydantic_core._pydantic_core"


class CompiledValidator:
    """The Topology validator built from the file, its plain classes, and the error it raises."""

    __slots__ = ("classes", "error", "validator")

    def __init__(self, validator: Any, classes: dict[str, type], error: type[Exception]) -> None:
        self.validator = validator
        self.classes = classes
        self.error = error  # pydantic-core's ValidationError

    def validate(self, data: Any) -> Any:
        """The plain Topology of ``data``, or `error` when it is not valid."""
        return self.validator.validate_python(data)


def pydantic_core() -> ModuleType | None:
    """pydantic-core's extension module, loaded without the `pydantic_core` package's own imports.

    Registered under its own name, so a later ``import pydantic_core`` (a spec with errors, `aiogen
    schema`) uses this very module. Where the file is not found, the ordinary import; None if that fails.
    """
    loaded = sys.modules.get(_CORE)
    if loaded is not None:
        return loaded
    from importlib.machinery import EXTENSION_SUFFIXES, ExtensionFileLoader, ModuleSpec, PathFinder

    found = None if "pydantic_core" in sys.modules else PathFinder.find_spec("pydantic_core")
    for location in (found and found.submodule_search_locations) or ():
        for suffix in EXTENSION_SUFFIXES:
            path = Path(location, f"_pydantic_core{suffix}")
            if path.is_file():
                return _load_extension(ModuleSpec(_CORE, ExtensionFileLoader(_CORE, str(path)), origin=str(path)))
    try:
        import pydantic_core._pydantic_core as core
    except ImportError:
        return None
    return core


def _load_extension(spec: Any) -> ModuleType | None:
    from importlib.util import module_from_spec

    try:
        module = module_from_spec(spec)
        sys.modules[_CORE] = module
        spec.loader.exec_module(module)
    except Exception:  # an unloadable extension: the pydantic models validate instead
        sys.modules.pop(_CORE, None)
        return None
    return module


def _pydantic_version_source() -> bytes:
    """pydantic's ``version.py`` (its version and the pydantic-core it needs), read, not imported."""
    from importlib.machinery import PathFinder

    found = PathFinder.find_spec("pydantic")
    locations = (found and found.submodule_search_locations) or ()
    for location in locations:
        try:
            return Path(location, "version.py").read_bytes()
        except OSError:
            continue
    raise OSError("pydantic's version.py not found")


def compiled_key(directory: Path, core: ModuleType | None = None) -> str:
    """The key of the file for the modules in ``directory`` and the installed pydantic (OSError: none)."""
    core = core or pydantic_core()
    if core is None:
        raise OSError("pydantic-core cannot be loaded")
    digest = blake2b(32)
    parts = [bytecode_magic(), sys.implementation.cache_tag.encode(), _pydantic_version_source(),
             core.__version__.encode()]
    for name in KEYED:
        parts += [name.encode(), (directory / name).read_bytes()]
    for part in parts:
        digest.update(len(part).to_bytes(8, "big") + part)
    key: str = digest.hexdigest()
    return key


_loaded: dict[Path, CompiledValidator | None] = {}


def load(directory: Path = HERE) -> CompiledValidator | None:
    """The validator of ``directory``'s file when it is current, else None (once per process)."""
    if directory not in _loaded:
        _loaded[directory] = read(directory)
    return _loaded[directory]


def read(directory: Path) -> CompiledValidator | None:
    """The validator of ``directory``'s file when it is current, else None (read now, uncached)."""
    try:
        data = (directory / COMPILED_NAME).read_bytes()
    except OSError:
        return None
    core = pydantic_core()
    if core is None:
        return None
    key, sep, payload = data.partition(b"\n")
    try:
        if not sep or key.decode("ascii") != compiled_key(directory, core):
            return None
        code = marshal.loads(payload)
    except (OSError, ValueError, EOFError, TypeError, UnicodeDecodeError):
        return None
    if not isinstance(code, CodeType):
        return None
    from aiogen.model import spec_checks
    from aiogen.model.spec_objects import instance, model_class

    namespace: dict[str, Any] = {"model_class": model_class, "instance": instance, "checks": spec_checks,
                                 "timedelta": timedelta, "date": date}
    try:
        exec(code, namespace)
        validator = core.SchemaValidator(namespace["SCHEMA"], namespace["CONFIG"])
    except Exception:  # a current key over a file that does not build (damaged): the models validate
        return None
    return CompiledValidator(validator, namespace["CLASSES"], core.ValidationError)


def blank(name: str) -> Any:
    """``spec.<name>()`` (a model whose every field has a default), without importing pydantic when
    the compiled validator is current."""
    compiled = load()
    if compiled is not None:
        return compiled.classes[name]()
    from aiogen.model import spec

    return getattr(spec, name)()
