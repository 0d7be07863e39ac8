"""``aiogen ca``: offline CA material and certificate lint (the arguments; `aiogen.pki.offline` does the work).

* ``ca root``: a self-signed root for a fleet, to be kept offline.
* ``ca intermediate``: a per-cluster intermediate signed by that root, in every form the cluster needs.
* ``ca lint``: check certificate files (chains, bundles) and report one line per finding (or JSON).

Only the standard library is imported here at module level; ``cryptography`` is loaded by ``run``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from aiogen.cli.options import add_format_option, directory
from aiogen.model.problems import EXIT_CHECK_FAILED, EXIT_OK

NAME = "ca"
HELP = "Offline CA material: mint a shared root or a per-cluster intermediate, lint certificate files."

# The same spellings as aiogen.pki.keys.KeySpec (a test keeps them equal); weaker keys are not offered.
KEY_CHOICES = ("Ec256", "Ec384", "Ec521", "Rsa2048", "Rsa3072", "Rsa4096", "Rsa8192")



def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="ca_action", metavar="ACTION", required=True)

    root = actions.add_parser(
        "root",
        help="create a self-signed root CA (keep its key offline)",
        description="Create a self-signed root CA: DIR/NAME.pem (certificate) and DIR/NAME.key (0600).",
    )
    _add_output_arguments(root)
    root.add_argument("--common-name", required=True, metavar="CN", help="subject CN (at most 64 characters)")
    root.add_argument("--key", choices=KEY_CHOICES, default="Ec256", help="key algorithm (default: Ec256)")
    root.add_argument("--validity", default="20y", metavar="DURATION", help="lifetime: 20y, 7300d, 175200h")
    root.add_argument("--organization", metavar="ORG", help="subject O")
    root.set_defaults(ca_run=_run_root)

    intermediate = actions.add_parser(
        "intermediate",
        help="create an intermediate CA signed by a root (one per cluster)",
        description="Create an intermediate CA signed by --root-cert/--root-key: DIR/NAME.pem, "
        "DIR/NAME.chain.pem (the intermediates without the root: a cert-manager CA Secret's tls.crt), "
        "DIR/NAME.key, and the Key Vault import forms DIR/NAME.kv.pem and DIR/NAME.pfx (all three 0600).",
    )
    intermediate.add_argument(
        "--root-cert", required=True, type=Path, metavar="FILE", help="the signing CA's certificate"
    )
    intermediate.add_argument(
        "--root-key", required=True, type=Path, metavar="FILE", help="the signing CA's private key"
    )
    _add_output_arguments(intermediate)
    intermediate.add_argument(
        "--common-name", required=True, metavar="CN", help="subject CN (at most 64 characters)"
    )
    intermediate.add_argument(
        "--key", choices=KEY_CHOICES, default="Ec256", help="key algorithm (default: Ec256)"
    )
    intermediate.add_argument("--validity", default="3y", metavar="DURATION", help="lifetime (default: 3y)")
    intermediate.add_argument("--organization", metavar="ORG", help="subject O (default: the root's)")
    intermediate.add_argument(
        "--path-length",
        type=int,
        default=0,
        metavar="N",
        help="how many CA levels may sit below it (default: 0, it issues leaves only)",
    )
    intermediate.add_argument(
        "--permitted-dns",
        nargs="+",
        action="extend",
        default=[],
        metavar="DOMAIN",
        help="name constraint: it may only issue for these DNS domains and their subdomains",
    )
    intermediate.add_argument(
        "--pfx-password-file",
        type=Path,
        metavar="FILE",
        help="protect NAME.pfx with the password in FILE (default: no password)",
    )
    intermediate.set_defaults(ca_run=_run_intermediate)

    lint = actions.add_parser(
        "lint",
        help="check certificate files: chain order, CA flags, path length, lifetimes, usages",
        description="Check certificate files (a chain, a served tls.crt or a bundle of roots) and print "
        "one line per finding: FILE: SUBJECT: SEVERITY: what is wrong; what to do. "
        "Exits 3 when any finding is an error.",
    )
    lint.add_argument("files", nargs="+", type=Path, metavar="FILE")
    lint.add_argument(
        "--now", metavar="DATE", help="check validity at DATE (2026-01-31 or ISO 8601) instead of now"
    )
    lint.add_argument(
        "--warn-within",
        default="30d",
        metavar="DURATION",
        help="warn about certificates that expire within DURATION (default: 30d)",
    )
    add_format_option(lint)
    lint.set_defaults(ca_run=_run_lint)


def _add_output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", required=True, type=directory, metavar="DIR", help="output directory (created 0700)"
    )
    parser.add_argument("--name", required=True, metavar="NAME", help="base name of the output files")
    parser.add_argument("--force", action="store_true", help="replace existing output files")


def run(args: argparse.Namespace) -> int:
    action: Callable[[argparse.Namespace], int] = args.ca_run
    return action(args)


def _warn_if_in_git(out: Path, name: str) -> None:
    from aiogen.cli import report
    from aiogen.output.scaffold import git_work_tree

    work_tree = git_work_tree(out)
    if work_tree is not None:
        report.info(f"warning: {out} is inside the git work tree {work_tree}: never commit {name}.key "
                    f"(and {name}.kv.pem, {name}.pfx); keep CA keys outside any repository")


def _run_root(args: argparse.Namespace) -> int:
    from aiogen.pki.offline import Subject, mint_root

    _warn_if_in_git(args.out, args.name)
    subject = Subject(args.common_name, args.organization, args.key, args.validity)
    for line in mint_root(args.out, args.name, subject, force=args.force):
        print(line)
    return EXIT_OK


def _run_intermediate(args: argparse.Namespace) -> int:
    from aiogen.pki.offline import IntermediateOptions, Subject, mint_intermediate

    subject = Subject(args.common_name, args.organization, args.key, args.validity)
    _warn_if_in_git(args.out, args.name)
    options = IntermediateOptions(args.root_cert, args.root_key, args.path_length, args.permitted_dns,
                                  args.pfx_password_file)
    for line in mint_intermediate(args.out, args.name, subject, options, force=args.force):
        print(line)
    return EXIT_OK


def _run_lint(args: argparse.Namespace) -> int:
    from aiogen.pki.offline import lint_files

    result = lint_files(args.files, args.now, args.warn_within)
    if args.format == "json":
        findings = [{"file": f.source, "subject": f.subject, "severity": f.severity, "message": f.message,
                     "hint": f.hint} for f in result.findings]
        print(json.dumps({"files": result.files, "errors": result.errors, "warnings": result.warnings,
                          "findings": findings}, indent=2))
    else:
        for finding in result.findings:
            print(finding.format())
    print(f"aiogen ca lint: {result.files} file(s), {result.errors} error(s), {result.warnings} warning(s)",
          file=sys.stderr)
    return EXIT_CHECK_FAILED if result.errors else EXIT_OK
