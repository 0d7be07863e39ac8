"""What is a spec object when pydantic is not loaded? A plain frozen object with the model's fields.

The validator built ahead of time (`aiogen.model.spec_compiled`) creates these instead of the
pydantic models of `aiogen.model.spec`: one class per model, same name, same fields, same bases
(an InlineRoot is a Root). pydantic-core fills an instance exactly as it fills a model (its
``__dict__`` and the three pydantic slots, without calling ``__init__``), so attribute values
are the ones the pydantic model would hold. What the rest of aiogen does with a spec object
works the same: read fields, compare (``==``, ``hash``, as a frozen model does), ``model_copy
(update=...)``, ``repr``, and the no-argument constructor of a model whose every field has a
default (``NamespacesOverride()``). tests/test_spec_compiled.py holds the two equal.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any, ClassVar


class SpecObject:
    """The base of every plain spec class (``model_class``)."""

    # the slots pydantic-core sets on a model instance (BaseModel has the same four)
    __slots__ = ("__dict__", "__pydantic_extra__", "__pydantic_fields_set__", "__pydantic_private__")
    __pydantic_fields_set__: set[str]
    # the model's fields in declaration order, and its defaults (None: some field is required)
    model_fields_order: ClassVar[tuple[str, ...]] = ()
    blank_values: ClassVar[Callable[[], dict[str, Any]] | None] = None

    def __init__(self) -> None:
        """``Model()``: every field at its default, as pydantic gives (a required field: TypeError)."""
        blank = type(self).blank_values
        if blank is None:
            raise TypeError(f"{type(self).__name__} has required fields: validate it from a mapping instead")
        _fill(self, blank(), set())

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen: {name} cannot be set")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen: {name} cannot be deleted")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SpecObject):
            return NotImplemented
        return type(self) is type(other) and self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        # as a frozen pydantic model: the class and every field value (a list field: unhashable)
        return hash((type(self), *self.__dict__.values()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in self.__dict__.items())
        return f"{type(self).__name__}({fields})"

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        yield from self.__dict__.items()

    def __copy__(self) -> SpecObject:
        return _new(type(self), dict(self.__dict__), set(self.__pydantic_fields_set__))

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> SpecObject:
        return _new(type(self), copy.deepcopy(self.__dict__, memo), set(self.__pydantic_fields_set__))

    @property
    def model_fields_set(self) -> set[str]:
        return self.__pydantic_fields_set__

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> SpecObject:
        """A copy with ``update`` applied, unvalidated (as pydantic's ``model_copy``)."""
        copied = self.__deepcopy__() if deep else self.__copy__()
        if update:
            copied.__dict__.update(update)
            copied.__pydantic_fields_set__.update(update)
        return copied


def _fill(target: SpecObject, values: dict[str, Any], fields_set: set[str]) -> None:
    setter = object.__setattr__  # what pydantic-core does too (the class's own __setattr__ refuses)
    setter(target, "__dict__", values)
    setter(target, "__pydantic_extra__", None)
    setter(target, "__pydantic_fields_set__", fields_set)
    setter(target, "__pydantic_private__", None)


def _new(cls: type[SpecObject], values: dict[str, Any], fields_set: set[str]) -> SpecObject:
    made = object.__new__(cls)
    _fill(made, values, fields_set)
    return made


def model_class(name: str, bases: tuple[type[SpecObject], ...], fields: tuple[str, ...],
                blank: Callable[[], dict[str, Any]] | None) -> type[SpecObject]:
    """The plain class of one model: its name, its base models, its fields and defaults."""
    namespace = {"__slots__": (), "__qualname__": name, "__module__": __name__,
                 "model_fields_order": fields, "blank_values": staticmethod(blank) if blank else None}
    return type(name, bases or (SpecObject,), namespace)


def instance(cls: type[SpecObject], values: dict[str, Any], fields_set: tuple[str, ...] = ()) -> SpecObject:
    """An instance with these field values (a default the validator hands out as it is)."""
    return _new(cls, values, set(fields_set))
