"""aiogen completion bash|zsh|fish: print a completion script, generated from the argument parser."""

from __future__ import annotations

import argparse
import sys

from aiogen.model.problems import EXIT_OK

NAME = "completion"
HELP = "print a shell completion script (bash, zsh or fish) for aiogen's commands and options"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", choices=("bash", "zsh", "fish"), help="the shell to complete in")


def run(args: argparse.Namespace) -> int:
    from aiogen.cli.app import build_parser
    from aiogen.cli.completion import SHELLS, shape, with_values
    from aiogen.model.fielddoc import field_paths, load_schema

    commands = with_values(shape(build_parser()), ("explain",), field_paths(load_schema()))
    sys.stdout.write(SHELLS[args.shell](commands))
    return EXIT_OK
