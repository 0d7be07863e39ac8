"""The Topology validator built ahead of time (aiogen.model.spec_compiled) is the pydantic models' validator.

Every example, rollover step and valid fixture validates to plain objects equal field by field to the
models' (and resolves to the same Plan, in every phase); thousands of mutated specs are refused with
the very errors pydantic gives; a stale, damaged or missing file is ignored; and a render from a
package with a current file never imports pydantic.
"""

from __future__ import annotations

import ast
import copy
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from aiogen.model import spec, spec_codegen, spec_compiled
from aiogen.model.phases import PHASES
from aiogen.model.problems import AiogenError
from aiogen.model.spec_objects import SpecObject
from aiogen.resolve import resolve, resolve_phase
from aiogen.yamlio.document import Document
from aiogen.yamlio.parse import parse_yaml
from tests import specs
from tests.helpers import EXAMPLES, REPO

MODEL = REPO / "generator" / "aiogen" / "model"
NOW = datetime(2026, 11, 27, tzinfo=UTC)
SPEC_FILES = sorted([*EXAMPLES.glob("*.yaml"), *EXAMPLES.glob("rollover/**/*.yaml"),
                     *(REPO / "tests" / "fixtures").glob("**/*.yaml")])


def _copy_model(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name in spec_compiled.KEYED:
        shutil.copy(MODEL / name, directory / name)
    (directory / spec_compiled.COMPILED_NAME).write_bytes(spec_codegen.build(directory))
    return directory


@pytest.fixture(scope="module")
def fast() -> spec_compiled.CompiledValidator:
    """The validator built from a copy of the spec modules, exactly as the wheel build writes it."""
    import tempfile

    with tempfile.TemporaryDirectory() as temporary:
        compiled = spec_compiled.read(_copy_model(Path(temporary)))
    assert compiled is not None
    return compiled


def _documents() -> Iterator[tuple[str, Document]]:
    for path in SPEC_FILES:
        text = path.read_text(encoding="utf-8")
        if "\nkind: Topology\n" not in text:
            continue  # a conformance fixture: AIO's own objects
        doc = parse_yaml(text, source=str(path), base_dir=path.parent)
        if isinstance(doc.data, dict) and doc.data.get("kind") == "Topology":
            yield str(path.relative_to(REPO)), doc


def _built_specs() -> Iterator[tuple[str, Any]]:
    for name, data in _documents():
        yield name, data.data
    for make in (specs.intermediate_fleet, specs.lab):
        yield f"tests.specs.{make.__name__}", make()


def _is_valid(data: Any) -> bool:
    try:
        spec.Topology.model_validate(data)
    except ValidationError:
        return False
    return True


CORPUS = list(_built_specs())
VALID = [(name, data) for name, data in CORPUS if _is_valid(data)]


def same(model: Any, plain: Any, where: str = "") -> None:
    """``plain`` (from the compiled validator) equals ``model`` (pydantic's) field by field, types included."""
    if isinstance(model, BaseModel):
        assert isinstance(plain, SpecObject), where
        assert type(plain).__name__ == type(model).__name__, where
        assert [c.__name__ for c in type(plain).__mro__[:-2]] == [c.__name__ for c in type(model).__mro__[:-3]]
        assert list(plain.__dict__) == list(model.__dict__) == list(type(model).model_fields), where
        assert plain.model_fields_set == model.model_fields_set, where
        for name, value in model.__dict__.items():
            same(value, plain.__dict__[name], f"{where}.{name}")
    elif isinstance(model, dict):
        assert type(plain) is dict and list(plain) == list(model), where
        for key, value in model.items():
            same(value, plain[key], f"{where}[{key!r}]")
    elif isinstance(model, list):
        assert type(plain) is list and len(plain) == len(model), where
        for index, (a, b) in enumerate(zip(model, plain, strict=True)):
            same(a, b, f"{where}[{index}]")
    else:
        assert type(plain) is type(model) and plain == model, where


def test_the_corpus_is_the_examples_rollovers_and_fixtures() -> None:
    names = {name for name, _ in VALID}
    assert {"examples/fleet.yaml", "examples/rollover/03-switch.yaml", "tests.specs.lab"} <= names
    assert any(name.startswith("tests/fixtures/") for name in names) and len(VALID) >= 25


@pytest.mark.parametrize(("name", "data"), VALID, ids=[name for name, _ in VALID])
def test_every_valid_spec_gives_objects_equal_to_the_models(fast: spec_compiled.CompiledValidator, name: str,
                                                            data: Any) -> None:
    model = spec.Topology.model_validate(data)
    plain = fast.validate(data)
    same(model, plain, name)
    assert repr(plain) == repr(model)
    assert plain == fast.validate(copy.deepcopy(data)) and plain != model  # equal to its own kind only


def _objects(node: Any) -> Iterator[Any]:
    if isinstance(node, BaseModel | SpecObject):
        yield node
        node = node.__dict__
    if isinstance(node, dict):
        for value in node.values():
            yield from _objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value)


