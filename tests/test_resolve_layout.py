"""The resolver's shape (issue 10): rule modules are pure (every file is read by resolve.inputs
first). Sizes and layering, for every package: tests/test_architecture.py."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers import REPO

RESOLVE = REPO / "generator" / "aiogen" / "resolve"
RULES = sorted(p for p in RESOLVE.glob("*.py") if p.name not in {"inputs.py", "context.py"})
# what reading a file looks like: a call of open() or read_pem_file(), or of a Path method
FILE_FUNCTIONS = {"open", "read_pem_file"}
FILE_METHODS = {"open", "read_pem_file", "read_text", "read_bytes", "resolve", "is_file", "exists", "stat"}


@pytest.mark.parametrize("module", RULES, ids=lambda p: p.name)
def test_rule_modules_read_no_file(module: Path) -> None:
    tree = ast.parse(module.read_text())
    calls = [node.func for node in ast.walk(tree) if isinstance(node, ast.Call)]
    methods = {f.attr for f in calls if isinstance(f, ast.Attribute)}
    functions = {f.id for f in calls if isinstance(f, ast.Name)}
    assert (methods & FILE_METHODS, functions & FILE_FUNCTIONS) == (set(), set())


def test_no_resolver_module_is_left() -> None:
    assert not (RESOLVE / "resolver.py").exists()
