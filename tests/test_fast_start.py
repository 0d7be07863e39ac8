"""The console script's start (aiogen.cli.fast): one-shot commands run without garbage collections."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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

    from aiogen.render.templates import _quote, not_yaml_safe

    printable = re.compile("[^\t\n\r\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
    every = "".join(map(chr, range(0x110000)))
    assert not_yaml_safe().findall(every) == printable.findall(every)
    assert len(not_yaml_safe().findall(every)) == 2114
    # the ASCII shortcut of the `q` filter escapes what the pattern does: each character, alone and in text
    for code in [*range(0x3000), *range(0xd800, 0xe000), 0xfffd, 0xfffe, 0xffff, 0x10000, 0x10ffff]:
        char = chr(code)
        expected = json.dumps(char, ensure_ascii=False)
        expected = not_yaml_safe().sub(lambda m: f"\\u{ord(m.group()):04x}", expected)
        assert _quote(char) == expected and _quote(f"a{char}b") == expected[:1] + "a" + expected[1:-1] + "b\""


def test_plain_render_and_validate_parse_as_argparse_does(tmp_path: Path) -> None:
    """aiogen.cli.fast.parse gives argparse's attributes, or None (argparse decides) for anything unusual."""
    from aiogen.cli.app import build_parser
    from aiogen.cli.fast import parse

    a_file = tmp_path / "a-file"
    a_file.write_text("x", encoding="utf-8")
    same = (["render", "f.yaml", "-o", "-"], ["render", "-", "-o", "out"], ["render", "-o=out", "f.yaml"],
            ["render", "f.yaml", "--output", "d", "--cluster", "a", "--cluster=b", "--check", "--format", "json"],
            ["render", "--now", "2026-01-01", "f.yaml", "-o", "-", "--allow-outside-files"],
            ["validate", "a.yaml", "b.yaml", "--format=json", "--now", "2026-01-01T10:00:00+02:00"],
            ["validate", "--now=2026-01-01", "-"])
    for argv in same:
        fast = parse(argv)
        assert fast is not None, argv
        assert vars(fast) == vars(build_parser(argv[0]).parse_args(argv)), argv
    argparse_decides = (["render", "f.yaml"], ["render", "f.yaml", "-o"], ["render", "f.yaml", "-o", "-", "-h"],
                        ["render", "f.yaml", "--out", "-"], ["render", "f.yaml", "-o", "-", "--now", "soon"],
                        ["render", "f.yaml", "-o", str(a_file)], ["render", "f.yaml", "-o", ""],
                        ["render", "f.yaml", "-o=", "x"], ["render", "a", "b", "-o", "-"],
                        ["render", "f.yaml", "-o", "-", "-o", "d"], ["render", "f.yaml", "--check=1", "-o", "d"],
                        ["render", "f.yaml", "-o", "-", "--format", "yaml"], ["validate"], ["validate", "-o", "-", "f"],
                        ["validate", "a.yaml", "--format", "json", "b.yaml"], ["validate", "--", "a.yaml"],
                        ["simulate", "f.yaml"], [], ["--version"])
    for argv in argparse_decides:
        assert parse(argv) is None, argv


