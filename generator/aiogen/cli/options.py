"""Arguments and output helpers shared by several subcommands (standard library only)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from aiogen.model.problems import Problem


def parse_now(text: str) -> datetime:
    """--now: a date (YYYY-MM-DD) or an ISO timestamp, taken as UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD) or ISO timestamp") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def add_spec_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--now", type=parse_now, metavar="DATE",
                        help="the clock for expiry and dwell-time checks (default: now); output never depends on it")
    parser.add_argument("--allow-outside-files", action="store_true",
                        help="let PEM paths in the spec point outside the spec's directory")


def print_warnings(warnings: tuple[Problem, ...]) -> None:
    for warning in warnings:
        print(warning.format(), file=sys.stderr)


def add_format_option(parser: argparse.ArgumentParser, *, extra: tuple[str, ...] = ()) -> None:
    """--format text|json (and any ``extra`` forms): how a command prints its report on stdout."""
    parser.add_argument("--format", choices=("text", "json", *extra), default="text",
                        help="text for people (default), json for CI")
