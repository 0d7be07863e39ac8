"""The Jinja2 templates (one per resource kind) and the parse-back of what they write.

Each template's text is parsed back into a mapping at once, so a template that writes invalid
YAML fails loudly, and the in-memory resource is a mapping, not a string.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiogen.render.resource import Resource

if TYPE_CHECKING:
    from collections.abc import Callable

    import jinja2

    from aiogen.render.compiled import Compiled
    from aiogen.render.runtime import LeanEnvironment

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

_env: jinja2.Environment | None = None
_lean: LeanEnvironment | None = None


# Characters YAML may not hold raw: all but tab, LF, CR, 20-7E, A0-2027, 202A-D7FF, E000-FFFD and 10000-10FFFF.
# Spelt as that short list rather than a negated class over all of Unicode: the same set, compiled in ~0.5 ms
# instead of ~12 ms (tests/test_fast_start.py checks every code point); compiled only when a value
# that is not plain ASCII is quoted, as most specs have none.
_NOT_YAML_SAFE = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]"


@cache
def not_yaml_safe() -> re.Pattern[str]:
    """The compiled `_NOT_YAML_SAFE`."""
    return re.compile(_NOT_YAML_SAFE)


def _quote(value: object) -> str:
    """A YAML double-quoted scalar (JSON string syntax) for any string."""
    quoted: str = json.encoder.encode_basestring(str(value))  # escapes \x00-\x1f, quote and backslash
    if quoted.isascii() and "\x7f" not in quoted:
        return quoted
    return not_yaml_safe().sub(lambda m: f"\\u{ord(m.group()):04x}", quoted)


# What the environment is built with, so what the code Jinja2 generates depends on: the compiled
# templates' key holds it (aiogen.render.compiled), so a change here makes that file stale.
_OPTIONS: dict[str, Any] = {"autoescape": False, "keep_trailing_newline": True}
# json.dumps(str(value), ensure_ascii=False) without building an encoder on every call; characters
# YAML may not hold raw (DEL, C1 controls, surrogates) are escaped as \uXXXX
FILTERS: dict[str, Callable[..., str]] = {"q": _quote}
ENVIRONMENT = f"undefined=StrictUndefined {sorted(_OPTIONS.items())} filters={sorted(FILTERS)}"

_compiled: list[Compiled | None] = []  # the compiled templates once looked for (None: stale or absent)
_templates: dict[str, Any] = {}


def new_environment(loader: jinja2.BaseLoader | None) -> jinja2.Environment:
    """A Jinja2 environment with aiogen's options and filters (the build compiles with one too)."""
    import jinja2

    env = jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined,
                             auto_reload=False,  # package data: compile each template once, never stat it again
                             **_OPTIONS)
    env.filters.update(FILTERS)
    return env


def _compiled_templates() -> Compiled | None:
    if not _compiled:
        from aiogen.render import compiled

        _compiled.append(compiled.load(TEMPLATES, ENVIRONMENT))
    return _compiled[0]


def _environment() -> jinja2.Environment:
    """The full Jinja2 environment: for a template the compiled file lacks, or when it is stale or absent."""
    global _env
    if _env is None:
        from aiogen.render import compiled

        found = _compiled_templates()
        _env = new_environment(compiled.loader(TEMPLATES, found.codes if found else None))
    return _env


def _template(name: str) -> Any:
    """The template to render: run by `jinja2.runtime` alone when its compiled code is current and lean
    (aiogen.render.runtime), else from a full Jinja2 environment (compiled code, or the source)."""
    global _lean
    template = _templates.get(name)
    if template is None:
        found = _compiled_templates()
        if found is not None and name in found.lean:
            from aiogen.render.runtime import LeanEnvironment, LeanTemplate

            if _lean is None:
                _lean = LeanEnvironment(FILTERS)
            template = LeanTemplate(_lean, found.codes[name])
        else:
            template = _environment().get_template(name)
        _templates[name] = template
    return template


_LOADER: Any = None


def _yaml_loader() -> Any:
    """PyYAML's safe loader (the C one when libyaml is there), remembering implicit tags."""
    global _LOADER
    if _LOADER is None:
        import yaml

        base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

        class Loader(base):  # type: ignore[misc, valid-type]
            # Resolving a plain scalar's tag is a regex match in Python, once per key and value of
            # every document; templates repeat the same keys and most values, so remember them.
            _tags: dict[tuple[Any, Any, Any], Any] = {}  # noqa: RUF012 - one memo for every loader

            def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
                key = (kind, value, implicit)
                try:
                    tag = self._tags.get(key)
                except TypeError:  # an unhashable argument: no memo
                    return super().resolve(kind, value, implicit)
                if tag is None:
                    tag = super().resolve(kind, value, implicit)
                    if len(self._tags) < 4096:
                        self._tags[key] = tag
                return tag

        _LOADER = Loader
    return _LOADER


def resource(template: str, **context: Any) -> Resource:
    import yaml

    text: str = _template(template).render(**context)
    try:
        obj = _parse(text)
    except yaml.YAMLError as error:  # a template bug, never user input
        raise RuntimeError(f"template {template} produced invalid YAML: {error}\n{text}") from error
    if not isinstance(obj, dict):
        raise RuntimeError(f"template {template} produced {type(obj).__name__}, not a mapping")
    return Resource(obj)


_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"


class _NotPlain(Exception):
    """A node the direct walk leaves to PyYAML's constructor (merge key, explicit tag, ...)."""


def _parse(text: str) -> Any:
    """``yaml.load(text, Loader=CSafeLoader)``, in about half the time.

    The (C) composer builds the node tree and a direct walk turns plain mappings, sequences and
    strings into Python objects; any other scalar goes to the loader's own constructor, and any
    other node to its `construct_document`, so the result is exactly what `yaml.load` returns.
    Every call builds fresh objects, so no two resources share a mutable one. (An LRU of texts
    with a copy per hit was tried: on fleets the copies cost as much as the parses they saved.)
    """
    from yaml import nodes

    loader = _yaml_loader()(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        try:
            return _build(root, loader, nodes.ScalarNode, nodes.MappingNode, nodes.SequenceNode)
        except _NotPlain:
            return loader.construct_document(root)
    finally:
        loader.dispose()


def _build(node: Any, loader: Any, scalar: type[Any], mapping: type[Any], sequence: type[Any]) -> Any:
    """Plain data of a node: a module-level function, so a parse leaves no reference cycle behind."""
    kind = type(node)
    if kind is scalar:
        return node.value if node.tag == _STR else loader.construct_object(node)
    if kind is mapping and node.tag == _MAP:
        out = {}
        for key, value in node.value:
            if type(key) is not scalar or key.tag != _STR:
                raise _NotPlain
            out[key.value] = _build(value, loader, scalar, mapping, sequence)
        return out
    if kind is sequence and node.tag == _SEQ:
        return [_build(item, loader, scalar, mapping, sequence) for item in node.value]
    raise _NotPlain
