"""schemas/topology.schema.json is the current `aiogen schema` output, and the examples follow it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tests.helpers import EXAMPLE_SPECS, EXAMPLES, REPO, aiogen

SCHEMA = REPO / "schemas" / "topology.schema.json"


def test_checked_in_schema_is_current() -> None:
    run = aiogen("schema")
    assert run.code == 0
    assert SCHEMA.read_text(encoding="utf-8") == run.out, "run `aiogen schema > schemas/topology.schema.json`"


def all_example_specs() -> list[Path]:
    return sorted(p for p in EXAMPLES.rglob("*.yaml") if "kustomize" not in p.parts and
                  yaml.safe_load(p.read_text()).get("kind") == "Topology")


def yaml_1_1(text: str) -> object:
    """What PyYAML (YAML 1.1: 2025-01-01 is a date, `no` is false) gives a tool like check-jsonschema."""
    return yaml.safe_load(text)


def yaml_1_2(text: str) -> object:
    """What a YAML 1.2 core-schema loader (the YAML language server, aiogen itself) gives."""
    from aiogen.yamlio.parse import parse_yaml

    return parse_yaml(text, source="spec", base_dir=Path.cwd()).data


@pytest.mark.parametrize("load", [yaml_1_1, yaml_1_2], ids=["yaml-1.1", "yaml-1.2"])
@pytest.mark.parametrize("spec", all_example_specs(), ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_examples_validate_against_the_json_schema(spec: Path, load: Callable[[str], object]) -> None:
    """The objects a loader hands over, as they are (no date turned back into a string)."""
    import jsonschema

    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    errors = sorted(f"{list(e.absolute_path)}: {e.message}"
                    for e in jsonschema.Draft202012Validator(schema).iter_errors(load(spec.read_text())))
    assert errors == []


def test_an_unquoted_date_is_what_yaml_1_1_loaders_trip_on() -> None:
    """Why the examples quote their dates: PyYAML reads 2026-12-01 as a date, the schema wants a string."""
    import jsonschema

    schema = json.loads(SCHEMA.read_text())
    spec = (EXAMPLES / "rollover" / "02-distribute.yaml").read_text()
    unquoted = spec.replace('"2026-12-01"', "2026-12-01")
    assert unquoted != spec
    assert not jsonschema.Draft202012Validator(schema).is_valid(yaml_1_1(unquoted))
    assert jsonschema.Draft202012Validator(schema).is_valid(yaml_1_2(unquoted))


def properties(node: object, where: str = "") -> Iterator[tuple[str, dict[str, object]]]:
    if isinstance(node, dict):
        for name, value in node.get("properties", {}).items():
            yield f"{where}.{name}", value
        for key, value in node.items():
            yield from properties(value, f"{where}/{key}" if key != "properties" else where)
    elif isinstance(node, list):
        for value in node:
            yield from properties(value, where)


def test_every_property_has_a_description() -> None:
    """Editors show the description on hover and in completion: none is left blank."""
    found = list(properties(json.loads(SCHEMA.read_text())))
    assert len(found) > 130
    assert [where for where, value in found if not str(value.get("description", "")).strip()] == []


@pytest.mark.parametrize("spec", EXAMPLE_SPECS, ids=lambda p: p.stem)
def test_examples_name_the_schema_for_editors(spec: Path) -> None:
    first = spec.read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=../schemas/topology.schema.json"


def test_schema_rejects_an_unknown_field() -> None:
    import jsonschema

    schema = json.loads(SCHEMA.read_text())
    spec = yaml.safe_load((EXAMPLES / "lab.yaml").read_text())
    spec["spec"]["clusters"][0]["colour"] = "blue"
    assert not jsonschema.Draft202012Validator(schema).is_valid(spec)
