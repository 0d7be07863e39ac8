"""Regenerate the golden renders of examples/*.yaml: `python -m tests.regen_golden`.

Golden files change only through this command; read the diff (`git diff tests/golden`) before
committing it.
"""

from __future__ import annotations

import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

from tests.helpers import EXAMPLE_SPECS, REPO

GOLDEN = REPO / "tests" / "golden" / "examples"
NOW = datetime(2026, 11, 27, tzinfo=UTC)  # fixed clock: expiry warnings must not make goldens drift


def rendered_tree(spec: Path, now: datetime = NOW) -> dict[str, str]:
    """Every file `aiogen render SPEC -o DIR` writes, by path (the clock fixed: warnings may use it)."""
    from aiogen.output import layout
    from aiogen.pipeline import render_spec

    _, rendered = render_spec(spec, now=now)
    return layout.tree(rendered)


def write_tree(directory: Path, tree: dict[str, str]) -> None:
    for path, text in tree.items():
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def main() -> int:
    if GOLDEN.exists():
        shutil.rmtree(GOLDEN)
    for spec in EXAMPLE_SPECS:
        write_tree(GOLDEN / spec.stem, rendered_tree(spec))
    print(f"wrote {GOLDEN.relative_to(REPO)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