def _hash(value: Any) -> int | None:
    try:
        return hash(value)
    except TypeError:
        return None


def test_spec_objects_compare_hash_copy_and_freeze_as_models(fast: spec_compiled.CompiledValidator) -> None:
    for _, data in VALID:
        models, plains = list(_objects(spec.Topology.model_validate(data))), list(_objects(fast.validate(data)))
        assert len(models) == len(plains)
        for model, plain in zip(models, plains, strict=True):
            assert (_hash(model) is None) == (_hash(plain) is None), repr(model)  # hashable exactly when a model is
            twin = copy.deepcopy(plain)
            assert twin == plain and twin is not plain and _hash(twin) == _hash(plain)
            same(model, copy.copy(plain))
            with pytest.raises(AttributeError):
                plain.__setattr__(next(iter(plain.__dict__)), None)
            with pytest.raises(ValidationError):
                model.__setattr__(next(iter(model.__dict__)), None)


def test_model_copy_updates_as_pydantic(fast: spec_compiled.CompiledValidator) -> None:
    data = specs.intermediate_fleet()
    model, plain = spec.Topology.model_validate(data), fast.validate(data)
    update = {"metadata": model.metadata.model_copy(update={"name": "other"})}
    same(model.model_copy(update=update), plain.model_copy(update={"metadata": plain.metadata.model_copy(
        update={"name": "other"})}))
    same(model, plain)  # the originals are untouched


def test_models_with_every_field_defaulted_construct_without_arguments(fast: spec_compiled.CompiledValidator) -> None:
    made = 0
    for name, cls in fast.classes.items():
        try:
            model = getattr(spec, name)()
        except ValidationError:  # a required field, or a rule (a Root needs a source)
            with pytest.raises(TypeError):
                cls()
            continue
        same(model, cls(), name)
        assert cls() is not cls() and cls() == cls()
        made += 1
    assert made >= 15 and set(fast.classes) == {n for n, v in vars(spec).items()
                                                 if isinstance(v, type) and issubclass(v, spec.Model)} - {"Model"}


@pytest.mark.parametrize("current", [True, False])
def test_blank_overrides_are_the_models_defaults(fast: spec_compiled.CompiledValidator, current: bool,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spec_compiled, "load", lambda: fast if current else None)
    for name in ("NamespacesOverride", "IssuerOverride", "LeafOverride"):
        blank = spec_compiled.blank(name)
        assert isinstance(blank, SpecObject) is current and type(blank).__name__ == name
        assert blank.__dict__ == getattr(spec, name)().__dict__ and set(blank.__dict__.values()) == {None}


@pytest.mark.parametrize(("name", "doc"), list(_documents()), ids=[name for name, _ in _documents()])
def test_both_resolve_to_the_same_plan_in_every_phase(fast: spec_compiled.CompiledValidator, name: str,
                                                      doc: Document) -> None:
    if not _is_valid(doc.data):
        pytest.skip("refused by the schema")
    model, plain = spec.Topology.model_validate(doc.data), fast.validate(doc.data)
    assert _outcome(lambda t: resolve(t, doc, now=NOW), model) == _outcome(lambda t: resolve(t, doc, now=NOW), plain)
    for rotation in model.spec.rotations:
        for phase in PHASES:
            started = {p: date(2026, 1, 1 + i) for i, p in enumerate(PHASES[: PHASES.index(phase) + 1])}

            def at_phase(topology: Any, rotation: str = rotation.name, phase: Any = phase,
                         started: Any = started) -> Any:
                return resolve_phase(topology, doc, rotation, phase, started, now=NOW, allow_outside_files=False)

            assert _outcome(at_phase, model) == _outcome(at_phase, plain)


