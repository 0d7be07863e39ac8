"""aiogen as kustomize's legacy exec plugin (what `kubectl kustomize --enable-alpha-plugins` runs).

kustomize runs the plugin with a temporary copy of the config as its only argument, in the
kustomization directory (also passed as ``KUSTOMIZE_PLUGIN_CONFIG_ROOT``), and reads plain YAML
on stdout. A generator gets empty stdin; a transformer gets every resource as YAML and must return
them. The config becomes a render request exactly as the KRM function's does.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiogen.krm import resourcelist
from aiogen.krm.config import request_for
from aiogen.krm.process import render_request
from aiogen.krm.resourcelist import UnreadableValue, loader
from aiogen.krm.source import kustomization, read_small
from aiogen.model.problems import EXIT_INVALID, EXIT_OK, EXIT_USAGE, AiogenError, Location, Problem


def legacy_plugin(argv: Sequence[str]) -> int:
    """Render the config file argv[0]; print the stdin resources (if any) and then aiogen's."""
    root = os.environ.get("KUSTOMIZE_PLUGIN_CONFIG_ROOT")
    if root is None:
        print(f"aiogen: {argv[0]} is not a subcommand. To render a spec: aiogen render {argv[0]} -o DIR|-",
              file=sys.stderr)
        return EXIT_USAGE
    if len(argv) > 1:
        print("aiogen: the exec plugin takes no arguments (remove argsOneLiner/argsFromFile); "
              "put settings in the config object", file=sys.stderr)
        return EXIT_INVALID
    limit = resourcelist.MAX_INPUT_BYTES
    stdin = b"" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.buffer.read(limit + 1)
    try:
        if len(stdin) > limit:
            raise AiogenError.single(f"the resources on stdin are over {limit} bytes",
                                     location=Location("<stdin>"), hint="docs/kustomize.md lists the input limits")
        config = _read_legacy_config(Path(argv[0]))
        base_dir = Path(root)
        outcome = render_request(request_for(config, base_dir, kustomization(base_dir)))
    except AiogenError as error:
        _print_problems((*error.warnings, *error.problems))
        return error.exit_code
    _print_problems(outcome.warnings)
    from aiogen.output import stream as stream_output

    text = stdin.decode("utf-8", errors="replace")
    if text.strip() and not text.endswith("\n"):
        text += "\n"
    _write((text if text.strip() else "") + stream_output.stream(outcome.rendered))
    return EXIT_OK


def _read_legacy_config(path: Path) -> dict[str, Any]:
    import yaml

    text = read_small(path)
    if text is None:
        raise AiogenError.single(f"cannot read the plugin config {path}")
    try:
        data = yaml.load(text, Loader=loader())
    except yaml.YAMLError as error:
        raise AiogenError.single(f"the plugin config is not valid YAML: {error}") from None
    except UnreadableValue as error:
        raise AiogenError.single(f"the plugin config: {error.message}",
                                 location=Location(str(path), error.line, error.column)) from None
    if not isinstance(data, dict):
        raise AiogenError.single("the plugin config is not a mapping (a Topology or a RenderConfig)")
    return data


def _print_problems(problems: Sequence[Problem]) -> None:
    for problem in problems:
        print(f"aiogen: {problem.format()}", file=sys.stderr)


def _write(text: str) -> None:
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        pass
