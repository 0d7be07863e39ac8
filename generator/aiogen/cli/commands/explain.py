"""aiogen explain FIELD.PATH: a spec field's type, default, allowed values, description and fields."""

from __future__ import annotations

import argparse
import sys

from aiogen.model.problems import EXIT_OK

NAME = "explain"
HELP = "document a spec field, as `kubectl explain` does: type, default, allowed values, description, fields"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("field", nargs="?", default="", metavar="FIELD.PATH",
                        help="e.g. spec.clusters.broker.listeners (list items and map keys implicit); "
                             "nothing: the top of the spec")


def run(args: argparse.Namespace) -> int:
    from aiogen.model.fielddoc import explain, format_field, load_schema

    sys.stdout.write(format_field(explain(load_schema(), args.field)))
    return EXIT_OK