def _outcome(run: Any, topology: Any) -> Any:
    try:
        return run(topology)
    except AiogenError as error:
        return error.problems


# -- refused specs: the same errors ---------------------------------------------------------------

REPLACEMENTS: list[Any] = [None, True, 0, 8883, 70000, 1.5, "", "x", "720h", "30x", "2026-01-01", "2026-13-01",
                           date(2026, 1, 1), [], ["x"], [{}], {}, {"bogusField": 1}, {"certificate": {"file": "a"}},
                           {"selfSigned": {"commonName": "r"}, "secret": {"name": "s"}}]


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*path, key)
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield (*path, index)
            yield from _paths(value, (*path, index))


def _mutants(data: Any) -> Iterator[Any]:
    """Each value replaced by each of REPLACEMENTS, each key deleted, an unknown key added to each mapping."""
    for path in _paths(data):
        for replacement in (*REPLACEMENTS, _DELETE):
            mutant = copy.deepcopy(data)
            parent = mutant
            for part in path[:-1]:
                parent = parent[part]
            if replacement is _DELETE:
                del parent[path[-1]]
            else:
                parent[path[-1]] = copy.deepcopy(replacement)
            yield mutant
        mutant = copy.deepcopy(data)
        parent = mutant
        for part in path[:-1]:
            parent = parent[part]
        if isinstance(parent, dict):
            parent["unknownField"] = 1
            yield mutant


_DELETE = object()
BASES = ["examples/fleet.yaml", "examples/lab-intermediate.yaml", "examples/single-root-keyvault.yaml",
         "examples/rollover/03-switch.yaml", "tests.specs.intermediate_fleet"]


def _errors(error: ValidationError) -> list[tuple[Any, ...]]:
    return [(e["type"], e["loc"], e["msg"], repr(e["input"]), repr(e.get("ctx"))) for e in error.errors(include_url=False)]


@pytest.mark.parametrize("base", BASES)
def test_mutated_specs_are_refused_with_the_models_errors(fast: spec_compiled.CompiledValidator, base: str) -> None:
    (data,) = [d for name, d in VALID if name == base]
    refused = accepted = 0
    for mutant in _mutants(data):
        try:
            model = spec.Topology.model_validate(mutant)
        except ValidationError as error:
            with pytest.raises(fast.error) as caught:
                fast.validate(mutant)
            assert isinstance(caught.value, ValidationError) and _errors(caught.value) == _errors(error)
            refused += 1
        else:
            same(model, fast.validate(mutant))
            accepted += 1
    assert refused > 300 and accepted > 50


