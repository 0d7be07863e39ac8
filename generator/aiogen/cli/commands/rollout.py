"""aiogen rollout check|advance|plan: prove a rollover step safe, take the next step, list what is left.

  aiogen rollout check OLD_SPEC NEW_SPEC [--now DATE]     exit 0 safe, 3 not safe (each broken pair named)
  aiogen rollout check --base REV SPEC [--now DATE]       OLD_SPEC is SPEC as it was at git revision REV
  aiogen rollout advance SPEC ROTATION [--now DATE] [--dry-run]
  aiogen rollout plan SPEC [--now DATE]
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from aiogen.cli.options import parse_now, print_warnings
from aiogen.model.problems import EXIT_CHECK_FAILED, EXIT_OK, EXIT_USAGE, AiogenError, Problem

if TYPE_CHECKING:
    from aiogen.rollout.report import RolloutReport
    from aiogen.rollout.schedule import Step

NAME = "rollout"
HELP = "zero-downtime rollovers: check a step (check), take the next one (advance), list what is left (plan)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="rollout_action", metavar="ACTION", required=True)

    check = actions.add_parser(
        "check", help="prove that replacing the deployed spec by the proposed one breaks no client",
        description="Compare the deployed spec (OLD_SPEC, or SPEC at --base REV) with the proposed one and prove, "
        "for every server and client population, that every chain a server may present while the change "
        "lands is trusted before and after it. Exit 0 when safe, 3 when not (each broken pair is named).")
    check.add_argument("old", nargs="?", type=Path, metavar="OLD_SPEC", help="the spec deployed now")
    check.add_argument("new", type=Path, metavar="NEW_SPEC", help="the spec proposed")
    check.add_argument("--base", metavar="REV", help="take OLD_SPEC from this git revision (same path as NEW_SPEC)")
    add_spec_options(check)
    check.set_defaults(rollout_run=_check)

    advance = actions.add_parser(
        "advance", help="move a rotation one phase forward in the spec (after retire: finish it)",
        description="Move ROTATION one phase forward in SPEC and record today's date (or --now) in `started`; "
        "after retire, finish it (pki.next becomes pki). Refuses while minDwell or the leaf lifetime rule "
        "is not met, or when `rollout check` would not pass. Comments and layout are kept.")
    advance.add_argument("spec", type=Path, metavar="SPEC", help="topology spec (YAML), edited in place")
    advance.add_argument("rotation", metavar="ROTATION", help="name of the rotation in spec.rotations")
    advance.add_argument("--dry-run", action="store_true", help="print the edited spec on stdout; change nothing")
    add_spec_options(advance)
    advance.set_defaults(rollout_run=_advance)

    plan = actions.add_parser(
        "plan", help="the steps each rotation has left and the earliest date for each",
        description="List, for every rotation in SPEC, the remaining steps and the earliest date each may be "
        "taken, from the spec's dates, minDwell and certificate lifetimes.")
    plan.add_argument("spec", type=Path, metavar="SPEC", help="topology spec (YAML)")
    add_spec_options(plan)
    plan.set_defaults(rollout_run=_plan)


def add_spec_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--now", type=parse_now, metavar="DATE",
                        help="the clock for minDwell and certificate lifetimes (default: now); a date means 00:00 UTC")
    parser.add_argument("--allow-outside-files", action="store_true",
                        help="let PEM paths in the spec point outside the spec's directory")


def run(args: argparse.Namespace) -> int:
    code: int = args.rollout_run(args)
    return code


def _now(args: argparse.Namespace) -> datetime:
    from aiogen.pki.pem import now_utc

    value: datetime | None = args.now
    return value if value is not None else now_utc()


# ---------------------------------------------------------------- check


def _check(args: argparse.Namespace) -> int:
    from aiogen.pipeline import load_plan
    from aiogen.rollout import check as rollout_check

    now = _now(args)
    if args.base is not None and args.old is not None:
        raise AiogenError((Problem("give either OLD_SPEC NEW_SPEC, or --base REV NEW_SPEC, not both"),),
                          exit_code=EXIT_USAGE)
    if args.base is None and args.old is None:
        raise AiogenError((Problem("rollout check needs OLD_SPEC and NEW_SPEC, or --base REV and NEW_SPEC"),),
                          exit_code=EXIT_USAGE)
    new_plan = load_plan(args.new, now=now, allow_outside_files=args.allow_outside_files)
    if args.base is not None:
        from aiogen.rollout.git import spec_at_revision

        with spec_at_revision(args.base, args.new, whole_repository=args.allow_outside_files) as (path, display):
            old_plan = load_plan(path, display=display, now=now, allow_outside_files=args.allow_outside_files)
        old_name = display
    else:
        old_plan = load_plan(args.old, now=now, allow_outside_files=args.allow_outside_files)
        old_name = str(args.old)
    print_warnings(new_plan.warnings)
    report = rollout_check.check(old_plan, new_plan, now, deployed_name=old_name, proposed_name=str(args.new))
    return _print_report(report)


def _print_report(report: RolloutReport) -> int:
    when = report.now.date().isoformat()
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    if report.safe:
        print(f"rollout check: {report.deployed} → {report.proposed} is safe on {when}")
        for line in report.summary:
            print(f"  {line}")
        return EXIT_OK
    pairs = len(report.breaks)
    clusters = len({b.cluster for b in report.breaks})
    what = []
    if pairs:
        what.append(f"{pairs} (server, client population) pair(s) on {clusters} cluster(s) would lose trust")
    if report.holds:
        what.append(f"{len(report.holds)} other reason(s) to wait or fix the spec")
    raise AiogenError((*report.problems(), Problem(
        f"rollout check: {report.deployed} → {report.proposed} is NOT safe on {when}: {'; '.join(what)}")),
        exit_code=EXIT_CHECK_FAILED)


# ---------------------------------------------------------------- advance


def _advance(args: argparse.Namespace) -> int:
    from aiogen.rollout.advance import advance

    now = _now(args)
    result = advance(args.spec, args.rotation, now, allow_outside_files=args.allow_outside_files)
    print_warnings(result.plan.warnings)
    if args.dry_run:
        sys.stdout.write(result.text)
    else:
        _replace(args.spec, result.text)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    verb = "would move" if args.dry_run else "moved"
    if result.new_phase == "finish":
        done = f"rotation {result.rotation} {'would be' if args.dry_run else 'is'} finished (it was in retire)"
    else:
        done = (f"rotation {result.rotation} {verb} from {result.old_phase} to {result.new_phase} "
                f"(started.{result.new_phase}: {result.day.isoformat()})")
    print(f"{args.spec}: {done}", file=sys.stderr)
    for line in result.report.summary:
        print(f"  {line}", file=sys.stderr)
    if result.next_step is not None:
        print(f"next: {_step_line(result.next_step, now)}", file=sys.stderr)
    return EXIT_OK


def _replace(path: Path, text: str) -> None:
    """Write ``text`` over ``path`` (aiogen.rollout.advance.write_spec: atomic, links written through)."""
    from aiogen.rollout.advance import write_spec

    write_spec(path, text)


# ---------------------------------------------------------------- plan


def _plan(args: argparse.Namespace) -> int:
    from aiogen.pipeline import load_plan
    from aiogen.rollout import schedule

    now = _now(args)
    plan = load_plan(args.spec, now=now, allow_outside_files=args.allow_outside_files)
    print_warnings(plan.warnings)
    if not plan.rotations:
        print(f"{args.spec}: no rotation in progress")
        return EXIT_OK
    for rotation in plan.rotations:
        moves = f"{rotation.from_} → {rotation.to}" if rotation.from_ and rotation.to else "new intermediates"
        began = rotation.started_at(rotation.phase)
        print(f"rotation {rotation.name} ({rotation.kind} {moves} on {', '.join(rotation.clusters)}): "
              f"in {rotation.phase} since {began.isoformat() if began else '?'}")
        for step in schedule.remaining_steps(plan, rotation):
            print(f"  {_step_line(step, now)}")
    return EXIT_OK


def _step_line(step: Step, now: datetime) -> str:
    if step.ready is None or step.earliest is None:
        return f"{step.phase:<10} date unknown    ({step.because})"
    if now >= step.ready:
        status = "ready now"
    else:
        days = (step.earliest - now.date()).days
        status = f"in {days} day{'s' if days != 1 else ''}"
    return f"{step.phase:<10} {step.earliest.isoformat()}  {status:<12} ({step.because})"
