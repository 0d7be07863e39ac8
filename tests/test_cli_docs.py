"""The README starts with what works on a fresh machine and sends operators to the quickstart;
every aiogen command the quickstart shows parses with today's command line."""

from __future__ import annotations

import re
import shlex

import pytest

from aiogen.cli.app import build_parser
from tests.helpers import REPO

QUICKSTART = REPO / "docs" / "quickstart.md"


def test_readme_starts_with_the_two_commands_then_the_quickstart() -> None:
    text = (REPO / "README.md").read_text()
    block = text.split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert text.startswith("# aiogen\n\n```bash\n")
    assert block[0].startswith("python3 -m venv .venv && .venv/bin/pip install -q -e . && .venv/bin/aiogen precompile"
                               " && .venv/bin/aiogen render examples/")
    assert block[1].startswith("bash .ci/run")
    links = re.findall(r"\(docs/([a-z-]+\.md)\)|`docs/([a-z-]+\.md)`", text)
    assert next(a or b for a, b in links) == "quickstart.md"
    assert text.index("docs/quickstart.md") < text.index("## Development")


def quickstart_commands() -> list[str]:
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", QUICKSTART.read_text(), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #", 1)[0].strip()
            if line.startswith("aiogen ") and not line.startswith("aiogen -") and "$(" not in line:
                commands.append(line)
    return commands


def test_the_quickstart_covers_the_journey() -> None:
    names = [shlex.split(c)[1] for c in quickstart_commands()]
    assert names[0] == "precompile"  # the install's last step
    names = names[1:]
    assert names[0] == "init" and {"explain", "validate", "render", "rollout"} <= set(names)
    text = QUICKSTART.read_text()
    assert "source <(aiogen completion bash)" in text
    order = ["az iot ops init", "--user-trust", "kubectl apply -k clusters/cluster-1/prerequisites",
             "az iot ops create", "aio-trust-settings.txt", "kubectl apply -k clusters/cluster-1/broker"]
    install = text[text.index("## 6."):]
    positions = [install.index(step) for step in order]
    assert positions == sorted(positions)


@pytest.mark.parametrize("command", quickstart_commands())
def test_quickstart_commands_parse(command: str) -> None:
    words = [w.replace('"$BASE_SHA"', "main").replace("$BASE_SHA", "main") for w in shlex.split(command)[1:]]
    build_parser().parse_args(words)
