"""aiogen simulate SPEC [SPEC...]: real keys, real handshakes, every phase; non-zero exit on any failure."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from aiogen.cli.options import add_spec_options, print_warnings
from aiogen.model.problems import EXIT_CHECK_FAILED, EXIT_OK

NAME = "simulate"
HELP = ("build a throwaway PKI from the spec and check every client population against every listener "
        "(RFC 5280 path validation and a real TLS handshake), in every phase of every rotation")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", type=Path, nargs="+",
                        help="topology spec (YAML); several specs are commits of one rollout, in order")
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    parser.add_argument("--export", type=Path, metavar="DIR",
                        help="write each check's material (server chain and key, client trust, client "
                             "certificate and key) as PEM files under DIR, with DIR/manifest.json")
    parser.add_argument("--failures", action="store_true", help="list only failed and skipped checks")
    parser.add_argument("--workers", type=int, metavar="N", help="handshake threads (default: 2 per CPU, at most 8)")
    add_spec_options(parser)


def run(args: argparse.Namespace) -> int:
    from aiogen.simulate.engine import simulate_specs
    from aiogen.simulate.export import write_export
    from aiogen.simulate.report import format_table, summary, to_json

    progress = _progress if sys.stderr.isatty() else None
    report, warnings = simulate_specs(list(args.spec), now=args.now, allow_outside_files=args.allow_outside_files,
                                      workers=args.workers, progress=progress)
    if progress is not None:
        sys.stderr.write("\r\033[K")
    print_warnings(warnings)
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.export is not None:
        count = write_export(report, args.export)
        print(f"aiogen: {count} files in {args.export}", file=sys.stderr)
    if args.json:
        sys.stdout.write(json.dumps(to_json(report), indent=2) + "\n")
        print(summary(report), file=sys.stderr)
    else:
        sys.stdout.write(format_table(report, failures_only=args.failures))
    return EXIT_OK if report.ok else EXIT_CHECK_FAILED


def _progress(done: int, total: int) -> None:
    if done == total or done % 25 == 0:
        sys.stderr.write(f"\raiogen simulate: {done}/{total} checks")
        sys.stderr.flush()
