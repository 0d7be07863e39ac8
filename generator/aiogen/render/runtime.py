"""How a template compiled at build time runs with `jinja2.runtime` alone, not Jinja2's compiler.

The code Jinja2 generates for a template imports `jinja2.runtime` and reads a few attributes of
its environment (``undefined``, ``concat``, ``filters``, ``getattr``, ``getitem``). Importing
`jinja2.runtime` the usual way first runs the package's ``__init__``, which imports
`jinja2.environment` and with it the lexer, parser, compiler, every filter and the bytecode
cache: ~2/3 of Jinja2's import, on every cold start, for code that is already compiled.

So `jinja2_runtime` registers the `jinja2` package without running its ``__init__``
(`aiogen.startup.deferral.deferred`) and imports `jinja2.runtime` (and what it imports: utils, nodes,
exceptions, async_utils, markupsafe; in a one-shot command `inspect`, which only async templates
call, is deferred too: `aiogen.startup.deferral.ONE_SHOT`).
The first other attribute asked of the package (``jinja2.Environment``, ``from jinja2 import
...``) runs the ``__init__`` then (PEP 562 module ``__getattr__``), so any later user of Jinja2 in
the process sees the whole package. `LeanEnvironment` is what the generated code reads, as
`jinja2.Environment` defines it; `aiogen.render.compiled` runs a template here only when the
build recorded that its code reads nothing else (no other filter or global, no test, no other
template), otherwise through a real `jinja2.Environment`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from types import CodeType, ModuleType
from typing import Any

from aiogen.startup.deferral import deferred

# What the generated code may read from `LeanEnvironment` (aiogen.render.compiled checks at build time).
LEAN_ATTRIBUTES = frozenset({"undefined", "concat", "filters", "getattr", "getitem"})


def jinja2_runtime() -> ModuleType:
    """`jinja2.runtime`, imported without the package's ``__init__`` unless Jinja2 is loaded already."""
    loaded = sys.modules.get("jinja2.runtime")
    if loaded is not None:
        return loaded
    if deferred("jinja2") is None:
        raise ImportError("Jinja2 is not installed", name="jinja2")
    import jinja2.runtime

    return jinja2.runtime


class LeanEnvironment:
    """The environment the generated code of a lean template reads (`jinja2.Environment`'s semantics)."""

    autoescape = False  # jinja2.runtime.Context reads these two
    is_async = False

    def __init__(self, filters: dict[str, Callable[..., Any]]) -> None:
        runtime = jinja2_runtime()
        self.undefined: Any = runtime.StrictUndefined
        self.context_class: Any = runtime.Context
        self.new_context: Callable[..., Any] = runtime.new_context
        self.filters = dict(filters)
        utils = sys.modules["jinja2.utils"]  # imported by jinja2.runtime
        # Jinja2's default globals (jinja2.defaults.DEFAULT_NAMESPACE, which imports every filter and
        # test): the same objects, from the module that defines them; the build checks each one used.
        self.globals: dict[str, Any] = {"range": range, "dict": dict, "lipsum": utils.generate_lorem_ipsum,
                                        "cycler": utils.Cycler, "joiner": utils.Joiner, "namespace": utils.Namespace}

    @staticmethod
    def concat(parts: Iterator[str]) -> str:
        return "".join(parts)

    def getattr(self, obj: Any, attribute: str) -> Any:
        """An attribute, else an item, else undefined (`jinja2.Environment.getattr`)."""
        try:
            return getattr(obj, attribute)
        except AttributeError:
            pass
        try:
            return obj[attribute]
        except (TypeError, LookupError, AttributeError):
            return self.undefined(obj=obj, name=attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        """An item, else (for a string) an attribute, else undefined (`jinja2.Environment.getitem`)."""
        try:
            return obj[argument]
        except (AttributeError, TypeError, LookupError):
            if isinstance(argument, str):
                try:
                    return getattr(obj, argument)
                except AttributeError:
                    pass
            return self.undefined(obj=obj, name=argument)


class LeanTemplate:
    """A compiled template run as `jinja2.Template.from_code` and ``render`` run it."""

    def __init__(self, environment: LeanEnvironment, code: CodeType) -> None:
        namespace: dict[str, Any] = {"environment": environment, "__file__": code.co_filename}
        exec(code, namespace)  # the module Jinja2 generated: defines root, blocks and name
        self.environment = environment
        self.name: str = namespace["name"]
        self.root: Callable[[Any], Iterator[str]] = namespace["root"]
        self.blocks: dict[str, Any] = namespace["blocks"]

    def render(self, **variables: Any) -> str:
        env = self.environment
        context = env.new_context(env, self.name, self.blocks, variables, False, env.globals, None)
        return env.concat(self.root(context))
