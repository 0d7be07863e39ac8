"""aiogen diff SPEC -o DIR: what rendering would change in DIR, as a unified diff, for review.

The same comparison as ``aiogen render --check`` (`aiogen.drift`), but a difference is not a
failure: the exit status is 0 unless the spec itself is wrong. Nothing is written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aiogen.cli import report
from aiogen.cli.options import add_cluster_option, add_output_option, add_spec_argument, add_spec_options
from aiogen.model.problems import EXIT_OK

NAME = "diff"
HELP = "show, as a unified diff, what `render -o DIR` would change in DIR (writes nothing)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_argument(parser)
    add_output_option(parser, help="the rendered tree to compare with (as given to `aiogen render -o`)")
    add_cluster_option(parser, verb="compare")
    add_spec_options(parser)


def run(args: argparse.Namespace) -> int:
    from aiogen.output import layout
    from aiogen.output.drift import compare
    from aiogen.pipeline import render_spec

    plan, rendered = render_spec(args.spec, clusters=args.cluster, now=args.now,
                                 allow_outside_files=args.allow_outside_files)
    report.problems(plan.warnings)
    out_dir = Path(args.output)
    drift = compare(layout.tree(rendered), out_dir, [c.name for c in rendered] if args.cluster else None)
    sys.stdout.write(drift.diff)
    report.info(f"{out_dir}: {drift.summary()}")
    return EXIT_OK
