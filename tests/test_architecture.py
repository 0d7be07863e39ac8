"""The layout docs/architecture.md draws holds (issue 10): spec YAML → Topology → Plan → render → output.

Read with `ast`, never imported: which package may import which, where files are written, and the
size limits (no module over 500 lines, no function over 80). A failure names the module and what it
imports or does; fix the layering, or, where the import is right, the rule here and the doc.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import REPO

PACKAGE = REPO / "generator" / "aiogen"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def _name(path: Path) -> str:
    """``generator/aiogen/rollout/check.py`` → ``aiogen.rollout.check``."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every aiogen module or name ``path`` imports, at the top or inside a function (``from a import b`` → ``a.b``)."""
    found: set[str] = set()
    package = _name(path) if path.name == "__init__.py" else _name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "aiogen" or name.startswith("aiogen.")}


IMPORTS = {_name(path): _imports(path) for path in MODULES}


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(f"{p}.") for p in prefixes)


def _importers(target: str) -> set[str]:
    return {module for module, names in IMPORTS.items() if any(_within(n, (target,)) for n in names)}


# -- the Topology stops at the Plan ---------------------------------------------------------------

# The Topology (model.spec) is read by the loader and the resolver; everything after reads the Plan.
SPEC_READERS = ("aiogen.model", "aiogen.yamlio.validate", "aiogen.resolve", "aiogen.pipeline",
                "aiogen.cli.commands.schema")  # `aiogen schema` prints the Topology's JSON Schema


def test_only_the_loader_and_the_resolver_see_the_topology() -> None:
    assert sorted(m for m in _importers("aiogen.model.spec") if not _within(m, SPEC_READERS)) == []


def test_only_the_pipeline_resolves_and_validates() -> None:
    assert sorted(m for m in _importers("aiogen.resolve") if not _within(m, ("aiogen.resolve", "aiogen.pipeline"))) == []
    assert sorted(m for m in _importers("aiogen.yamlio.validate")
                  if not _within(m, ("aiogen.yamlio", "aiogen.pipeline"))) == []


# -- which package may import which ---------------------------------------------------------------

FORBIDDEN: dict[str, tuple[str, ...]] = {
    # the model is the bottom: only the Plan's view of a certificate (pki.pem.CertSummary) comes from elsewhere
    "aiogen.model": ("aiogen.yamlio", "aiogen.resolve", "aiogen.render", "aiogen.output", "aiogen.rollout",
                     "aiogen.simulate", "aiogen.krm", "aiogen.cli", "aiogen.pipeline", "aiogen.pki.authority",
                     "aiogen.pki.offline", "aiogen.pki.lint", "aiogen.pki.judge"),
    "aiogen.yamlio": ("aiogen.resolve", "aiogen.render", "aiogen.rollout", "aiogen.simulate", "aiogen.krm",
                      "aiogen.cli", "aiogen.pipeline", "aiogen.model.plan"),
    "aiogen.resolve": ("aiogen.render", "aiogen.output", "aiogen.rollout", "aiogen.simulate", "aiogen.krm",
                       "aiogen.cli", "aiogen.pipeline"),
    # render reads the Plan only
    "aiogen.render": ("aiogen.model.spec", "aiogen.yamlio", "aiogen.resolve", "aiogen.output", "aiogen.rollout",
                      "aiogen.simulate", "aiogen.krm", "aiogen.cli", "aiogen.pipeline", "aiogen.pki"),
    "aiogen.output": ("aiogen.model.spec", "aiogen.resolve", "aiogen.rollout", "aiogen.simulate", "aiogen.krm",
                      "aiogen.cli", "aiogen.pipeline"),
    "aiogen.rollout": ("aiogen.model.spec", "aiogen.resolve", "aiogen.yamlio.validate", "aiogen.render",
                       "aiogen.simulate", "aiogen.krm", "aiogen.cli"),
    "aiogen.simulate": ("aiogen.model.spec", "aiogen.resolve", "aiogen.yamlio", "aiogen.render", "aiogen.krm",
                        "aiogen.cli"),
    "aiogen.pki": ("aiogen.model.spec", "aiogen.yamlio", "aiogen.resolve", "aiogen.render", "aiogen.rollout",
                   "aiogen.simulate", "aiogen.krm", "aiogen.cli", "aiogen.pipeline"),
    # the KRM function renders through the pipeline, like `aiogen render`
    "aiogen.krm": ("aiogen.model.spec", "aiogen.resolve", "aiogen.yamlio.validate", "aiogen.rollout",
                   "aiogen.simulate", "aiogen.cli"),
    # the pipeline never reaches back to a consumer of the Plan (phase dates come from the schedule)
    "aiogen.pipeline": ("aiogen.output", "aiogen.simulate", "aiogen.krm", "aiogen.cli", "aiogen.rollout.check",
                        "aiogen.rollout.advance", "aiogen.rollout.timeline"),
}
EXCEPTIONS: dict[str, tuple[str, ...]] = {}


