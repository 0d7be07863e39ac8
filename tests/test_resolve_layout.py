"""The resolver's shape (issue 10): rule modules are pure (every file is read by resolve.inputs
first), each answers one question in a module under 500 lines, no function over 80."""

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


@pytest.mark.parametrize("module", sorted(RESOLVE.glob("*.py")), ids=lambda p: p.name)
def test_modules_and_functions_stay_small(module: Path) -> None:
    text = module.read_text()
    assert len(text.splitlines()) <= 500
    long = [
        node.name
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef) and node.end_lineno is not None and node.end_lineno - node.lineno >= 80
    ]
    assert long == []


def test_no_resolver_module_is_left() -> None:
    assert not (RESOLVE / "resolver.py").exists()
