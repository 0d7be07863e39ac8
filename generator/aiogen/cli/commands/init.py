"""aiogen init DIR: scaffold a GitOps repository (spec, offline root, CI, pre-commit); never overwrites."""

from __future__ import annotations

import argparse
from pathlib import Path

from aiogen.cli import report
from aiogen.cli.options import directory
from aiogen.model.problems import EXIT_OK

NAME = "init"
HELP = ("scaffold a GitOps repository in DIR: a commented spec, an offline root CA (its key kept outside "
        "DIR), .gitignore, pre-commit and CI; existing files are never overwritten")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", type=directory, metavar="DIR", help="the repository to create or complete")
    parser.add_argument("--name", metavar="NAME", help="the fleet's name (default: DIR's name)")
    parser.add_argument("--cluster", default="cluster-1", metavar="NAME",
                        help="the first cluster's name (default: cluster-1)")
    parser.add_argument("--key-dir", type=directory, metavar="KEY_DIR",
                        help="where the offline root's private key goes, outside DIR and any git work tree "
                             "(default: ~/.aiogen/keys/NAME)")
    parser.add_argument("--hooks-repo", metavar="URL", help="the git URL pre-commit fetches aiogen's hooks from")


def run(args: argparse.Namespace) -> int:
    from aiogen.model.clock import now_utc
    from aiogen.output import scaffold

    directory: Path = args.directory
    name = scaffold.check_name(args.name or directory.resolve().name.lower(), "--name")
    cluster = scaffold.check_name(args.cluster, "--cluster")
    key_dir = (args.key_dir or Path("~/.aiogen/keys") / name).expanduser()
    plan = scaffold.plan(directory, name=name, cluster=cluster, key_dir=key_dir, now=now_utc(),
                         hooks_repo=args.hooks_repo or scaffold.HOOKS_REPO)
    outcome = scaffold.write(plan)
    if not outcome.written:
        report.out(f"{directory}: nothing to do, every file exists already (none was changed)")
        return EXIT_OK
    for path in outcome.written:
        note = " (0600: the offline root's private key, keep it offline)" if plan.key and path == plan.key.path else ""
        report.out(f"wrote {path}{note}")
    for path in outcome.kept:
        report.out(f"kept  {path} (exists; not changed)")
    report.out("next:")
    report.out(f"  cd {directory} && git init && aiogen validate fleet/fleet.yaml")
    report.out("  aiogen render fleet/fleet.yaml -o clusters && git add -A && git commit -m 'aiogen init'")
    if not args.hooks_repo:
        report.out(f"  set the repo URL of aiogen's hooks in .pre-commit-config.yaml (now {scaffold.HOOKS_REPO})")
    return EXIT_OK
