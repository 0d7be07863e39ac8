"""The Jinja2 templates compiled ahead of time: made when aiogen is installed, never at run time.

Compiling the templates costs more than rendering a cluster, on every cold start (a CI job, an
Argo CD repo-server, the first `kustomize build`). `python -m aiogen.render.compiled` (run by the
wheel build, or once in a development checkout) asks Jinja2 to compile each template with the
environment `aiogen.render.templates` renders with, and writes the code objects, marshalled, to
`templates/compiled.marshal`, with each template's bytes and whether its code needs nothing from
Jinja2 but `jinja2.runtime` (`aiogen.render.runtime`: decided here, by Jinja2's own parser).

That file is code, never output: it holds no rendered text, and it is used only while it is
current. Its first line is a key over what makes the generated code differ: the Python bytecode
version, Jinja2's version and the options `aiogen.render.templates` builds its environment with.
At run time that line is checked without importing Jinja2 (its version is read from its package
file), then every template on disk is compared, byte for byte, with the one compiled; a file
whose key or templates differ, or that is missing or unreadable, is ignored and the templates are
compiled from source as before. Nothing is written at run time.
"""

from __future__ import annotations

import marshal
import os
import re
import sys
from pathlib import Path
from types import CodeType
from typing import TYPE_CHECKING, Any

from aiogen.model.record import record
from aiogen.startup.ahead import bytecode_magic, write_file

if TYPE_CHECKING:
    from collections.abc import Callable, MutableMapping

    import jinja2

    from aiogen.render.runtime import LeanEnvironment

COMPILED_NAME = "compiled.marshal"
_FORMAT = "aiogen-compiled-templates/2"


@record
class Compiled:
    """The current compiled templates: code by template name, and those `jinja2.runtime` alone runs."""

    codes: dict[str, CodeType]
    lean: frozenset[str]


def jinja2_version() -> str | None:
    """The installed Jinja2's version, read from its package file when Jinja2 is not imported yet."""
    module = sys.modules.get("jinja2")
    version = vars(module).get("__version__") if module is not None else None
    if isinstance(version, str):
        return version
    import importlib.util

    spec = importlib.util.find_spec("jinja2")  # found, not imported
    if spec is None or not spec.origin:
        return None
    try:
        text = Path(spec.origin).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():  # `__version__ = "3.1.6"` (a line scan: no pattern to compile on a cold start)
        if line.startswith("__version__ = "):
            value = line[len("__version__ = "):].strip()
            if len(value) > 2 and value[0] == value[-1] and value[0] in "\"'" and value[0] not in value[1:-1]:
                return value[1:-1]
    return None


def compiled_key(environment: str, version: str | None = None) -> str:
    """The file's first line: bytecode version, Jinja2 version, the environment's options (`templates.ENVIRONMENT`)."""
    version = jinja2_version() if version is None else version
    return f"{_FORMAT} python={bytecode_magic().hex()} jinja2={version} environment={environment!r}"


def template_sources(directory: Path) -> dict[str, bytes]:
    """Every template (``*.j2``) of a directory, by name, in name order."""
    names = sorted(name for name in os.listdir(directory) if name.endswith(".j2") and not name.startswith("."))
    return {name: (directory / name).read_bytes() for name in names}


def build(env: jinja2.Environment, directory: Path, environment: str,
          filters: dict[str, Callable[..., Any]]) -> bytes:
    """The file's bytes: the key line, then the marshalled {name: (template bytes, code, lean)};
    ``filters`` are those the lean runtime gets (aiogen's own, `templates.FILTERS`)."""
    import jinja2 as jinja2_module

    from aiogen.render.runtime import LeanEnvironment

    lean = LeanEnvironment(filters)

    entries: dict[str, tuple[bytes, CodeType, bool]] = {}
    for name, data in template_sources(directory).items():
        source = data.decode("utf-8")
        code = env.compile(source, name, f"templates/{name}")
        assert isinstance(code, CodeType)
        entries[name] = (data, code, _lean(env, source, name, lean))
    key = compiled_key(environment, jinja2_module.__version__)
    return key.encode("utf-8") + b"\n" + marshal.dumps(entries)


