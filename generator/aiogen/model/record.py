"""Records: the value classes of the Plan, its problems and the render path, made at a fifth of the cost.

`@dataclasses.dataclass(frozen=True)` compiles six methods per class, one `exec` each, and
`dataclasses` imports `inspect`: ~0.5 ms a class, ~15 ms of a cold one-cluster render for the
~35 classes on its path. `record` makes the same class with at most one `exec`: the ``__init__``,
compiled once a class has made `COMPILE_AFTER` instances through a generic one (a cold run makes
a few of each; a Plan of 10,000 clusters thousands); the other methods are shared:

* ``__init__`` takes the annotated fields in order, a field with a default after those without;
  ``field(default_factory=...)`` makes a new value per instance; no ``__post_init__``;
* ``==`` compares the fields of two instances of the same class (else NotImplemented);
* ``hash`` is the hash of the fields when frozen; a mutable record is unhashable (as a dataclass);
* ``repr`` is ``Name(field=value, ...)``, without fields made with ``field(repr=False)``;
* frozen (the default): assigning or deleting a field raises `FrozenInstanceError`;
* `replace` is `dataclasses.replace`. Type checkers see a dataclass (`typing.dataclass_transform`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, dataclass_transform, overload

T = TypeVar("T")

_FIELDS = "__record_fields__"  # the fields in __init__ order
_NO_DEFAULT: Any = object()
_RESERVED = frozenset({"self", "_set", "_none"})  # names the compiled __init__ uses itself


class FrozenInstanceError(AttributeError):
    """A frozen record's field was assigned or deleted (as `dataclasses.FrozenInstanceError`)."""


class _Field:
    __slots__ = ("default", "factory", "repr")

    def __init__(self, default: Any, factory: Callable[[], Any] | None, repr: bool) -> None:
        self.default, self.factory, self.repr = default, factory, repr


def field(*, default: Any = _NO_DEFAULT, default_factory: Callable[[], Any] | None = None, repr: bool = True) -> Any:
    """A field's default, or a factory called for each new instance; ``repr=False`` leaves it out of repr."""
    return _Field(default, default_factory, repr)


@overload
def record(cls: type[T], /) -> type[T]: ...


@overload
def record(*, frozen: bool = True) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def record(cls: type[T] | None = None, /, *, frozen: bool = True) -> Any:
    """Make ``cls`` a record (frozen unless ``frozen=False``): see the module's docstring."""
    if cls is None:
        return lambda cls: _make(cls, frozen)
    return _make(cls, frozen)


def replace(obj: T, /, **changes: Any) -> T:
    """A copy of record ``obj`` with some fields changed (`dataclasses.replace`)."""
    values = {name: changes.pop(name) if name in changes else getattr(obj, name) for name in getattr(obj, _FIELDS)}
    if changes:
        raise TypeError(f"{type(obj).__name__} has no field {sorted(changes)[0]!r}")
    made: T = type(obj)(**values)
    return made


def _make(cls: type[T], frozen: bool) -> type[T]:
    if any(hasattr(base, _FIELDS) for base in cls.__mro__[1:]):
        raise TypeError(f"{cls.__name__}: a record cannot extend another record")
    annotations = cls.__dict__.get("__annotations__", {})  # noqa: RUF063 - inspect is what this module avoids
    names = tuple(name for name, kind in annotations.items()
                  if not str(kind).startswith(("ClassVar", "typing.ClassVar")))
    namespace: dict[str, Any] = {"_set": object.__setattr__, "_none": _NO_DEFAULT}
    params, body, shown, fields = ["self"], [], [], []
    for name in names:
        if name in _RESERVED or name.startswith(("_f_", "_d_")):  # the compiled __init__'s own names
            raise TypeError(f"{cls.__name__}: a record field cannot be named {name!r}")
        value = cls.__dict__.get(name, _NO_DEFAULT)
        spec = value if isinstance(value, _Field) else _Field(value, None, True)
        fields.append((name, spec))
        if spec.factory is not None:
            namespace[f"_f_{name}"] = spec.factory
            params.append(f"{name}=_none")
            body.append(f"    if {name} is _none:\n        {name} = _f_{name}()\n")
            delattr(cls, name)
        elif spec.default is not _NO_DEFAULT:
            namespace[f"_d_{name}"] = spec.default
            params.append(f"{name}=_d_{name}")
            setattr(cls, name, spec.default)
        elif len(params) > 1 and "=" in params[-1]:
            raise TypeError(f"{cls.__name__}: field {name!r} without a default follows one with a default")
        else:
            params.append(name)
        body.append(f"    _set(self, {name!r}, {name})\n" if frozen else f"    self.{name} = {name}\n")
        if spec.repr:
            shown.append(name)
    source = f"def __init__({', '.join(params)}):\n{''.join(body) or '    pass'}\n"
    attributes: dict[str, Any] = {"__init__": _first_init(cls, tuple(fields), frozen, source, namespace),
                                  _FIELDS: names, "__match_args__": names,
                                  "__repr__": _repr(tuple(shown)), "__eq__": _eq(names)}
    if frozen:
        attributes.update(__hash__=_hash(names), __setattr__=_frozen_setattr, __delattr__=_frozen_delattr)
    else:
        attributes["__hash__"] = None  # mutable and compared by value: unhashable, as a dataclass
    for key, value in attributes.items():
        if key not in cls.__dict__:  # a method the class defines itself stays (as with a dataclass)
            setattr(cls, key, value)
    return cls


