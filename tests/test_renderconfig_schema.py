"""schemas/renderconfig.schema.json (issue 15): a JSON Schema for the RenderConfig function config,
shipped in the package like the Topology schema; the examples follow it, and it accepts exactly
the RenderConfigs the function accepts."""

from __future__ import annotations

import importlib.resources
import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from aiogen.krm.config import RENDER_CONFIG_FIELDS, STAGE_CHOICES, request_for, topology_file
from aiogen.krm.process import process
from aiogen.krm.resourcelist import ResourceList
from tests.helpers import EXAMPLES, REPO

SCHEMA_PATH = REPO / "schemas" / "renderconfig.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
EXAMPLE_CONFIGS = sorted(p for p in (EXAMPLES / "kustomize").rglob("*.yaml")
                         if (yaml.safe_load(p.read_text()) or {}).get("kind") == "RenderConfig")


def test_the_schema_is_draft_2020_12_and_describes_every_property() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    undescribed: list[str] = []

    def walk(node: dict[str, Any], path: str) -> None:
        if "description" not in node:
            undescribed.append(path or "(root)")
        for name, child in node.get("properties", {}).items():
            walk(child, f"{path}.{name}" if path else name)
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{path}[]")

    walk(SCHEMA, "")
    assert undescribed == []


def test_the_schema_ships_in_the_package() -> None:
    shipped = importlib.resources.files("aiogen") / "schemas" / "renderconfig.schema.json"
    assert shipped.read_text() == SCHEMA_PATH.read_text()
    pyproject = (REPO / "pyproject.toml").read_text()
    assert '"schemas/*.json"' in pyproject  # package-data: the wheel carries every schema


def test_the_schema_has_the_fields_the_function_reads() -> None:
    spec = SCHEMA["properties"]["spec"]
    assert set(spec["properties"]) == set(RENDER_CONFIG_FIELDS)
    types = {str: "string", list: "array", bool: "boolean"}
    for name, kind in RENDER_CONFIG_FIELDS.items():
        assert spec["properties"][name].get("type", "string") == types[kind], name
    assert spec["properties"]["stage"]["enum"] == list(STAGE_CHOICES)
    assert spec["additionalProperties"] is False


def test_there_are_render_config_examples() -> None:
    assert {p.parent.name for p in EXAMPLE_CONFIGS} >= {"render-config", "kpt", "legacy", "prerequisites", "broker"}


@pytest.mark.parametrize("path", EXAMPLE_CONFIGS, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_examples_validate_and_the_function_accepts_them(path: Path) -> None:
    config = yaml.safe_load(path.read_text())
    assert sorted(e.message for e in VALIDATOR.iter_errors(config)) == []
    request = request_for(config, path.parent, [])
    assert topology_file(request).is_file()
    depth = len(path.relative_to(EXAMPLES).parts) - 1
    assert path.read_text().splitlines()[0] == (
        f"# yaml-language-server: $schema={'../' * (depth + 1)}schemas/renderconfig.schema.json")


def _config(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "aiogen.io/v1alpha1", "kind": "RenderConfig", "metadata": {"name": "cfg"},
            "spec": spec}


AGREEMENT = {  # RenderConfigs of examples/lab.yaml (one cluster, lab-1): either both accept or both refuse
    "minimal": _config(topology="lab.yaml"),
    "everything": _config(topology="lab.yaml", clusters=["lab-1"], stage="broker", allowOutsideFiles=True),
    "each stage": _config(topology="lab.yaml", stage="prerequisites"),
    "stage all": _config(topology="lab.yaml", stage="all"),
    "no clusters named": _config(topology="lab.yaml", clusters=[]),
    "unknown field": _config(topology="lab.yaml", cluster=["lab-1"]),
    "no topology": _config(clusters=["lab-1"]),
    "empty topology": _config(topology=""),
    "blank topology": _config(topology="  "),
    "topology not a string": _config(topology=["lab.yaml"]),
    "clusters a string": _config(topology="lab.yaml", clusters="lab-1"),
    "empty cluster name": _config(topology="lab.yaml", clusters=[""]),
    "cluster name a number": _config(topology="lab.yaml", clusters=[1]),
    "unknown stage": _config(topology="lab.yaml", stage="brokers"),
    "stage not a string": _config(topology="lab.yaml", stage=1),
    "allowOutsideFiles a string": _config(topology="lab.yaml", allowOutsideFiles="true"),
    "spec a list": {**_config(), "spec": ["lab.yaml"]},
    "spec missing": {k: v for k, v in _config().items() if k != "spec"},
    "spec null": {**_config(), "spec": None},
}


@pytest.mark.parametrize("name", list(AGREEMENT))
def test_the_schema_accepts_what_the_function_accepts(name: str, tmp_path: Path) -> None:
    """The function's verdict is the whole run's (process), with the spec in place."""
    shutil.copy(EXAMPLES / "lab.yaml", tmp_path / "lab.yaml")
    config = AGREEMENT[name]
    processed = process(ResourceList([], config), cwd=tmp_path)
    function_accepts = processed.exit_code == 0
    assert VALIDATOR.is_valid(config) == function_accepts, processed.problems
