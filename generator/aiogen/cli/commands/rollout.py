"""aiogen rollout check|advance|plan: prove a rollover step safe, take the next step, list what is left.

  aiogen rollout check OLD_SPEC NEW_SPEC [--now DATE]     exit 0 safe, 3 not safe (each broken pair named)
  aiogen rollout check --base REV SPEC [--now DATE]       OLD_SPEC is SPEC as it was at git revision REV
  aiogen rollout advance SPEC ROTATION [--now DATE] [--dry-run]
  aiogen rollout plan SPEC [--now DATE]

`check` and `plan` print their report on stdout (text or ``--format json``) whatever the verdict;
the problems (each broken pair, each hold) go to stderr. `advance` prints what it did on stderr:
with --dry-run its stdout is the edited spec.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiogen.cli import report as output
from aiogen.cli.examples import EXAMPLES
from aiogen.cli.options import add_format_option, add_spec_argument, add_spec_options
from aiogen.model.problems import EXIT_CHECK_FAILED, EXIT_OK, EXIT_USAGE, AiogenError, Problem

if TYPE_CHECKING:
    from aiogen.model.plan import Plan
    from aiogen.rollout.report import RolloutReport
    from aiogen.rollout.schedule import Step

NAME = "rollout"
HELP = "zero-downtime rollovers: check a step (check), take the next one (advance), list what is left (plan)"


def _action(actions: Any, name: str, help: str, description: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = actions.add_parser(
        name, help=help, description=description, epilog=EXAMPLES[f"rollout {name}"],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="rollout_action", metavar="ACTION", required=True)

    check = _action(
        actions, "check", "prove that replacing the deployed spec by the proposed one breaks no client",
        "Compare the deployed spec (OLD_SPEC, or SPEC at --base REV) with the proposed one and prove, "
        "for every server and client population, that every chain a server may present while the change "
        "lands is trusted before and after it. Exit 0 when safe, 3 when not (each broken pair is named).")
    check.add_argument("old", nargs="?", type=Path, metavar="OLD_SPEC", help="the spec deployed now")
    check.add_argument("new", type=Path, metavar="NEW_SPEC", help="the spec proposed")
    check.add_argument("--base", metavar="REV", help="take OLD_SPEC from this git revision (same path as NEW_SPEC)")
    add_spec_options(check)
    add_format_option(check)
    check.set_defaults(rollout_run=_check)

    advance = _action(
        actions, "advance", "move a rotation one phase forward in the spec (after retire: finish it)",
        "Move ROTATION one phase forward in SPEC and record today's date (or --now) in `started`; "
        "after retire, finish it (pki.next becomes pki). Refuses while minDwell or the leaf lifetime rule "
        "is not met, or when `rollout check` would not pass. Comments and layout are kept.")
    advance.add_argument("spec", type=Path, metavar="SPEC", help="topology spec (YAML), edited in place")
    advance.add_argument("rotation", metavar="ROTATION", help="name of the rotation in spec.rotations")
    advance.add_argument("--dry-run", action="store_true", help="print the edited spec on stdout; change nothing")
    add_spec_options(advance)
    advance.set_defaults(rollout_run=_advance)

    plan = _action(
        actions, "plan", "the steps each rotation has left and the earliest date for each",
        "List, for every rotation in SPEC, the remaining steps and the earliest date each may be "
        "taken, from the spec's dates, minDwell and certificate lifetimes.")
    add_spec_argument(plan)
    add_spec_options(plan)
    add_format_option(plan)
    plan.set_defaults(rollout_run=_plan)


def run(args: argparse.Namespace) -> int:
    code: int = args.rollout_run(args)
    return code


def _now(args: argparse.Namespace) -> datetime:
    from aiogen.model.clock import now_utc

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
    output.problems(new_plan.warnings)
    report = rollout_check.check(old_plan, new_plan, now, deployed_name=old_name, proposed_name=str(args.new))
    return _print_report(report, args.format)


def _verdict(report: RolloutReport) -> str:
    when = report.now.date().isoformat()
    if report.safe:
        return f"rollout check: {report.deployed} → {report.proposed} is safe on {when}"
    pairs = len(report.breaks)
    clusters = len({b.cluster for b in report.breaks})
    what = []
    if pairs:
        what.append(f"{pairs} (server, client population) pair(s) on {clusters} cluster(s) would lose trust")
    if report.holds:
        what.append(f"{len(report.holds)} other reason(s) to wait or fix the spec")
    return f"rollout check: {report.deployed} → {report.proposed} is NOT safe on {when}: {'; '.join(what)}"


def _print_report(report: RolloutReport, format: str) -> int:
    """The verdict and summary on stdout (text or JSON); each break and hold on stderr."""
    for note in report.notes:
        output.note(note)
    output.problems(report.problems())
    if format == "json":
        output.out_json({
            "deployed": report.deployed, "proposed": report.proposed, "date": report.now.date().isoformat(),
            "verdict": "safe" if report.safe else "unsafe", "safe": report.safe,
            "breaks": [{"cluster": b.cluster, "server": b.server, "population": b.population, "root": b.root,
                        "subject": b.subject, "target": b.target, "when": b.when, "why": b.why, "hint": b.hint,
                        "message": b.message} for b in report.breaks],
            "holds": [{"subject": h.subject, "message": h.message, "hint": h.hint} for h in report.holds],
            "summary": list(report.summary), "notes": list(report.notes)})
    else:
        output.out(_verdict(report))
        for line in report.summary if report.safe else ():
            output.out(f"  {line}")
    return EXIT_OK if report.safe else EXIT_CHECK_FAILED


# ---------------------------------------------------------------- advance


def _advance(args: argparse.Namespace) -> int:
    from aiogen.rollout.advance import advance

    now = _now(args)
    result = advance(args.spec, args.rotation, now, allow_outside_files=args.allow_outside_files)
    output.problems(result.plan.warnings)
    if args.dry_run:
        sys.stdout.write(result.text)
    else:
        _replace(args.spec, result.text, result.source)
    for note in result.notes:
        output.note(note)
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


def _replace(path: Path, text: str, source: str) -> None:
    """Write ``text`` over ``path`` (aiogen.rollout.advance.write_spec: atomic, links written through),
    only if the file still holds ``source``, the text advance read."""
    from aiogen.rollout.advance import write_spec

    write_spec(path, text, expected=source)


# ---------------------------------------------------------------- plan


def _plan(args: argparse.Namespace) -> int:
    from aiogen.pipeline import load_plan

    now = _now(args)
    plan = load_plan(args.spec, now=now, allow_outside_files=args.allow_outside_files)
    output.problems(plan.warnings)
    name = "<stdin>" if str(args.spec) == "-" else str(args.spec)
    if args.format == "json":
        output.out_json({"spec": name, "now": now.isoformat(), "rotations": _rotations_json(plan, now)})
        return EXIT_OK
    if not plan.rotations:
        output.out(f"{name}: no rotation in progress")
        return EXIT_OK
    from aiogen.rollout import schedule

    for rotation in plan.rotations:
        moves = f"{rotation.from_} → {rotation.to}" if rotation.from_ and rotation.to else "new intermediates"
        began = rotation.started_at(rotation.phase)
        output.out(f"rotation {rotation.name} ({rotation.kind} {moves} on {', '.join(rotation.clusters)}): "
                   f"in {rotation.phase} since {began.isoformat() if began else '?'}")
        for step in schedule.remaining_steps(plan, rotation):
            output.out(f"  {_step_line(step, now)}")
    return EXIT_OK


def _rotations_json(plan: Plan, now: datetime) -> list[dict[str, Any]]:
    from aiogen.rollout import schedule

    rotations: list[dict[str, Any]] = []
    for rotation in plan.rotations:
        began = rotation.started_at(rotation.phase)
        steps = [{"phase": step.phase, "earliest": step.earliest.isoformat() if step.earliest else None,
                  "ready": step.ready.isoformat() if step.ready else None,
                  "status": step.status(now),
                  "because": step.because} for step in schedule.remaining_steps(plan, rotation)]
        rotations.append({"name": rotation.name, "kind": rotation.kind, "from": rotation.from_, "to": rotation.to,
                          "clusters": list(rotation.clusters), "phase": rotation.phase,
                          "since": began.isoformat() if began else None, "steps": steps})
    return rotations


def _step_line(step: Step, now: datetime) -> str:
    days = step.days_left(now)
    if step.earliest is None or days is None:
        return f"{step.phase:<10} date unknown    ({step.because})"
    status = "ready now" if step.status(now) == "ready" else f"in {days} day{'s' if days != 1 else ''}"
    return f"{step.phase:<10} {step.earliest.isoformat()}  {status:<12} ({step.because})"
