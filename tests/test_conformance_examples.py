"""Every rendered resource of every example validates against the upstream schema of its kind."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conformance import validate_resource
from tests.helpers import EXAMPLE_SPECS
from tests.regen_golden import rendered_tree


@pytest.mark.parametrize("spec", EXAMPLE_SPECS, ids=lambda p: p.stem)
def test_rendered_resources_conform(spec: Path) -> None:
    problems: list[str] = []
    count = 0
    for path, text in rendered_tree(spec).items():
        if not path.endswith(".yaml") or path.endswith("kustomization.yaml"):
            continue
        count += 1
        problems += [f"{path}: {p}" for p in validate_resource(yaml.safe_load(text))]
    assert problems == []
    assert count > 0
