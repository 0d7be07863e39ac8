"""aiogen render SPEC -o DIR|-: write the manifests of every cluster (or some).

With ``--check`` it writes nothing: it compares DIR with what the spec renders to, prints the
unified diff on stdout and exits `EXIT_CHECK_FAILED` when they differ. That is the command a CI
job or pre-commit hook runs on a GitOps repository where the rendered tree is committed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aiogen.cli.options import add_spec_options, print_warnings
from aiogen.model.problems import EXIT_CHECK_FAILED, EXIT_OK, EXIT_USAGE

NAME = "render"
HELP = "render manifests: one directory per cluster (-o DIR) or one YAML stream (-o -)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", type=Path, help="topology spec (YAML)")
    parser.add_argument("-o", "--output", required=True, metavar="DIR|-",
                        help="output directory (one subdirectory per cluster), or - for a YAML stream on stdout")
    parser.add_argument("--cluster", action="append", metavar="NAME", help="render only this cluster (repeatable)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; print the diff and exit 3 when DIR differs from what the spec renders")
    add_spec_options(parser)


def run(args: argparse.Namespace) -> int:
    if args.check and args.output == "-":
        print("aiogen render: --check compares with a directory; give -o DIR", file=sys.stderr)
        return EXIT_USAGE
    if args.output == "-":
        return _stream(args)
    return _tree(args)


def _stream(args: argparse.Namespace) -> int:
    """`-o -`: one YAML stream, written cluster by cluster as it is rendered."""
    from aiogen.output import stream as stream_output
    from aiogen.pipeline import load_plan
    from aiogen.render import iter_render, select

    plan = load_plan(args.spec, now=args.now, allow_outside_files=args.allow_outside_files)
    clusters = [c.name for c in select(plan, args.cluster)]
    print_warnings(plan.warnings)
    for cluster in iter_render(plan, clusters):  # written as rendered: memory stays one cluster deep
        sys.stdout.write(stream_output.stream([cluster]))
    return EXIT_OK


def _tree(args: argparse.Namespace) -> int:
    from aiogen.output import layout
    from aiogen.output import tree as tree_writer
    from aiogen.pipeline import load_plan
    from aiogen.render import iter_render, select

    plan = load_plan(args.spec, now=args.now, allow_outside_files=args.allow_outside_files)
    clusters = [c.name for c in select(plan, args.cluster)]
    print_warnings(plan.warnings)
    out_dir = Path(args.output)
    files = layout.tree(iter_render(plan, clusters))
    scope = clusters if args.cluster else None  # whole spec: removed clusters are stale
    if args.check:
        from aiogen.output.drift import compare

        drift = compare(files, out_dir, scope)
        sys.stdout.write(drift.diff)
        if drift.clean:
            print(f"aiogen: {out_dir} is up to date with {args.spec}", file=sys.stderr)
            return EXIT_OK
        print(f"aiogen: {out_dir} is stale: {drift.summary()}; "
              f"run `aiogen render {args.spec} -o {out_dir}` and commit the result", file=sys.stderr)
        return EXIT_CHECK_FAILED
    result = tree_writer.write_tree(files, out_dir, scope=scope)
    print(f"aiogen: {len(clusters)} cluster(s) in {out_dir}: {len(result.written)} written, "
          f"{len(result.unchanged)} unchanged, {len(result.removed)} removed", file=sys.stderr)
    return EXIT_OK
