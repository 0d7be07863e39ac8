"""aiogen.model.record: the Plan's value classes behave as the frozen dataclasses they replace."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import ClassVar

import pytest

from aiogen.model.plan import IssuerRef, ManualTls, Plan, RotationState
from aiogen.model.problems import AiogenError, Location, Problem
from aiogen.model.record import FrozenInstanceError, field, record, replace


@record
class Point:
    x: int
    y: str = "a"
    tags: tuple[str, ...] = field(default=())
    KIND: ClassVar[str] = "point"


@record(frozen=False)
class Bag:
    items: list[int] = field(default_factory=list)
    secret: str = field(default="", repr=False)


@dataclasses.dataclass(frozen=True)
class DataPoint:
    x: int
    y: str = "a"
    tags: tuple[str, ...] = ()


def test_a_frozen_record_is_a_frozen_dataclass() -> None:
    point, data = Point(1, tags=("t",)), DataPoint(1, tags=("t",))
    assert repr(point).replace("Point", "DataPoint", 1) == repr(data)
    assert point == Point(1, "a", ("t",)) and point != Point(2) and hash(point) == hash(Point(1, tags=("t",)))
    assert point != data and Point.KIND == "point" and Point.y == "a" and Point.__match_args__ == ("x", "y", "tags")
    with pytest.raises(FrozenInstanceError, match="cannot assign to field 'x'"):
        point.x = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del point.y  # type: ignore[misc]
    assert replace(point, y="b") == Point(1, "b", ("t",)) and point.y == "a"
    with pytest.raises(TypeError):
        replace(point, z=1)
    with pytest.raises(TypeError):
        Point()  # type: ignore[call-arg]
    match point:
        case Point(1, "a"):
            pass
        case _:
            pytest.fail("positional match")


def test_a_mutable_record_makes_each_default_anew_and_is_unhashable() -> None:
    first, second = Bag(), Bag(secret="s")
    first.items.append(1)
    assert second.items == [] and repr(first) == "Bag(items=[1])" and first != second
    with pytest.raises(TypeError):
        hash(first)


def test_a_field_without_a_default_after_one_with_is_refused() -> None:
    with pytest.raises(TypeError, match="without a default follows one with a default"):
        @record
        class Bad:
            a: int = 1
            b: int


def test_the_plan_and_problems_keep_their_dataclass_behaviour() -> None:
    ref = IssuerRef("ca", "ClusterIssuer")
    assert ref.group == "cert-manager.io" and ref == IssuerRef("ca", "ClusterIssuer", "cert-manager.io")
    assert repr(ref) == "IssuerRef(name='ca', kind='ClusterIssuer', group='cert-manager.io')"
    assert {ref, IssuerRef("ca", "ClusterIssuer")} == {ref} and ManualTls("s") != ref
    assert Plan("p", (), ()).warnings == ()
    rotation = RotationState("r", "serverRoot", "a", "b", "plan", (), timedelta(days=1), ("c",))
    assert rotation.from_max_leaf_lifetime is None and rotation.started_at("plan") is None
    problem = Problem("bad", "spec.x", Location("s.yaml", 3, 5), hint="fix it")
    assert problem.format() == "s.yaml:3:5 spec.x: bad (fix it)"
    error = AiogenError((problem,))
    assert error.exit_code == 1 and error.warnings == () and error.args == ((problem,),) and str(error) == problem.format()
    with pytest.raises(AiogenError) as raised:
        raise AiogenError.single("bad", path="spec.x")
    assert raised.value.problems == (Problem("bad", "spec.x"),)


def _outcome(make: type, *args: object, **kwargs: object) -> tuple[str, object]:
    try:
        made = make(*args, **kwargs)
    except TypeError as error:
        return ("TypeError", str(error))
    return (repr(made), list(vars(made).items()))


@pytest.mark.parametrize("frozen", [True, False])
def test_the_generic_init_binds_as_the_compiled_one_it_becomes(frozen: bool) -> None:
    """The first COMPILE_AFTER instances go through a generic __init__, later ones through the compiled
    one: every call gives the same fields in the same order, or CPython's very TypeError."""
    from aiogen.model import record as module

    calls: list[tuple[tuple[object, ...], dict[str, object]]] = [
        ((1,), {}), ((1, "b"), {}), ((1,), {"tags": ("t",)}), ((), {"x": 2, "y": "c"}), ((), {}),
        ((1, "b", ("t",), 4), {}), ((1,), {"x": 2}), ((1,), {"z": 3}), ((), {"y": "c"}), ((), {"x": 1, "w": 0}),
        ((1, 2, 3, 4, 5), {"q": 1}), ((1, 2, 3, 4, 5), {"x": 1}), ((1,), {"x": 1, "q": 2}), ((1,), {"q": 2, "x": 1}),
    ]

    @record(frozen=frozen)
    class Three:
        x: int
        w: int
        y: str = "a"
        tags: list[str] = field(default_factory=list)

    @record(frozen=frozen)
    class One:
        x: int

    for make, extra in ((Three, {"w": 0}), (One, {})):
        before = [_outcome(make, *args, **kwargs) for args, kwargs in calls]
        assert make.__dict__["__init__"].__code__.co_filename == module.__file__  # the generic one
        for _ in range(module.COMPILE_AFTER):
            make(0, **extra)
        assert make.__dict__["__init__"].__code__.co_filename == "<string>"  # compiled and installed
        assert [_outcome(make, *args, **kwargs) for args, kwargs in calls] == before
    assert _outcome(Three, 1) == ("TypeError", f"{Three.__qualname__}.__init__() missing 1 required positional "
                                               "argument: 'w'")
    assert _outcome(One, 1, 2)[1] == f"{One.__qualname__}.__init__() takes 2 positional arguments but 3 were given"


def test_a_mutable_records_generic_init_makes_each_default_anew() -> None:
    first, second = Bag(), Bag()
    assert first.items is not second.items and list(vars(first)) == ["items", "secret"]


@pytest.mark.parametrize("name", ["self", "_set", "_none", "_f_items", "_d_x"])
def test_a_field_named_as_the_compiled_init_names_its_own_is_refused_at_once(name: str) -> None:
    with pytest.raises(TypeError, match=f"a record field cannot be named '{name}'"):
        record(type("Bad", (), {"__annotations__": {name: "int"}}))
