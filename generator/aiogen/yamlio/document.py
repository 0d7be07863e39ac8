"""A parsed YAML document and where each of its values stood: the located form of user input.

Every problem aiogen reports about a spec (or a KRM function config) is located through a
`Document`: ``file:line:col field.path``. `aiogen.yamlio.parse` builds one from text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from aiogen.model.problems import MAX_SHOWN as MAX_SHOWN
from aiogen.model.problems import Location, Problem
from aiogen.model.problems import shown as shown
from aiogen.model.record import field, record

# Input limits; docs/hardening.md records what was tried and why these. Amplification (aliases)
# and nesting are cut off at the first event over the limit; beyond that, parsing costs time
# linear in the input (libyaml's parser plus one Python step per event, ~3 µs a value), so the
# largest accepted spec (MAX_BYTES, ~10,000 clusters) parses in a few seconds.
MAX_BYTES = 16 * 1024 * 1024  # the spec file (or stdin): about 10,000 clusters written out in full
MAX_NODES = 1_000_000  # values (mapping keys not counted), every alias counted expanded
MAX_DEPTH = 64  # nesting of mappings and sequences (a spec needs fewer than 15)

PathKey = tuple[str | int, ...]

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_][-A-Za-z0-9_./@+]*")


def format_path(path: PathKey) -> str:
    """``spec.clusters[1].broker``; a key that is not a plain word is quoted (``roots["a b"]``)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part) and "." not in part[:1] and len(part) <= MAX_SHOWN:
            out += f".{part}" if out else part
        else:
            out += f"[{shown(part)}]"
    return out


def listing(values: Iterable[str], limit: int = 10) -> str:
    """Names for a message (``a, b, c``): the first ``limit``, each bounded, then how many more."""
    items = list(values)
    head = ", ".join(v if len(v) <= MAX_SHOWN and v.isprintable() else shown(v) for v in items[:limit])
    if not items:
        return "none"
    if len(items) > limit:
        head += f" and {len(items) - limit} more"
    return head


@record(frozen=False)
class Document:
    """Plain data of one YAML document, and where each of its values stood."""

    data: Any
    source: str  # file name as the user gave it (or "<stdin>")
    base_dir: Path
    # The text parsed: where each value stood is found again from it (`positions`) only when a
    # problem is located, so a spec that has none never holds them (~20 MB per 1,000 clusters).
    text: str | None = field(default=None, repr=False)
    _positions: dict[PathKey, int] | None = field(default=None, repr=False)
    _key_positions: dict[PathKey, int] | None = field(default=None, repr=False)

    @property
    def positions(self) -> dict[PathKey, int]:
        """Where each value starts, packed as line << 24 | column (see `pack`)."""
        if self._positions is None:
            self._find_positions()
        assert self._positions is not None
        return self._positions

    @property
    def key_positions(self) -> dict[PathKey, int]:
        """Where each mapping key starts, packed like `positions`."""
        if self._key_positions is None:
            self._find_positions()
        assert self._key_positions is not None
        return self._key_positions

    def _find_positions(self) -> None:
        from aiogen.yamlio.parse import find_positions

        self._positions, self._key_positions = find_positions(self.text) if self.text is not None else ({}, {})

    def locate(self, path: PathKey, *, key: bool = False) -> Location:
        """Location of the deepest node on ``path`` that exists (its key with ``key=True``)."""
        if key and path in self.key_positions:
            return Location(self.source, *unpack(self.key_positions[path]))
        for end in range(len(path), -1, -1):
            pos = self.positions.get(path[:end])
            if pos is not None:
                return Location(self.source, *unpack(pos))
        return Location(self.source)

    def problem(self, path: PathKey, message: str, *, hint: str | None = None, warning: bool = False,
                at_key: bool = False) -> Problem:
        return Problem(
            message,
            format_path(path),
            self.locate(path, key=at_key),
            "warning" if warning else "error",
            hint,
        )


def pack(mark: Any) -> int:
    """A parser mark as one int: 1-based line << 24 | 1-based column (columns capped at 2**24 - 1)."""
    line: int = mark.line + 1
    column: int = min(mark.column + 1, (1 << 24) - 1)
    return line << 24 | column


def unpack(position: int) -> tuple[int, int]:
    return position >> 24, position & ((1 << 24) - 1)