@pytest.mark.parametrize("base", BASES[:2])
def test_refused_specs_report_the_same_problems(fast: spec_compiled.CompiledValidator, base: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from aiogen.yamlio.validate import validate_topology

    path = REPO / base
    text = path.read_text(encoding="utf-8")
    doc = parse_yaml(text, source=base, base_dir=path.parent)
    outcomes = []
    for compiled in (fast, None):
        monkeypatch.setattr(spec_compiled, "load", lambda compiled=compiled: compiled)
        found = []
        for mutant in list(_mutants(doc.data))[::7]:
            try:
                validate_topology(Document(mutant, doc.source, doc.base_dir, doc.text))
            except AiogenError as error:
                found.append((error.problems, error.exit_code))
            else:
                found.append(None)
        outcomes.append(found)
    assert outcomes[0] == outcomes[1] and sum(1 for o in outcomes[0] if o) > 40


# -- stale, damaged or missing: ignored ------------------------------------------------------------

def test_a_changed_module_or_key_makes_the_file_stale(tmp_path: Path) -> None:
    directory = _copy_model(tmp_path / "model")
    target = directory / spec_compiled.COMPILED_NAME
    data = target.read_bytes()
    assert spec_compiled.read(directory) is not None
    key, _, payload = data.partition(b"\n")
    target.write_bytes(key[:-1] + (b"1" if key.endswith(b"0") else b"0") + b"\n" + payload)
    assert spec_compiled.read(directory) is None
    target.write_bytes(data)
    for name in spec_compiled.KEYED:
        source = (directory / name).read_bytes()
        (directory / name).write_bytes(source + b"\n# edited\n")
        assert spec_compiled.read(directory) is None, name
        (directory / name).write_bytes(source)
    assert spec_compiled.read(directory) is not None


def test_another_python_pydantic_or_pydantic_core_makes_it_stale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pydantic_core

    directory = _copy_model(tmp_path / "model")
    for target, name, value in ((spec_compiled, "bytecode_magic", lambda: b"\x00\x00\r\n"),
                                (spec_compiled, "_pydantic_version_source", lambda: b"VERSION = '2.0.0'\n"),
                                (pydantic_core._pydantic_core, "__version__", "2.0.0")):
        with monkeypatch.context() as patch:
            patch.setattr(target, name, value)
            assert spec_compiled.read(directory) is None, name
    assert spec_compiled.read(directory) is not None


@pytest.mark.parametrize("damage", ["empty", "garbage", "key only", "binary", "truncated", "not code", "missing"])
def test_a_damaged_or_missing_file_is_ignored(tmp_path: Path, damage: str) -> None:
    import marshal

    directory = _copy_model(tmp_path / "model")
    target = directory / spec_compiled.COMPILED_NAME
    data = target.read_bytes()
    key = data.partition(b"\n")[0]
    damaged = {"empty": b"", "garbage": b"garbage", "key only": key, "binary": b"\n\x00\x01",
               "truncated": data[: len(data) // 2], "not code": key + b"\n" + marshal.dumps({"SCHEMA": {}}),
               "missing": None}[damage]
    if damaged is None:
        target.unlink()
    else:
        target.write_bytes(damaged)
    assert spec_compiled.read(directory) is None


# -- a fresh process -------------------------------------------------------------------------------

RUN = ("import sys; sys.path.insert(0, sys.argv[1]); from aiogen.cli.app import main; code = main(sys.argv[2:]); "
       "print('MODULES', sorted(m for m in sys.modules if m.partition('.')[0] in ('pydantic', 'pydantic_core')), "
       "file=sys.stderr); sys.exit(code)")


def _package(tmp_path: Path, name: str, *, compiled: bool) -> Path:
    """aiogen copied to ``tmp_path/name/aiogen``, with a current spec validator file or none."""
    root = tmp_path / name
    shutil.copytree(REPO / "generator" / "aiogen", root / "aiogen",
                    ignore=shutil.ignore_patterns("__pycache__", spec_compiled.COMPILED_NAME))
    if compiled:
        model = root / "aiogen" / "model"
        (model / spec_compiled.COMPILED_NAME).write_bytes(spec_codegen.build(model))
    return root


def _run(root: Path, *argv: str | Path, cwd: Path = EXAMPLES) -> tuple[int, str, str, list[str]]:
    run = subprocess.run([sys.executable, "-c", RUN, str(root), *map(str, argv)], capture_output=True, text=True,
                         cwd=cwd, timeout=120, env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"})
    err, _, modules = run.stderr.rpartition("MODULES ")
    return run.returncode, run.stdout, err, ast.literal_eval(modules)


def _listing(root: Path) -> list[tuple[str, bytes]]:
    return sorted((str(p.relative_to(root)), p.read_bytes()) for p in root.rglob("*") if p.is_file())


def test_a_current_file_renders_and_validates_without_importing_pydantic(tmp_path: Path) -> None:
    current, plain = _package(tmp_path, "current", compiled=True), _package(tmp_path, "plain", compiled=False)
    before = _listing(current)
    for argv in (["render", "fleet.yaml", "-o", "-", "--now", "2026-11-27"], ["validate", "fleet.yaml"],
                 ["render", "rollover/03-switch.yaml", "-o", "-", "--now", "2026-11-27"]):
        code, out, err, modules = _run(current, *argv)
        assert modules == ["pydantic_core._pydantic_core"], argv  # pydantic-core's extension, nothing else
        assert (code, out, err) == _run(plain, *argv)[:3] and code == 0 and out, argv
        assert "pydantic" in _run(plain, *argv)[3]  # without the file: the models validate
    assert _listing(current) == before  # nothing written at run time


def test_a_stale_file_is_ignored_and_the_output_is_the_same(tmp_path: Path) -> None:
    stale, plain = _package(tmp_path, "stale", compiled=True), _package(tmp_path, "plain", compiled=False)
    with (stale / "aiogen" / "model" / "spec.py").open("a", encoding="utf-8") as source:
        source.write("\n# edited after the build\n")
    argv = ["render", "fleet.yaml", "-o", "-", "--now", "2026-11-27"]
    code, out, err, modules = _run(stale, *argv)
    assert "pydantic" in modules and (code, out, err) == _run(plain, *argv)[:3] and code == 0


BAD = {
    "unknown field": "  clusters: [{name: lab-1, pki: {mode: single-root, root: r}, bogus: 1}]\n",
    "bad duration": "  defaults: {leaf: {duration: 30x}}\n  clusters: [{name: lab-1, pki: {mode: single-root, root: r}}]\n",
    "two sources": "  roots: {r: {selfSigned: {commonName: r}, secret: {name: s}}}\n"
                   "  clusters: [{name: lab-1, pki: {mode: single-root, root: r}}]\n",
    "wrong types": "  clusters: [{name: 7, pki: {mode: triple, root: [x]}, broker: {listeners: [{name: l, serviceType: "
                   "NodePort, ports: [{port: '8883', authentication: x509}]}]}}]\n",
    "no clusters": "  clusters: []\n  rotations: [{name: r, kind: serverRoot, phase: prepare, started: {prepare: 2026-13-01}}]\n",
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_refused_spec_prints_the_same_problems_and_exit_code(tmp_path: Path, case: str) -> None:
    current, plain = _package(tmp_path, "current", compiled=True), _package(tmp_path, "plain", compiled=False)
    (tmp_path / "bad.yaml").write_text("apiVersion: aiogen.io/v1alpha1\nkind: Topology\nmetadata: {name: t}\nspec:\n"
                                       + BAD[case], encoding="utf-8")
    for argv in (["validate", "bad.yaml"], ["render", "bad.yaml", "-o", "-"], ["validate", "bad.yaml",
                                                                                "--format", "json"]):
        code, out, err, _ = _run(current, *argv, cwd=tmp_path)
        assert (code, out, err) == _run(plain, *argv, cwd=tmp_path)[:3] and code == 1 and "bad.yaml:" in err + out


PROBE = """
import importlib.machinery, sys
sys.path.insert(0, sys.argv[1])
if sys.argv[2] == "hidden":  # the extension is not where the package directory says: the ordinary import
    importlib.machinery.EXTENSION_SUFFIXES[:] = [".nowhere"]
from aiogen.model import spec_compiled
assert spec_compiled.load() is not None
core = sys.modules["pydantic_core._pydantic_core"]
print("package first" if "pydantic_core" in sys.modules else "extension alone")
import pydantic_core
assert pydantic_core.SchemaValidator is core.SchemaValidator and pydantic_core.ValidationError is core.ValidationError
from aiogen.model import spec
assert pydantic_core._pydantic_core is core and spec.Topology.model_validate(
    {"apiVersion": "aiogen.io/v1alpha1", "kind": "Topology", "metadata": {"name": "t"},
     "spec": {"clusters": [{"name": "c", "pki": {"mode": "single-root", "root": "r"}}]}}).kind == "Topology"
"""


@pytest.mark.parametrize(("where", "seen"), [("found", "extension alone"), ("hidden", "package first")])
def test_pydantic_core_is_one_module_however_it_was_loaded(tmp_path: Path, where: str, seen: str) -> None:
    root = _package(tmp_path, "current", compiled=True)
    run = subprocess.run([sys.executable, "-c", PROBE, str(root), where], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == seen
