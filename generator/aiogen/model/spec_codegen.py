"""What code builds the Topology validator without pydantic? Written out from pydantic's own core schema.

pydantic turns the models of `aiogen.model.spec` into a pydantic-core schema: a tree of plain
values that names Python objects in a few places: each model's class (``cls``), the checks of
`aiogen.model.spec_checks`, defaults that are model instances or timedeltas, and a default
factory. This module writes that tree as Python source, each model class replaced by its plain
mirror (`aiogen.model.spec_objects.model_class`, same name, fields and bases) and each check
by the same function; compiled, it is marshalled into ``spec_compiled.marshal`` beside the
models, behind the key of `aiogen.model.spec_compiled`. The ``metadata`` of each schema node
(pydantic's JSON Schema hooks) is left out: pydantic-core never reads it.

Only the wheel build (`aiogen.render.compiled_build`) or `python -m aiogen.model.spec_codegen`
(a development checkout) runs this; it imports pydantic, the run time never does.
"""

from __future__ import annotations

import marshal
import sys
from contextlib import suppress
from datetime import date, timedelta
from pathlib import Path
from types import FunctionType
from typing import Any

from pydantic import BaseModel, ValidationError

from aiogen.model import spec, spec_checks
from aiogen.model.spec_compiled import COMPILED_NAME, compiled_key
from aiogen.startup.ahead import write_file


class NotRepresentable(TypeError):
    """The core schema holds an object this module cannot write as code (a new kind of validator?)."""


def _models() -> list[type[BaseModel]]:
    """Every model of `aiogen.model.spec` in the order they are defined (a base before its subclasses)."""
    return [v for v in vars(spec).values()
            if isinstance(v, type) and issubclass(v, spec.Model) and v is not spec.Model]


class _Writer:
    def __init__(self, models: list[type[BaseModel]]) -> None:
        self.models = {cls: f"M_{cls.__name__}" for cls in models}

    def expr(self, value: Any, *, in_fields: bool = False) -> str:
        if value is None or isinstance(value, bool | int | float | str):
            return repr(value)
        if isinstance(value, list | tuple):
            inner = ", ".join(self.expr(v) for v in value)
            return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
        if isinstance(value, dict):
            # a node's metadata is pydantic's (JSON Schema); a `fields` mapping holds field names, kept whole
            items = [(k, v) for k, v in value.items() if in_fields or k != "metadata"]
            return "{" + ", ".join(f"{k!r}: {self.expr(v, in_fields=k == 'fields' and not in_fields)}"
                                   for k, v in items) + "}"
        if isinstance(value, timedelta):
            return f"timedelta({value.days}, {value.seconds}, {value.microseconds})"
        if isinstance(value, date):
            return f"date({value.year}, {value.month}, {value.day})"
        if isinstance(value, type) and value in self.models:
            return self.models[value]
        if isinstance(value, BaseModel) and type(value) in self.models:
            return self.instance(value)
        name = str(getattr(value, "__name__", ""))
        if isinstance(value, FunctionType) and getattr(spec_checks, name, None) is value:
            return f"checks.{name}"
        raise NotRepresentable(f"cannot write {value!r} ({type(value).__qualname__}) as code")

    def instance(self, model: BaseModel) -> str:
        fields_set = tuple(sorted(model.model_fields_set))
        return f"instance({self.models[type(model)]}, {self.values(model)}, {fields_set!r})"

    def values(self, model: BaseModel) -> str:
        return "{" + ", ".join(f"{k!r}: {self.expr(v)}" for k, v in model.__dict__.items()) + "}"

    def model_class(self, cls: type[BaseModel]) -> str:
        bases = tuple(self.models[b] for b in cls.__bases__ if b in self.models)
        fields = tuple(cls.model_fields)
        blank = "None"
        if all(not f.is_required() for f in cls.model_fields.values()):
            # fresh values each call, as pydantic's Model(); a rule needing some field (Root): no Model()
            with suppress(ValidationError):
                blank = f"lambda: {self.values(cls())}"
        base_list = f"({', '.join(bases)},)" if bases else "()"
        return f"{self.models[cls]} = model_class({cls.__name__!r}, {base_list}, {fields!r}, {blank})"


def source() -> str:
    """The Python source that defines the plain classes, SCHEMA and CONFIG of the Topology validator."""
    from pydantic._internal._config import ConfigWrapper

    models = _models()
    writer = _Writer(models)
    lines = ["# the Topology validator of aiogen.model.spec (written by aiogen.model.spec_codegen)"]
    lines += [writer.model_class(cls) for cls in models]
    lines.append("CLASSES = {" + ", ".join(f"{cls.__name__!r}: {writer.models[cls]}" for cls in models) + "}")
    lines.append(f"SCHEMA = {writer.expr(spec.Topology.__pydantic_core_schema__)}")
    config = ConfigWrapper(spec.Topology.model_config).core_config(title=spec.Topology.__name__)
    lines.append(f"CONFIG = {writer.expr(dict(config))}")
    return "\n".join(lines) + "\n"


def build(directory: Path) -> bytes:
    """The file's bytes: the key line, then the marshalled code object of `source`."""
    code = compile(source(), f"<{COMPILED_NAME}>", "exec")
    return compiled_key(directory).encode("ascii") + b"\n" + marshal.dumps(code)


def write() -> Path:
    """Write ``spec_compiled.marshal`` beside the imported `aiogen.model.spec` (atomically)."""
    directory = Path(spec.__file__).parent
    return write_file(directory / COMPILED_NAME, build(directory))


def main() -> int:
    """`python -m aiogen.model.spec_codegen`: write the Topology validator beside the models."""
    target = write()
    print(f"aiogen: spec validator written to {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