def _violations(package: str) -> Iterator[str]:
    for module, names in sorted(IMPORTS.items()):
        if not _within(module, (package,)):
            continue
        for name in sorted(names):
            if _within(name, FORBIDDEN[package]) and not _within(name, EXCEPTIONS.get(package, ())):
                yield f"{module} imports {name}"


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layering(package: str) -> None:
    assert list(_violations(package)) == []


def test_nothing_below_the_cli_imports_it() -> None:
    assert sorted(m for m in _importers("aiogen.cli") if not _within(m, ("aiogen.cli",))) == []


COMMANDS = sorted((PACKAGE / "cli" / "commands").glob("[!_]*.py"))
# What a command may not import: it reaches a spec only through aiogen.pipeline (or a consumer
# that goes through it: simulate.engine, rollout.advance, rollout.git).
BYPASSES = ("aiogen.model.spec", "aiogen.resolve", "aiogen.yamlio.parse", "aiogen.yamlio.read",
            "aiogen.yamlio.validate", "aiogen.yamlio.document")


@pytest.mark.parametrize("command", COMMANDS, ids=lambda p: p.stem)
def test_commands_reach_specs_only_through_the_pipeline(command: Path) -> None:
    allowed = ("aiogen.model.spec.json_schema",) if command.stem == "schema" else ()
    bypass = sorted(n for n in IMPORTS[_name(command)] if _within(n, BYPASSES) and n not in allowed)
    assert bypass == []


def test_every_command_that_reads_a_spec_goes_through_the_pipeline() -> None:
    through = ("aiogen.pipeline", "aiogen.simulate.engine", "aiogen.rollout.advance")
    reading = [c.stem for c in COMMANDS if any(n in {"add_spec_argument", "add_spec_options"}
                                               for n in (name.rpartition(".")[2] for name in IMPORTS[_name(c)]))]
    assert reading, "no command takes a SPEC argument?"
    assert [c for c in reading if not any(_within(n, through) for n in IMPORTS[f"aiogen.cli.commands.{c}"])] == []


# -- where files are written -----------------------------------------------------------------------

# Calls that write whatever they are called on (Path methods, tempfile, tarfile), and os/shutil
# functions whose names a str or dict method shares (``text.replace``).
WRITE_METHODS = {"write_text", "write_bytes", "mkdir", "makedirs", "unlink", "rmdir", "rename", "symlink_to",
                 "hardlink_to", "touch", "rmtree", "mkstemp", "mkdtemp", "TemporaryDirectory", "NamedTemporaryFile",
                 "SpooledTemporaryFile", "extractall", "extract"}
OS_WRITES = {"replace", "link", "symlink", "copy", "copy2", "copyfile", "copytree", "move", "truncate", "ftruncate"}
WRITE_FLAGS = {"O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND"}
# Writers outside the one filesystem layer, each for a reason; shrink this, never grow it.
OTHER_WRITERS = {
    "aiogen.output.tree": "the tree's own replace/unlink steps around output.fs (to fold into it)",
    "aiogen.pki.offline": "`aiogen ca` places its files with a no-clobber link (to fold into output.fs)",
    "aiogen.pki.ssl_files": "ssl loads a key only from a file: a 0600 temporary, removed at once",
    "aiogen.simulate.export": "creates the export root before output.fs opens it",
    "aiogen.rollout.git": "unpacks the spec's directory at a git revision into a private temporary directory",
    "aiogen.startup.ahead": "install time: writes compiled templates, spec validator and regexes into the package",
    "aiogen.startup.regexes_collect": "a checkout's tool: renders each example into a temporary directory",
    "aiogen.startup.modules_write": "`aiogen precompile` (install time): its directory, and each package's __pycache__ "
                              "made before their times are recorded",
    "aiogen.startup.modules_collect": "a checkout's tool: renders each example into a temporary directory",
}


