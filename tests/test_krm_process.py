"""The KRM function is a pure processor apart from its I/O (issue 10): `process` takes a
ResourceList and returns one, reading no stdin, writing no stdout or stderr, exiting nothing; the
stdin/stdout adapter adds only the bounded read, the printed problems and the exit code."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
import yaml

from aiogen.krm.function import main
from aiogen.krm.process import process
from aiogen.krm.resourcelist import ResourceList, read_resource_list, write_resource_list
from tests.helpers import EXAMPLES
from tests.test_krm import call, render_config, resource_list


class _NoStdin(io.RawIOBase):
    def read(self, size: int = -1) -> bytes:
        raise AssertionError("process read stdin")


def test_process_is_pure_and_the_adapter_adds_only_io(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    user = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"}}
    text = resource_list(render_config("lab.yaml"), [user])
    monkeypatch.chdir(EXAMPLES)
    through_stdio = call(monkeypatch, capsys, text)

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(_NoStdin()))
    processed = process(read_resource_list(text.encode()), cwd=EXAMPLES)
    assert capsys.readouterr() == ("", "")  # nothing printed
    assert processed.exit_code == 0 and processed.problems == ()
    assert write_resource_list(processed.resource_list) == through_stdio.raw
    assert yaml.safe_load(through_stdio.raw)["items"][0] == user


def test_process_reports_problems_as_results_and_an_exit_code(tmp_path: Path) -> None:
    processed = process(ResourceList([], render_config("missing.yaml")), cwd=tmp_path)
    assert processed.exit_code == 1
    (problem,) = processed.problems
    assert problem.message == "'missing.yaml' does not exist"
    (result,) = processed.resource_list.results
    assert result["severity"] == "error" and result["field"] == {"path": "spec.topology"}
    assert result["resourceRef"] == {"apiVersion": "aiogen.io/v1alpha1", "kind": "RenderConfig", "name": "cfg"}


def test_the_adapter_is_the_console_entry_point() -> None:
    from aiogen import krm

    assert krm.main is main
