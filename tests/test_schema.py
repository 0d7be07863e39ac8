"""schemas/topology.schema.json is the current `aiogen schema` output, and the examples follow it."""

from __future__ import annotations

import json
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


@pytest.mark.parametrize("spec", all_example_specs(), ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_examples_validate_against_the_json_schema(spec: Path) -> None:
    import jsonschema

    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    errors = sorted(str(e.message) for e in jsonschema.Draft202012Validator(schema).iter_errors(
        json.loads(json.dumps(yaml.safe_load(spec.read_text()), default=str))))
    assert errors == []


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