# Instances a class makes through the generic ``__init__`` before its own is compiled: a cold run
# makes a few of most records (each ``exec`` costs ~0.1 ms: ~2.5 ms over the records of a render),
# a fleet makes thousands of some (the compiled one is ~3.5 times faster per instance).
COMPILE_AFTER = 16


def _first_init(cls: type, fields: tuple[tuple[str, _Field], ...], frozen: bool, source: str,
                namespace: dict[str, Any]) -> Callable[..., None]:
    """The class's ``__init__``: binds its arguments as the compiled one does (same order, defaults,
    factories, errors), and after `COMPILE_AFTER` instances compiles that one from ``source`` and
    installs it in its place."""
    names = tuple(name for name, _ in fields)
    specs = dict(fields)
    qualname = f"{cls.__qualname__}.__init__"
    required = [name for name, spec in fields if spec.factory is None and spec.default is _NO_DEFAULT]
    # CPython's own words for too many positional arguments (self included)
    most = len(names) + 1
    takes = (f"from {len(required) + 1} to {most} positional arguments" if len(required) < len(names)
             else f"{most} positional argument{'s' if most > 1 else ''}")
    made = 0

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        nonlocal made
        made += 1
        if made > COMPILE_AFTER and cls.__dict__.get("__init__") is __init__:
            exec(source, namespace)  # the one compiled method; its text is made of identifiers only
            compiled = namespace["__init__"]
            compiled.__qualname__, compiled.__module__ = qualname, cls.__module__
            type.__setattr__(cls, "__init__", compiled)
            compiled(self, *args, **kwargs)
            return
        # CPython's order: each keyword in turn, then too many positional arguments, then missing ones
        values = dict(zip(names, args, strict=False))
        for key, value in kwargs.items():
            if key not in specs:
                raise TypeError(f"{qualname}() got an unexpected keyword argument {key!r}")
            if key in values:
                raise TypeError(f"{qualname}() got multiple values for argument {key!r}")
            values[key] = value
        if len(args) > len(names):
            raise TypeError(f"{qualname}() takes {takes} but {len(args) + 1} were given")
        missing = [name for name in required if name not in values]
        if missing:
            raise TypeError(f"{qualname}() missing {_missing(missing)}")
        for name in names:
            if name in values:
                value = values[name]
            elif specs[name].factory is not None:
                value = specs[name].factory()  # type: ignore[misc]
            else:
                value = specs[name].default
            if frozen:
                object.__setattr__(self, name, value)
            else:
                setattr(self, name, value)

    __init__.__qualname__, __init__.__module__ = qualname, cls.__module__
    return __init__


def _missing(names: list[str]) -> str:
    """CPython's words for missing arguments: ``1 required positional argument: 'a'``, ``2 ...: 'a' and 'b'``."""
    quoted = [repr(name) for name in names]
    listed = quoted[0] if len(quoted) == 1 else (
        f"{quoted[0]} and {quoted[1]}" if len(quoted) == 2 else f"{', '.join(quoted[:-1])}, and {quoted[-1]}")
    return f"{len(names)} required positional argument{'s' if len(names) > 1 else ''}: {listed}"


def _values(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    def values(obj: Any) -> tuple[Any, ...]:
        return tuple([getattr(obj, name) for name in names])

    return values


def _repr(names: tuple[str, ...]) -> Callable[[Any], str]:
    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{type(self).__qualname__}({inner})"

    return __repr__


def _eq(names: tuple[str, ...]) -> Callable[[Any, object], Any]:
    values = _values(names)

    def __eq__(self: Any, other: object) -> Any:
        if other.__class__ is self.__class__:
            return values(self) == values(other)
        return NotImplemented

    return __eq__


def _hash(names: tuple[str, ...]) -> Callable[[Any], int]:
    values = _values(names)

    def __hash__(self: Any) -> int:
        return hash(values(self))

    return __hash__


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")