def _call_name(func: ast.expr) -> tuple[str, str]:
    """(what is called, the plain name it is called on or "")."""
    if isinstance(func, ast.Attribute):
        return func.attr, func.value.id if isinstance(func.value, ast.Name) else ""
    return (func.id, "") if isinstance(func, ast.Name) else ("", "")


def _writes(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            called, receiver = _call_name(node.func)
            mode = node.args[1] if len(node.args) > 1 else None
            if receiver == "fs":
                continue  # a call into the filesystem layer
            if called in WRITE_METHODS or (called in OS_WRITES and receiver in {"os", "shutil"}):
                found.append(f"{receiver}.{called}() line {node.lineno}")
            elif (called in {"open", "fdopen"} and isinstance(mode, ast.Constant) and isinstance(mode.value, str)
                  and set(mode.value) & set("wax+")):
                found.append(f"{called}(..., {mode.value!r}) line {node.lineno}")
        elif isinstance(node, ast.Attribute) and node.attr in WRITE_FLAGS:
            found.append(f"os.{node.attr} line {node.lineno}")
    return found


@pytest.mark.parametrize("module", MODULES, ids=lambda p: _name(p))
def test_files_are_written_only_through_output_fs(module: Path) -> None:
    name = _name(module)
    if name == "aiogen.output.fs" or name in OTHER_WRITERS:
        return
    assert _writes(module) == []


def test_the_write_check_sees_a_writer() -> None:
    """The check above is not blind: output.fs itself is full of writes."""
    assert any("O_CREAT" in w for w in _writes(PACKAGE / "output" / "fs.py"))


# -- the size of things ------------------------------------------------------------------------------

TABLES: set[str] = set()  # functions allowed past the limit because they are a table ("module:function")


@pytest.mark.parametrize("module", MODULES, ids=lambda p: _name(p))
def test_modules_and_functions_stay_small(module: Path) -> None:
    text = module.read_text()
    assert len(text.splitlines()) <= MAX_MODULE_LINES
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for node in ast.walk(ast.parse(text))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES and f"{_name(module)}:{node.name}" not in TABLES]
    assert long == []


# -- one home per concept ----------------------------------------------------------------------------


def _phase_literal_sets(path: Path) -> list[str]:
    """Tuples, sets and lists of two or more phase names: which phases do X is a question for model.phases."""
    phases = {"prepare", "distribute", "switch", "retire"}
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Tuple | ast.Set | ast.List):
            values = [e.value for e in node.elts if isinstance(e, ast.Constant)]
            if len(values) >= 2 and set(values) <= phases:
                found.append(f"{values} line {node.lineno}")
    return found


PHASE_LITERALS_LEFT: set[str] = set()


@pytest.mark.parametrize("module", MODULES, ids=lambda p: _name(p))
def test_phases_are_spelled_out_once(module: Path) -> None:
    if _name(module) == "aiogen.model.phases":
        assert _phase_literal_sets(module)  # the one definition (and the check is not blind)
    elif _name(module) not in PHASE_LITERALS_LEFT:
        assert _phase_literal_sets(module) == []


def test_architecture_doc_names_every_module() -> None:
    """docs/architecture.md lists every package and module, so the tree and the doc cannot drift apart."""
    doc = (REPO / "docs" / "architecture.md").read_text()
    missing = []
    for path in MODULES:
        relative = path.relative_to(PACKAGE).as_posix()
        if path.name not in {"__init__.py", "__main__.py"} and f"`{relative}`" not in doc:
            missing.append(relative)
    assert missing == []
