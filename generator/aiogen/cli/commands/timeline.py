"""aiogen timeline SPEC: when each CA and leaf is issued, renews and expires; what would break."""

from __future__ import annotations

import argparse
import sys

from aiogen.cli import report
from aiogen.cli.options import add_format_option, add_spec_argument, add_spec_options
from aiogen.model.problems import EXIT_CHECK_FAILED, EXIT_OK

NAME = "timeline"
HELP = ("show when each CA and leaf certificate is issued, renews and expires over the next years, and flag "
        "children that outlive their issuer and rotation phases that are too short")


def _years(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of years") from None
    if not 1 <= value <= 50:
        raise argparse.ArgumentTypeError("give between 1 and 50 years")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_argument(parser)
    parser.add_argument("--years", type=_years, default=5, metavar="N", help="how far ahead to look (default: 5)")
    add_format_option(parser, extra=("table", "mermaid", "markdown"),
                      help="text (or table, the default); mermaid: a gantt chart; markdown: the table and a "
                           "```mermaid block, for a README or pull request (GitHub renders it); json")
    parser.add_argument("--check", action="store_true", help="exit 3 when anything is flagged as an error")
    add_spec_options(parser)


def run(args: argparse.Namespace) -> int:
    from aiogen.model.clock import now_utc
    from aiogen.pipeline import load_plan
    from aiogen.rollout import timeline

    plan = load_plan(args.spec, now=args.now, allow_outside_files=args.allow_outside_files)
    report.problems(plan.warnings)
    result = timeline.build(plan, start=args.now or now_utc(), years=args.years)
    if args.format == "json":
        report.out_json(timeline.to_json(result))
    elif args.format == "mermaid":
        sys.stdout.write(timeline.format_mermaid(result))
    elif args.format == "markdown":
        table, chart = timeline.format_table(result), timeline.format_mermaid(result, fence=True)
        sys.stdout.write(f"```\n{table}```\n\n{chart}")
    else:
        sys.stdout.write(timeline.format_table(result))
    failed = args.check and any(f.severity == "error" for f in result.flags)
    return EXIT_CHECK_FAILED if failed else EXIT_OK
