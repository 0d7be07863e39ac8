"""aiogen precompile: compile the code a cold start imports into one file beside aiogen (after install).

Run once after ``pip install`` (the README's and the integrations' install steps run it), and again
after installing or upgrading anything in the same environment: until then a cold start imports as
Python always does, only slower (`aiogen.startup.modules`). ``--check`` writes nothing and exits 3
when the file is missing or stale.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from aiogen.model.problems import EXIT_CHECK_FAILED, EXIT_OK, AiogenError

if TYPE_CHECKING:
    import argparse

NAME = "precompile"
HELP = "compile the code a cold start imports into one file beside aiogen (run once after installing)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 3 when the compiled file is missing or stale")


def run(args: argparse.Namespace) -> int:
    from aiogen.startup import modules, modules_write

    where = modules.compiled_path()
    if args.check:
        if modules.current():
            print(f"aiogen precompile: {where} is current")
            return EXIT_OK
        print(f"aiogen precompile: {where} is missing or stale (a cold start imports as usual); "
              "run `aiogen precompile`", file=sys.stderr)
        return EXIT_CHECK_FAILED
    if not modules.started_as_console():
        raise AiogenError.single("the file is for the `aiogen` console script, whose import path this process "
                                 "does not have (python -m?)", hint="run `aiogen precompile`")
    try:
        path, count, size = modules_write.write()
    except OSError as error:
        raise AiogenError.single(f"cannot write {where}: {error.strerror or error}",
                                 hint="run `aiogen precompile` as the user that installed aiogen") from None
    print(f"aiogen precompile: {count} modules compiled into {path} ({size / 1e6:.1f} MB)")
    return EXIT_OK
