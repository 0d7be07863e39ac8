"""aiogen validate SPEC [SPEC...]: every check render makes, nothing written, every problem printed.

Each spec is checked and reported on its own; the exit status is 1 when any spec is invalid.
The report (one verdict line per spec, or ``--format json``) is on stdout, the problems on stderr.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiogen.cli import report
from aiogen.cli.options import add_format_option, add_spec_argument, add_spec_options
from aiogen.model.problems import EXIT_INVALID, EXIT_OK, EXIT_USAGE, AiogenError, Problem

if TYPE_CHECKING:  # argparse only for type hints: off the render path (aiogen.cli.fast)
    import argparse

    from aiogen.model.plan import Plan
    from aiogen.render import RenderedCluster

NAME = "validate"
HELP = "check one or more specs without writing anything; print every problem and warning"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_argument(parser, several=True, help="topology spec(s) (YAML); - reads one from standard input")
    add_spec_options(parser)
    add_format_option(parser)


def run(args: argparse.Namespace) -> int:
    from aiogen.pipeline import STDIN

    specs: list[Path] = args.spec
    if specs.count(STDIN) > 1:
        raise AiogenError((Problem("standard input (-) can be read only once"),), exit_code=EXIT_USAGE)
    codes: list[int] = []
    results = [_validate(spec, args, codes) for spec in specs]
    failed = len(codes)
    if args.format == "json":
        warnings = sum(len(result["warnings"]) for result in results)
        problems = sum(len(result["problems"]) for result in results)
        report.out_json({"valid": failed == 0, "specs": results,
                         "counts": {"specs": len(results), "invalid": failed,
                                    "problems": problems, "warnings": warnings}})
    return (codes[0] if len(codes) == 1 and len(specs) == 1 else EXIT_INVALID) if codes else EXIT_OK


def _validate(spec: Path, args: argparse.Namespace, codes: list[int]) -> dict[str, Any]:
    """Check one spec; print its problems (stderr) and, as text, its verdict (stdout)."""
    from aiogen.pipeline import render_spec

    name = "<stdin>" if str(spec) == "-" else str(spec)
    plan: Plan | None = None
    rendered: list[RenderedCluster] = []
    problems: tuple[Problem, ...] = ()
    try:
        plan, rendered = render_spec(spec, now=args.now, allow_outside_files=args.allow_outside_files)
        warnings = plan.warnings
    except AiogenError as error:
        warnings, problems = error.warnings, error.problems
        codes.append(error.exit_code)
    report.problems((*warnings, *problems))
    resources = sum(len(c.resources) for c in rendered)
    clusters = len(plan.clusters) if plan is not None else 0
    if args.format == "text":
        if plan is not None:
            report.out(f"{name}: valid: {clusters} cluster(s), {resources} resources, {len(warnings)} warning(s)")
        else:
            report.out(f"{name}: invalid: {len(problems)} problem(s), {len(warnings)} warning(s)")
    return {"spec": name, "valid": plan is not None, "clusters": clusters, "resources": resources,
            "problems": [report.problem_json(p) for p in problems],
            "warnings": [report.problem_json(p) for p in warnings]}
