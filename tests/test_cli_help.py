"""Every subcommand's --help ends with examples, and the read-only ones run as written."""

from __future__ import annotations

import shlex

import pytest

from aiogen.cli.app import command_names
from aiogen.cli.examples import EXAMPLES
from tests.helpers import REPO, aiogen

ACTIONS = ["rollout check", "rollout advance", "rollout plan"]


@pytest.mark.parametrize("command", [*command_names(), *ACTIONS])
def test_help_ends_with_examples(command: str) -> None:
    run = aiogen(*command.split(), "--help")
    assert run.code == 0, run.err
    examples = run.out.split("\nexamples:\n", 1)
    assert len(examples) == 2, run.out
    lines = [line.strip() for line in examples[1].splitlines() if line.strip().startswith("aiogen ")]
    assert lines and all(line.startswith(f"aiogen {command.split()[0]} ") for line in lines), lines


def test_every_command_has_examples() -> None:
    assert set(EXAMPLES) == {*command_names(), *ACTIONS}


READ_ONLY = [  # examples that write nothing and need nothing but this checkout
    "aiogen validate examples/fleet.yaml",
    "aiogen rollout plan examples/rollover/02-distribute.yaml --now 2026-12-10",
    "aiogen rollout check examples/rollover/01-prepare.yaml examples/rollover/02-distribute.yaml --now 2026-12-08",
    "aiogen explain spec.clusters.broker.listeners",
    "aiogen explain spec.defaults.leaf.duration",
    "aiogen timeline examples/fleet.yaml --years 3",
    "aiogen ca lint examples/pki/contoso-root-2025.pem",
]


@pytest.mark.parametrize("example", READ_ONLY)
def test_examples_run(example: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert any(example in text for text in EXAMPLES.values()), example
    monkeypatch.chdir(REPO)
    run = aiogen(*shlex.split(example)[1:])
    assert run.code == 0, run.err
