"""Regenerate the golden renders of every rollover phase: `python -m tests.regen_golden_rollover`.

One directory per spec of each sequence under examples/rollover/ (the root rollover, and
client-root/), holding exactly what `aiogen render SPEC -o DIR` writes for it. Golden files change
only through this command; read the diff (`git diff tests/golden/rollover`) before committing it,
and compare phases with e.g. `diff -r tests/golden/rollover/root/02-distribute
tests/golden/rollover/root/03-switch`.
"""

from __future__ import annotations

import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

from tests import regen_golden
from tests.helpers import EXAMPLES, REPO

GOLDEN = REPO / "tests" / "golden" / "rollover"
ROLLOVER = EXAMPLES / "rollover"
SEQUENCES = {"root": ROLLOVER, "client-root": ROLLOVER / "client-root"}
NOW = datetime(2026, 12, 1, tzinfo=UTC)  # output never depends on the clock; warnings might


def sequence(directory: Path) -> list[Path]:
    """The spec files of one sequence, in order (their names sort in order: 00-…, 01-…)."""
    return sorted(directory.glob("[0-9][0-9]-*.yaml"))


def rendered_tree(spec: Path) -> dict[str, str]:
    return regen_golden.rendered_tree(spec, NOW)


def main() -> int:
    if GOLDEN.exists():
        shutil.rmtree(GOLDEN)
    for name, directory in SEQUENCES.items():
        for spec in sequence(directory):
            regen_golden.write_tree(GOLDEN / name / spec.stem, rendered_tree(spec))
    print(f"wrote {GOLDEN.relative_to(REPO)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
