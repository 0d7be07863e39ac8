"""The KRM function's I/O: a ResourceList from stdin through `aiogen.krm.process` to stdout.

Everything that touches the process boundary is here: the bounded read of stdin, printing each
problem on stderr (kustomize ignores ``results`` and passes a function's stderr through), writing
the ResourceList, and the exit code. With an argument, aiogen is kustomize's legacy exec plugin
(`aiogen.krm.legacy`). docs/kustomize.md describes both.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from aiogen.model.problems import EXIT_USAGE, AiogenError, Problem, report_internal

USAGE = """\
aiogen: with no subcommand, aiogen runs as a KRM function: it reads a ResourceList on stdin.
  kustomize build --enable-alpha-plugins --enable-exec DIR   (config: exec: {path: aiogen})
  kpt fn eval DIR --exec aiogen --fn-config aiogen.yaml
To render a spec yourself: aiogen render SPEC -o DIR|-   (aiogen --help lists every command)
"""


def main(argv: list[str]) -> int:
    """Entry point: no arguments = KRM function; argv[0] an existing file = legacy exec plugin."""
    try:
        if argv:
            from aiogen.krm.legacy import legacy_plugin

            return legacy_plugin(argv)
        if sys.stdin is None or sys.stdin.isatty():
            sys.stderr.write(USAGE)
            return EXIT_USAGE
        return _function()
    except Exception as error:  # a bug in aiogen, not in the input: say so, as the CLI does
        if os.environ.get("AIOGEN_DEBUG"):
            raise
        return report_internal(error)


def _function() -> int:
    from aiogen.krm.process import process
    from aiogen.krm.resourcelist import MAX_INPUT_BYTES, ResourceList, read_resource_list, write_resource_list
    from aiogen.krm.results import results

    raw = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
    try:
        resource_list = read_resource_list(raw)
    except AiogenError as error:
        problems = (*error.warnings, *error.problems)
        _print_problems(problems)
        _write(sys.stdout, write_resource_list(ResourceList([], None, results(problems, None, None))))
        return error.exit_code
    processed = process(resource_list, cwd=Path.cwd())
    _print_problems(processed.problems)
    _write(sys.stdout, write_resource_list(processed.resource_list))
    return processed.exit_code


def _print_problems(problems: Iterable[Problem]) -> None:
    _write(sys.stderr, "".join(f"aiogen: {problem.format()}\n" for problem in problems))


def _write(stream: Any, text: str) -> None:
    try:
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        pass
