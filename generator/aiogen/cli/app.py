"""Command line: argument parsing, dispatch and exit codes only.

Subcommands live in `aiogen.cli.commands.<name>`; this module finds them, wires their arguments and
turns expected failures (`AiogenError`) into a clean message and an exit code, never a traceback.
With no subcommand the program acts as a KRM function or legacy kustomize exec plugin
(`aiogen.krm`), so the console script can be named directly in a kustomization.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from aiogen import __version__
from aiogen.cli import report as output
from aiogen.model.problems import EXIT_INVALID, EXIT_USAGE, AiogenError, report_internal

if TYPE_CHECKING:  # argparse, pkgutil and importlib are imported where used: off the render path (cli.fast)
    import argparse
    from types import ModuleType


def command_names() -> list[str]:
    import pkgutil

    from aiogen.cli import commands

    return sorted(m.name for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_"))


def _command_modules(only: str | None = None) -> list[ModuleType]:
    import importlib

    names = [only] if only else command_names()
    return [importlib.import_module(f"aiogen.cli.commands.{name}") for name in names]


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; with ``only``, just that subcommand (start-up: import one module)."""
    import argparse

    from aiogen.cli.examples import EXAMPLES

    parser = argparse.ArgumentParser(
        prog="aiogen",
        description="Render the PKI of Azure IoT Operations fleets as code. "
        "Without a subcommand, aiogen runs as a KRM function (ResourceList on stdin).",
        epilog="start here:\n  aiogen init fleet-repo            a GitOps repository (docs/quickstart.md)\n"
        "  aiogen COMMAND --help             every command's options and examples",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"aiogen {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules(only):
        command = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP,
                                 epilog=EXAMPLES.get(module.NAME),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser


def report(error: AiogenError) -> None:
    output.problems((*error.warnings, *error.problems))


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or (not args_list[0].startswith("-") and _is_plugin_invocation(args_list[0])):
        from aiogen import krm

        return krm.main(args_list)
    parser = build_parser(args_list[0] if args_list[0] in command_names() else None)
    args = parser.parse_args(args_list)
    if getattr(args, "run", None) is None:
        parser.print_help(sys.stderr)
        return 2
    return run_command(args.run, args)


def run_command(run: Callable[[Any], int], args: Any) -> int:
    """Run one subcommand; expected failures become a message and an exit code, never a traceback."""
    output.begin()
    try:
        code: int = run(args)
    except AiogenError as error:
        report(error)
        if getattr(args, "format", None) == "json" and error.exit_code != EXIT_USAGE:  # usage: like argparse's
            output.failure_json(error.problems, error.warnings, error.exit_code)
        return error.exit_code
    except KeyboardInterrupt:
        output.info("interrupted")
        return 130
    except BrokenPipeError:
        return EXIT_INVALID
    except Exception as error:  # a bug in aiogen, not in the input: say so, without a traceback
        if os.environ.get("AIOGEN_DEBUG"):
            raise
        return report_internal(error)
    return code


def _is_plugin_invocation(first: str) -> bool:
    """kustomize's legacy exec plugin passes a temporary config file path as argv[1]."""
    from aiogen.cli.fast import command_module_names  # without pkgutil: this runs on every legacy call

    return os.path.isfile(first) and first not in command_module_names()


def console() -> None:
    """The `aiogen` console script: `main`, then exit without a final garbage collection pass.

    `gc.freeze()` moves every live object out of the collector's reach, so interpreter shutdown
    does not walk them all once more (30-90 ms on every `kustomize build`); a one-shot command
    skips the shutdown altogether (`aiogen.cli.fast.end`). Tests call `main`.
    """
    import gc

    from aiogen.cli import fast  # speed hook: no collections in a one-shot render (aiogen.cli.fast)

    fast.prepare(sys.argv[1:])
    parsed = fast.parse(sys.argv[1:])  # render/validate in their plain forms: no argparse
    code = main() if parsed is None else run_command(parsed.run, parsed)
    gc.freeze()
    fast.end(sys.argv[1:], code)
    sys.exit(code)


if __name__ == "__main__":
    console()
