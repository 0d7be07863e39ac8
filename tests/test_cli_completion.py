"""`aiogen completion`: scripts generated from the parser, valid for their shell, complete every command."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from aiogen.cli.app import command_names
from tests.helpers import aiogen


def complete(script: Path, *words: str) -> list[str]:
    """What bash offers after `aiogen WORDS...` (the last word is the one being completed)."""
    bash = shutil.which("bash")
    assert bash is not None
    line = " ".join(f"'{w}'" for w in ("aiogen", *words))
    program = (f"source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words)}; _aiogen; "
               'printf "%s\\n" "${COMPREPLY[@]}"')
    result = subprocess.run([bash, "--noprofile", "--norc", "-c", program], capture_output=True, text=True,
                            check=True)
    return [w for w in result.stdout.splitlines() if w]


@pytest.fixture(scope="module")
def bash_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = aiogen("completion", "bash")
    assert run.code == 0, run.err
    script = tmp_path_factory.mktemp("completion") / "aiogen.bash"
    script.write_text(run.out)
    return script


def test_bash_script_is_valid_and_lists_every_subcommand(bash_script: Path) -> None:
    bash = shutil.which("bash")
    assert bash is not None
    check = subprocess.run([bash, "-n", str(bash_script)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert complete(bash_script, "") == command_names()
    assert {"explain", "init", "completion", "render", "rollout"} <= set(command_names())


def test_bash_completes_actions_options_and_choices(bash_script: Path) -> None:
    assert complete(bash_script, "rollout", "") == ["check", "advance", "plan"]
    assert complete(bash_script, "rollout", "check", "a.yaml", "--f") == ["--format"]
    assert complete(bash_script, "render", "x.yaml", "--format", "") == ["text", "json"]
    assert complete(bash_script, "render", "x.yaml", "--c") == ["--cluster", "--check"]
    assert complete(bash_script, "completion", "") == ["bash", "zsh", "fish"]
    assert complete(bash_script, "validate", "") == []  # a file name: bash's default completion


def test_every_option_of_the_parser_is_in_the_script() -> None:
    from aiogen.cli.app import build_parser
    from aiogen.cli.completion import shape

    script = aiogen("completion", "bash").out
    for command in shape(build_parser()).walk():
        for option in command.options:
            assert f" {option}" in script, (command.path, option)


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts(shell: str) -> None:
    run = aiogen("completion", shell)
    assert run.code == 0, run.err
    for name in command_names():
        assert name in run.out
    if shell == "fish":
        assert "complete -c aiogen -n '__fish_use_subcommand' -f -a render -d " in run.out
        assert "complete -c aiogen -n '__fish_seen_subcommand_from render' -l format -x -a 'text json'" in run.out
    binary = shutil.which(shell)
    if binary is None:
        pytest.skip(f"{shell} is not installed here; the script is checked by its content only")
    flag = ["--no-execute"] if shell == "fish" else ["-n"]
    check = subprocess.run([binary, *flag], input=run.out, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_explain_completes_the_specs_field_paths(bash_script: Path) -> None:
    from aiogen.model.fielddoc import explain, field_paths, load_schema

    offered = complete(bash_script, "explain", "spec.clusters.pki.in")
    assert offered[0] == "spec.clusters.pki.intermediate" and "spec.clusters.pki.intermediate.keyVault" in offered
    assert all(word.startswith("spec.clusters.pki.in") for word in offered)
    assert "spec.clusters.broker.listeners.ports.tls.san.dns" in complete(bash_script, "explain", "spec.clusters.b")
    schema = load_schema()
    paths = field_paths(schema)
    assert paths[:4] == ["apiVersion", "kind", "metadata", "metadata.name"] and len(paths) == len(set(paths))
    assert all(explain(schema, path).path == path for path in paths)  # every offer is a field explain documents
