"""The Jinja2 templates compiled ahead of time: made when aiogen is installed, never at run time.

Compiling the nine templates costs more than rendering a cluster, on every cold start (a CI job,
an Argo CD repo-server, the first `kustomize build`). `python -m aiogen.render.compiled` (run by
the wheel build, or once in a development checkout) asks Jinja2 to compile each template with the
very environment `aiogen.render.templates` renders with, and writes the code objects, marshalled,
to `templates/compiled.marshal`.

That file is code, never output: it holds no rendered text, and it is used only while it is
current. Its first line is a key over the Python bytecode version, Jinja2's version, the
environment's compile-time options and filters, and every template's name and bytes; at run
time the key is computed again from the templates on disk (a few hundred microseconds) and a
file whose key differs, or that is missing or unreadable, is ignored: the templates are compiled
from source as before. Nothing is written at run time.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
from pathlib import Path
from types import CodeType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, MutableMapping

    import jinja2

COMPILED_NAME = "compiled.marshal"


def _magic() -> bytes:
    import _frozen_importlib_external  # already loaded: the interpreter's own import machinery

    magic: bytes = _frozen_importlib_external.MAGIC_NUMBER
    return magic


def environment_signature(env: jinja2.Environment) -> str:
    """What in an environment changes the code Jinja2 generates (syntax, options, filter and test names)."""
    options = (
        env.block_start_string, env.block_end_string, env.variable_start_string, env.variable_end_string,
        env.comment_start_string, env.comment_end_string, env.line_statement_prefix, env.line_comment_prefix,
        env.trim_blocks, env.lstrip_blocks, env.newline_sequence, env.keep_trailing_newline, env.optimized,
        env.autoescape, sorted(env.filters), sorted(env.tests), sorted(env.extensions),
        type(env).__module__, type(env).__qualname__, env.code_generator_class.__qualname__,
    )
    return repr(options)


def template_sources(directory: Path) -> dict[str, bytes]:
    """Every template (``*.j2``) of a directory, by name, in name order."""
    return {p.name: p.read_bytes() for p in sorted(directory.glob("*.j2"))}


def compiled_key(env: jinja2.Environment, sources: dict[str, bytes]) -> str:
    import jinja2

    digest = hashlib.sha256()
    for part in (_magic(), jinja2.__version__.encode(), environment_signature(env).encode()):
        digest.update(len(part).to_bytes(8, "big") + part)
    for name, data in sources.items():
        for part in (name.encode(), data):
            digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def build(env: jinja2.Environment, directory: Path) -> bytes:
    """The file's bytes: the key line, then the marshalled {template name: code object}."""
    sources = template_sources(directory)
    codes: dict[str, CodeType] = {}
    for name, data in sources.items():
        code = env.compile(data.decode("utf-8"), name, f"templates/{name}")
        assert isinstance(code, CodeType)
        codes[name] = code
    return compiled_key(env, sources).encode("ascii") + b"\n" + marshal.dumps(codes)


def load(env: jinja2.Environment, directory: Path) -> dict[str, CodeType] | None:
    """The compiled templates when the file is current for these templates and this environment, else None."""
    try:
        data = (directory / COMPILED_NAME).read_bytes()
    except OSError:
        return None
    key, sep, payload = data.partition(b"\n")
    try:
        if not sep or key.decode("ascii") != compiled_key(env, template_sources(directory)):
            return None
        codes = marshal.loads(payload)
    except (OSError, ValueError, EOFError, TypeError, UnicodeDecodeError):
        return None
    if not isinstance(codes, dict) or not all(isinstance(c, CodeType) for c in codes.values()):
        return None
    return codes


def current(directory: Path | None = None) -> bool:
    """Whether the compiled file of ``directory`` (aiogen's templates by default) is current."""
    from aiogen.render import templates

    return load(templates._environment(), directory or templates.TEMPLATES) is not None


def loader(directory: Path) -> jinja2.BaseLoader:
    """A `FileSystemLoader` for ``directory`` that takes a template's code from the compiled file when current."""
    import jinja2

    class CompiledLoader(jinja2.FileSystemLoader):
        _codes: dict[str, CodeType] | None = None
        _checked = False

        def load(self, environment: jinja2.Environment, name: str,
                 globals: MutableMapping[str, Any] | None = None) -> jinja2.Template:
            if not self._checked:
                self._checked = True
                self._codes = load(environment, directory)
            code = self._codes.get(name) if self._codes else None
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
    target = directory / COMPILED_NAME
    data = build(templates._environment(), directory)
    partial = target.with_name(f".{COMPILED_NAME}.{os.getpid()}.tmp")
    try:
        partial.write_bytes(data)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def main(argv: list[str] | None = None) -> int:
    """`python -m aiogen.render.compiled [DIR]`: write DIR/compiled.marshal (default: aiogen's templates)."""
    args = sys.argv[1:] if argv is None else argv
    target = write(Path(args[0]) if args else None)
    print(f"aiogen: compiled templates written to {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
