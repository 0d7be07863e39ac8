"""Plain-text tables, as `simulate` and `timeline` print them: columns padded to their widest cell,
two spaces apart, the last column left ragged."""

from __future__ import annotations

from collections.abc import Sequence


def columns(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """The header line and one line per row."""
    widths = [max([len(head[i]), *(len(r[i]) for r in rows)]) for i in range(len(head) - 1)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join([*(cell.ljust(widths[i]) for i, cell in enumerate(cells[:-1])), cells[-1]]).rstrip()

    return [line(head), *(line(r) for r in rows)]
