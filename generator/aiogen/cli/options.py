"""Options shared by several subcommands, each declared once here (standard library only).

    add_spec_argument   SPEC (a path, or - for standard input), once or several times
    add_output_option   -o/--output DIR (or - for a stream, where the command can write one)
    add_cluster_option  --cluster NAME, repeatable
    add_spec_options    --now DATE and --allow-outside-files: how the spec is read
    add_format_option   --format text|json: how the report is printed on stdout
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # argparse is imported where an error is raised: render/validate start without it
    import argparse

from aiogen.model.clock import parse_instant

STREAM = "-"  # -o -: a YAML stream on stdout; SPEC -: the spec on standard input


def parse_now(text: str) -> datetime:
    """--now: a date (YYYY-MM-DD) or an ISO timestamp; without a time zone it is UTC."""
    try:
        return parse_instant(text)
    except ValueError:
        import argparse

        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD) or ISO timestamp") from None


def add_spec_argument(parser: argparse.ArgumentParser, *, several: bool = False,
                      help: str = "topology spec (YAML); - reads it from standard input") -> None:
    parser.add_argument("spec", type=Path, nargs="+" if several else None, metavar="SPEC", help=help)


def output_directory(text: str) -> str:
    """-o DIR: refuse what can never be a directory to write or compare (a usage error, exit 2)."""
    import argparse

    if not text:
        raise argparse.ArgumentTypeError("is empty; give a directory (or - where a stream is allowed)")
    if text != STREAM and os.path.isfile(text):
        raise argparse.ArgumentTypeError(f"{text} is a file, not a directory")
    return text


def directory(text: str) -> Path:
    """A directory to write into (--out, --export, init DIR): never '' (which would mean here), never a file."""
    import argparse

    if not text:
        raise argparse.ArgumentTypeError("is empty; give a directory")
    if os.path.isfile(text):
        raise argparse.ArgumentTypeError(f"{text} is a file, not a directory")
    return Path(text)


def add_output_option(parser: argparse.ArgumentParser, *, help: str, stream: bool = False) -> None:
    parser.add_argument("-o", "--output", required=True, type=output_directory,
                        metavar="DIR|-" if stream else "DIR", help=help)


def add_cluster_option(parser: argparse.ArgumentParser, *, verb: str = "render") -> None:
    parser.add_argument("--cluster", action="append", metavar="NAME", help=f"{verb} only this cluster (repeatable)")


def add_spec_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--now", type=parse_now, metavar="DATE",
                        help="the clock for expiry, minDwell and lifetime checks (default: now); "
                             "a date means 00:00 UTC, a time without a zone is UTC")
    parser.add_argument("--allow-outside-files", action="store_true",
                        help="let PEM paths in the spec point outside the spec's directory")


def add_format_option(parser: argparse.ArgumentParser, *, extra: tuple[str, ...] = (),
                      help: str = "text for people (default), json for CI (on stdout, stable keys)") -> None:
    """--format text|json (and any ``extra`` forms): how a command prints its report on stdout."""
    parser.add_argument("--format", choices=("text", "json", *extra), default="text", help=help)