def test_the_render_path_imports_no_argparse_and_no_other_command() -> None:
    code = ("import sys\n"
            "from aiogen.cli import app\n"
            "sys.argv = ['aiogen', 'validate', 'fleet.yaml', '--now', '2026-01-01']\n"
            "import os\n"
            "def report(code):\n"
            "    loaded = [m for m in sys.modules if m in ('argparse', 'pkgutil') or m.startswith('aiogen.cli.commands.')]\n"
            "    print(code, sorted(loaded), flush=True)\n"
            "    sys.exit(0)\n"
            "os._exit = report\n"  # the console script's exit, once validate has returned
            "app.console()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=EXAMPLES)
    assert done.stdout.splitlines()[-1] == "0 ['aiogen.cli.commands.validate']", done.stdout + done.stderr


def test_positions_are_found_only_when_a_problem_is_located() -> None:
    """A spec without problems never holds the positions of its values (peak memory of large fleets)."""
    from aiogen.yamlio.parse import parse_yaml

    text = "spec:\n  clusters:\n    - name: a\n      port: 8883\n"
    doc = parse_yaml(text, source="s.yaml", base_dir=Path())
    assert doc._positions is None and doc._key_positions is None
    at = doc.locate(("spec", "clusters", 0, "port"))
    assert (at.line, at.column) == (4, 13)
    key = doc.locate(("spec", "clusters", 0, "port"), key=True)
    assert (key.line, key.column) == (4, 7)
    assert doc._positions is not None


def test_rendering_into_a_large_tree_again_stays_within_a_small_descriptor_limit(tmp_path: Path) -> None:
    """-o DIR holds the directory descriptors of one cluster at a time, not of the whole tree."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    try:
        import fleet  # bench/fleet.py: N clusters of the benchmark's shape
    finally:
        sys.path.pop(0)
    fleet.write_pems(tmp_path)
    spec = fleet.write_fleet(tmp_path, 120)  # 360 directories
    code = ("import resource, sys\n"
            "resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))\n"
            "from aiogen.cli import app\n"
            "sys.exit(app.main())\n")
    argv = [sys.executable, "-c", code, "render", str(spec), "-o", str(tmp_path / "out")]
    first = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path)
    again = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path)
    assert first.returncode == 0 and first.stdout.endswith("2400 written, 0 unchanged, 0 removed\n"), first.stderr
    assert again.returncode == 0 and again.stdout.endswith("0 written, 2400 unchanged, 0 removed\n"), again.stderr


_CONSOLE = ("import atexit, sys\nfrom aiogen.cli import app\n"
            "atexit.register(lambda: sys.stderr.write('interpreter teardown\\n'))\n"
            "sys.argv = ['aiogen', *sys.argv[1:]]\napp.console()\n")
_MAIN = "import sys\nfrom aiogen.cli import app\nsys.exit(app.main())\n"


def _run(script: str, *argv: str, cwd: Path = EXAMPLES) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_a_one_shot_command_ends_without_teardown_and_loses_nothing(tmp_path: Path) -> None:
    """render, validate and the KRM function end once their output is flushed, without tearing the
    interpreter down (aiogen.cli.fast.end): the same bytes, messages and exit codes as `main`."""
    for argv in (["render", "fleet.yaml", "-o", "-", "--now", "2026-01-01"],
                 ["validate", "fleet.yaml", "--now", "2026-01-01"],
                 ["validate", str(tmp_path / "missing.yaml")]):
        ended, returned = _run(_CONSOLE, *argv), _run(_MAIN, *argv)
        assert (ended.returncode, ended.stdout, ended.stderr) == (returned.returncode, returned.stdout,
                                                                  returned.stderr), argv
        assert "interpreter teardown" not in ended.stderr
    assert returned.returncode == 1 and "missing.yaml" in returned.stderr
    # -o DIR: every file is in place when the process has gone
    ended = _run(_CONSOLE, "render", "fleet.yaml", "-o", str(tmp_path / "tree"), "--now", "2026-01-01")
    returned = _run(_MAIN, "render", "fleet.yaml", "-o", str(tmp_path / "again"), "--now", "2026-01-01")
    assert ended.returncode == returned.returncode == 0, ended.stderr
    files = {p.relative_to(tmp_path / "tree"): p.read_bytes() for p in (tmp_path / "tree").rglob("*") if p.is_file()}
    again = {p.relative_to(tmp_path / "again"): p.read_bytes() for p in (tmp_path / "again").rglob("*") if p.is_file()}
    assert files == again and len(files) > 20
    # any other command tears down as the interpreter always does
    other = _run(_CONSOLE, "--version")
    assert other.returncode == 0 and "interpreter teardown" in other.stderr


def test_a_closed_pipe_still_ends_as_it_always_has() -> None:
    """When stdout is gone the flush fails and the usual exit reports it: exit code 1, no traceback."""
    process = subprocess.Popen([sys.executable, "-c", _CONSOLE, "render", "fleet.yaml", "-o", "-", "--now",
                                "2026-01-01"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=EXAMPLES)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.read(10)
    process.stdout.close()
    errors = process.stderr.read().decode()
    assert process.wait(timeout=120) == 1 and "Traceback" not in errors


@pytest.mark.parametrize("closed", ["2>&-", ">&-"])
def test_a_closed_standard_stream_ends_as_main_does(closed: str) -> None:
    """Started with stderr or stdout closed (Python then has None for it), a one-shot command still
    exits with `main`'s code, and never with a traceback of its own."""
    argv = "validate fleet.yaml --now 2026-01-01"
    ended = subprocess.run(f"exec {sys.executable} -c \"$CONSOLE\" {argv} {closed}", shell=True, cwd=EXAMPLES,
                           capture_output=True, text=True, env={**os.environ, "CONSOLE": _CONSOLE}, timeout=120)
    returned = subprocess.run(f"exec {sys.executable} -c \"$MAIN\" {argv} {closed}", shell=True, cwd=EXAMPLES,
                              capture_output=True, text=True, env={**os.environ, "MAIN": _MAIN}, timeout=120)
    assert ended.returncode == returned.returncode, (ended.stderr, returned.stderr)
    assert "fast.py" not in ended.stderr


def test_a_file_named_as_a_command_is_that_command_not_a_plugin_config(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("ca", "rollout", "schema", "notacommand"):
        (tmp_path / name).write_text("kind: Topology\n")
    assert not one_shot(["ca", "root"]) and not one_shot(["rollout"]) and not one_shot(["schema"])
    assert one_shot(["notacommand"])  # kustomize's legacy exec plugin: a config file as the only argument
