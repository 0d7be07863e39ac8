"""The console script's start (aiogen.cli.fast): one-shot commands run without garbage collections."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from aiogen.cli.fast import one_shot
from tests.helpers import EXAMPLES


def test_one_shot_commands(tmp_path: Path) -> None:
    config = tmp_path / "plugin-config"
    config.write_text("kind: Topology\n", encoding="utf-8")
    assert one_shot([]) and one_shot(["render", "x.yaml", "-o", "-"]) and one_shot(["validate", "x.yaml"])
    assert one_shot([str(config)])  # kustomize's legacy exec plugin: a config file as the only argument
    for argv in (["simulate", "x.yaml"], ["rollout", "check"], ["--help"], ["--version"], ["ca", "init"]):
        assert not one_shot(argv), argv


def test_console_script_renders_the_same_bytes_without_collections() -> None:
    code = ("import gc, sys\n"
            "from aiogen.cli import app, fast\n"
            "fast.prepare(sys.argv[1:])\n"
            "assert not gc.isenabled()\n"
            "sys.exit(app.main())\n")
    argv = ["render", "fleet.yaml", "-o", "-", "--now", "2026-01-01"]
    quiet = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=EXAMPLES)
    collected = "import gc, sys\nfrom aiogen.cli import app\nassert gc.isenabled()\nsys.exit(app.main())\n"
    plain = subprocess.run([sys.executable, "-c", collected, *argv], capture_output=True, text=True, cwd=EXAMPLES)
    assert quiet.returncode == plain.returncode == 0, quiet.stderr + plain.stderr
    assert quiet.stdout == plain.stdout and quiet.stdout.count("\n---\n") > 10


def test_the_yaml_unsafe_pattern_is_the_complement_of_yaml_printable() -> None:
    """render.templates spells the pattern as the short complement (it compiles 20× faster): the same set."""
    import re

    from aiogen.render.templates import _NOT_YAML_SAFE

    printable = re.compile("[^\t\n\r\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
    every = "".join(map(chr, range(0x110000)))
    assert _NOT_YAML_SAFE.findall(every) == printable.findall(every)
    assert len(_NOT_YAML_SAFE.findall(every)) == 2114
