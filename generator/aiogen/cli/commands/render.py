"""aiogen render SPEC -o DIR|-: write the manifests of every cluster (or some).

With ``--check`` it writes nothing: it compares DIR with what the spec renders to, prints the
unified diff on stdout and exits `EXIT_CHECK_FAILED` when they differ. That is the command a CI
job or pre-commit hook runs on a GitOps repository where the rendered tree is committed.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiogen.cli import report
from aiogen.cli.options import (
    STREAM,
    add_cluster_option,
    add_format_option,
    add_output_option,
    add_spec_argument,
    add_spec_options,
)
from aiogen.model.problems import EXIT_CHECK_FAILED, EXIT_OK, EXIT_USAGE, AiogenError, Problem

if TYPE_CHECKING:  # argparse only for type hints: off the render path (aiogen.cli.fast)
    import argparse

    from aiogen.output.drift import Drift
    from aiogen.output.tree import WriteResult

NAME = "render"
HELP = "render manifests: one directory per cluster (-o DIR) or one YAML stream (-o -)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_argument(parser)
    add_output_option(parser, stream=True,
                      help="output directory (one subdirectory per cluster), or - for a YAML stream on stdout")
    add_cluster_option(parser)
    parser.add_argument("--check", action="store_true",
                        help="write nothing; print the diff and exit 3 when DIR differs from what the spec renders")
    add_spec_options(parser)
    add_format_option(parser)


def run(args: argparse.Namespace) -> int:
    if args.output == STREAM and (args.check or args.format == "json"):
        what = "--check compares with a directory" if args.check else "--format json reports on a directory"
        raise AiogenError((Problem(f"aiogen render: {what}; give -o DIR"),), exit_code=EXIT_USAGE)
    if args.output == STREAM:
        return _stream(args)
    return _tree(args)


def _stream(args: argparse.Namespace) -> int:
    """`-o -`: one YAML stream, written cluster by cluster as it is rendered."""
    from aiogen.output import stream as stream_output
    from aiogen.pipeline import load_plan
    from aiogen.render import iter_render, select

    plan = load_plan(args.spec, now=args.now, allow_outside_files=args.allow_outside_files)
    clusters = [c.name for c in select(plan, args.cluster)]
    report.problems(plan.warnings)
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
    report.problems(plan.warnings)
    out_dir = Path(args.output)
    rendered = iter_render(plan, clusters)
    del plan  # held by `rendered` until the last cluster is rendered, then freed (peak RSS of a large fleet)
    scope = clusters if args.cluster else None  # whole spec: removed clusters are stale
    if args.check:
        from aiogen.output.drift import compare

        return _check(args, compare(layout.tree(rendered), out_dir, scope), out_dir)
    result = tree_writer.write_rendered(rendered, out_dir, scope=scope)  # written as rendered, cluster by cluster
    if args.format == "json":
        report.out_json(_written_json(result, clusters, out_dir))
    else:
        report.out(f"{len(clusters)} cluster(s) in {out_dir}: {len(result.written)} written, "
                   f"{len(result.unchanged)} unchanged, {len(result.removed)} removed")
    return EXIT_OK


def _check(args: argparse.Namespace, drift: Drift, out_dir: Path) -> int:
    if args.format == "json":
        report.out_json({"output": str(out_dir), "clean": drift.clean, "changed": list(drift.changed),
                         "missing": list(drift.missing), "stale": list(drift.stale),
                         "foreign": list(drift.foreign), "ownedListOutdated": drift.owned_list_outdated,
                         "summary": drift.summary(), "diff": drift.diff})
    else:
        sys.stdout.write(drift.diff)
    if drift.clean:
        report.info(f"{out_dir} is up to date with {args.spec}")
        return EXIT_OK
    report.info(f"{out_dir} is stale: {drift.summary()}; "
                f"run `aiogen render {args.spec} -o {out_dir}` and commit the result")
    return EXIT_CHECK_FAILED


def _written_json(result: WriteResult, clusters: Sequence[str], out_dir: Path) -> dict[str, Any]:
    return {"output": str(out_dir),
            "clusters": [{"name": name, **lists} for name, lists in result.by_cluster(clusters).items()],
            "counts": {"clusters": len(clusters), "written": len(result.written),
                       "unchanged": len(result.unchanged), "removed": len(result.removed)}}
