"""aiogen validate SPEC: every check render makes, nothing written, every problem printed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aiogen.cli.options import add_spec_options, print_warnings
from aiogen.model.problems import EXIT_OK

NAME = "validate"
HELP = "check a spec without writing anything; print every problem and warning"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", type=Path, help="topology spec (YAML)")
    add_spec_options(parser)


def run(args: argparse.Namespace) -> int:
    from aiogen.pipeline import render_spec

    plan, rendered = render_spec(args.spec, now=args.now, allow_outside_files=args.allow_outside_files)
    print_warnings(plan.warnings)
    resources = sum(len(c.resources) for c in rendered)
    print(f"{args.spec}: valid: {len(plan.clusters)} cluster(s), {resources} resources, "
          f"{len(plan.warnings)} warning(s)", file=sys.stderr)
    return EXIT_OK
