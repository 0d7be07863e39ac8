"""aiogen simulate SPEC [SPEC...]: real keys, real handshakes, every phase; non-zero exit on any failure."""

from __future__ import annotations

import argparse
import sys

from aiogen.cli import report as output
from aiogen.cli.options import add_format_option, add_spec_argument, add_spec_options, directory
from aiogen.model.problems import EXIT_CHECK_FAILED, EXIT_OK

NAME = "simulate"
HELP = ("build a throwaway PKI from the spec and check every client population against every listener "
        "(RFC 5280 path validation and a real TLS handshake), in every phase of every rotation")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_argument(parser, several=True,
                      help="topology spec (YAML); several specs are commits of one rollout, in order")
    add_format_option(parser)
    parser.add_argument("--json", action="store_const", dest="format", const="json",
                        help="the same as --format json")
    parser.add_argument("--export", type=directory, metavar="DIR",
                        help="write each check's material (server chain and key, client trust, client "
                             "certificate and key) as PEM files under DIR, with DIR/manifest.json")
    parser.add_argument("--failures", action="store_true", help="list only failed and skipped checks")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="processes running the handshakes (default: one per CPU, at most 8; 1: all in this one)")
    add_spec_options(parser)


def run(args: argparse.Namespace) -> int:
    from aiogen.simulate.engine import simulate_specs
    from aiogen.simulate.export import write_export
    from aiogen.simulate.report import format_table, summary, to_json

    progress = output.Progress("simulate: checks")
    report, warnings = simulate_specs(list(args.spec), now=args.now, allow_outside_files=args.allow_outside_files,
                                      workers=args.workers, progress=progress)
    progress.finish()
    output.problems(warnings)
    for note in report.notes:
        output.note(note)
    if args.export is not None:
        count = write_export(report, args.export)
        output.info(f"{count} files in {args.export}")
    if args.format == "json":
        output.out_json(to_json(report))
        output.info(summary(report))
    else:
        sys.stdout.write(format_table(report, failures_only=args.failures))
    return EXIT_OK if report.ok else EXIT_CHECK_FAILED
