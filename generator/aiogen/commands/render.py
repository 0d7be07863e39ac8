"""aiogen render SPEC -o DIR|-: write the manifests of every cluster (or some)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aiogen.commands._common import add_spec_options, print_warnings
from aiogen.errors import EXIT_OK

NAME = "render"
HELP = "render manifests: one directory per cluster (-o DIR) or one YAML stream (-o -)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", type=Path, help="topology spec (YAML)")
    parser.add_argument("-o", "--output", required=True, metavar="DIR|-",
                        help="output directory (one subdirectory per cluster), or - for a YAML stream on stdout")
    parser.add_argument("--cluster", action="append", metavar="NAME", help="render only this cluster (repeatable)")
    add_spec_options(parser)


def run(args: argparse.Namespace) -> int:
    from aiogen import emit
    from aiogen.pipeline import render_spec

    plan, rendered = render_spec(args.spec, clusters=args.cluster, now=args.now,
                                 allow_outside_files=args.allow_outside_files)
    print_warnings(plan.warnings)
    if args.output == "-":
        sys.stdout.write(emit.stream(rendered))
        return EXIT_OK
    out_dir = Path(args.output)
    result = emit.write_tree(emit.tree(rendered), out_dir, scope=[c.name for c in rendered])
    print(f"aiogen: {len(rendered)} cluster(s) in {out_dir}: {len(result.written)} written, "
          f"{len(result.unchanged)} unchanged, {len(result.removed)} removed", file=sys.stderr)
    return EXIT_OK