def _lean(env: jinja2.Environment, source: str, name: str, lean: LeanEnvironment) -> bool:
    """Whether the code of this template reads only what ``lean`` has: the same filters and globals
    (the very objects of ``env``), no test, no other template, no other attribute of its environment."""
    from jinja2 import nodes

    from aiogen.render.runtime import LEAN_ATTRIBUTES

    tree = env.parse(source, name)
    raw = env.compile(source, name, f"templates/{name}", raw=True)
    assert isinstance(raw, str)
    filters = {node.name for node in tree.find_all(nodes.Filter)}
    names = set(re.findall(r"\bresolve\('(\w+)'\)", raw)) & set(env.globals)
    others = (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport, nodes.Test)
    return (not any(True for _ in tree.find_all(others))
            and all(lean.filters.get(f, lean) is env.filters.get(f) for f in filters)
            and all(lean.globals.get(n, lean) is env.globals[n] for n in names)
            and set(re.findall(r"\benvironment\.(\w+)", raw)) <= LEAN_ATTRIBUTES)


def load(directory: Path, environment: str) -> Compiled | None:
    """The compiled templates when the file is current for the templates of ``directory``, else None."""
    try:
        with open(directory / COMPILED_NAME, "rb") as handle:
            key = handle.readline()
            if key.rstrip(b"\n").decode("utf-8") != compiled_key(environment):
                return None
            entries = marshal.loads(handle.read())
        sources = template_sources(directory)
    except (OSError, ValueError, EOFError, TypeError, UnicodeDecodeError):
        return None
    if not isinstance(entries, dict) or sorted(entries) != sorted(sources):
        return None
    codes: dict[str, CodeType] = {}
    lean: set[str] = set()
    for name, entry in entries.items():
        if not (isinstance(entry, tuple) and len(entry) == 3 and entry[0] == sources[name]
                and isinstance(entry[1], CodeType)):
            return None
        codes[name] = entry[1]
        if entry[2] is True:
            lean.add(name)
    return Compiled(codes, frozenset(lean))


def current(directory: Path | None = None) -> bool:
    """Whether the compiled file of ``directory`` (aiogen's templates by default) is current."""
    from aiogen.render import templates

    return load(directory or templates.TEMPLATES, templates.ENVIRONMENT) is not None


def loader(directory: Path, codes: dict[str, CodeType] | None) -> jinja2.BaseLoader:
    """A `FileSystemLoader` for ``directory`` that takes a template's code from ``codes`` when it has it."""
    import jinja2

    class CompiledLoader(jinja2.FileSystemLoader):
        def load(self, environment: jinja2.Environment, name: str,
                 globals: MutableMapping[str, Any] | None = None) -> jinja2.Template:
            code = codes.get(name) if codes else None
            if code is None:
                return super().load(environment, name, globals)
            uptodate: Callable[[], bool] = _always
            return environment.template_class.from_code(environment, code, globals or {}, uptodate)

    return CompiledLoader(str(directory))


def _always() -> bool:
    return True


def write(directory: Path | None = None) -> Path:
    """Compile the templates of ``directory`` (aiogen's own by default) and write the file atomically."""
    from aiogen.render import templates

    directory = directory or templates.TEMPLATES
    data = build(templates.new_environment(None), directory, templates.ENVIRONMENT, templates.FILTERS)
    return write_file(directory / COMPILED_NAME, data)


def main(argv: list[str] | None = None) -> int:
    """`python -m aiogen.render.compiled [DIR]`: write DIR/compiled.marshal (default: aiogen's templates)."""
    args = sys.argv[1:] if argv is None else argv
    target = write(Path(args[0]) if args else None)
    print(f"aiogen: compiled templates written to {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
