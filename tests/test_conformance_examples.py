"""Every rendered resource of every example validates against the upstream schema of its kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance import validate_tree
from tests.helpers import EXAMPLE_SPECS
from tests.regen_golden import rendered_tree


@pytest.mark.parametrize("spec", EXAMPLE_SPECS, ids=lambda p: p.stem)
def test_rendered_resources_conform(spec: Path) -> None:
    problems, count = validate_tree(rendered_tree(spec))
    assert problems == []
    assert count > 0
