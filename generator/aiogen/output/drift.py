"""Does a rendered tree on disk still match what the spec renders to?

`aiogen render --check` and `aiogen diff` compare the files `aiogen.output.layout.tree` holds in memory with an
output directory, reading only, and describe every difference as a unified diff whose paths are
relative to that directory (``a/<path>`` is the directory, ``b/<path>`` the render; ``patch -p1``
inside it applies the render). A difference is one of:

* **changed**: a rendered file whose bytes on disk differ (hand-edited, or rendered from an
  older spec);
* **missing**: a rendered file that is not on disk;
* **stale**: a file aiogen wrote earlier (listed in ``.aiogen-owned``) that the spec no longer
  renders: `render` would delete it.

Files aiogen does not own and does not render are none of its business and are ignored, exactly
as `render` leaves them alone. The ``.aiogen-owned`` list itself is compared too (by entries),
because `render` would rewrite it: a committed tree must be what a render produces, byte for byte.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from aiogen.output.owned import OWNED_MARKER, owned_list_text, read_owned


@dataclass(frozen=True)
class Drift:
    changed: tuple[str, ...]
    missing: tuple[str, ...]
    stale: tuple[str, ...]
    foreign: tuple[str, ...]  # changed files aiogen did not write: `render` refuses to replace them
    owned_list_outdated: bool
    diff: str

    @property
    def clean(self) -> bool:
        return not (self.changed or self.missing or self.stale or self.owned_list_outdated)

    def summary(self) -> str:
        """One line for humans, e.g. ``2 changed, 1 stale``."""
        if self.clean:
            return "up to date"
        parts = [f"{len(items)} {what}" for items, what in
                 ((self.changed, "changed"), (self.missing, "missing"), (self.stale, "stale")) if items]
        if self.owned_list_outdated:
            parts.append(f"{OWNED_MARKER} out of date")
        text = ", ".join(parts)
        if self.foreign:
            text += f"; not written by aiogen (render will refuse to replace): {', '.join(self.foreign)}"
        return text


def compare(files: Mapping[str, str], out_dir: Path, scope: Iterable[str] | None = None) -> Drift:
    """Compare rendered ``files`` (path relative to ``out_dir`` → text) with ``out_dir``.

    ``scope`` names the top-level directories (clusters) rendered with --cluster; owned files
    elsewhere are not stale, as `render --cluster X` never deletes another cluster's files. None
    means the whole spec: an owned file of a cluster no longer in the spec is stale.
    """
    owned = read_owned(out_dir)
    tops = set(scope) if scope is not None else None
    changed: list[str] = []
    missing: list[str] = []
    foreign: list[str] = []
    hunks: dict[str, list[str]] = {}
    for path, text in sorted(files.items()):
        target = out_dir / path
        if target.is_symlink() or (target.exists() and not target.is_file()):
            changed.append(path)
            foreign.append(path)
            hunks[path] = [f"diff a/{path} b/{path}: a/{path} is not a regular file\n"]
            continue
        try:
            current = target.read_bytes()
        except FileNotFoundError:
            missing.append(path)
            hunks[path] = _unified("", text, "/dev/null", f"b/{path}")
            continue
        except NotADirectoryError:  # a file where a directory of the tree belongs
            changed.append(path)
            foreign.append(path)
            hunks[path] = [f"diff a/{path} b/{path}: a parent of a/{path} is not a directory\n"]
            continue
        if current == text.encode("utf-8"):
            continue
        changed.append(path)
        if path not in owned:
            foreign.append(path)
        try:
            hunks[path] = _unified(current.decode("utf-8"), text, f"a/{path}", f"b/{path}")
        except UnicodeDecodeError:
            hunks[path] = [f"Binary files a/{path} and b/{path} differ\n"]
    stale: list[str] = []
    for path in sorted(owned):
        if path in files or (tops is not None and path.split("/", 1)[0] not in tops):
            continue
        target = out_dir / path
        if not target.is_file() or target.is_symlink():
            continue  # already gone: only the owned list remembers it
        stale.append(path)
        try:
            hunks[path] = _unified(target.read_text(encoding="utf-8"), "", f"a/{path}", "/dev/null")
        except (UnicodeDecodeError, OSError):
            hunks[path] = [f"Binary files a/{path} and /dev/null differ\n"]
    expected_owned = {p for p in owned if p in files or (tops is not None and p.split("/", 1)[0] not in tops)}
    expected_owned |= set(files)
    marker = _read_marker(out_dir / OWNED_MARKER)
    expected_marker = owned_list_text(expected_owned)
    outdated = marker != expected_marker
    diff = "".join(line for path in sorted(hunks) for line in hunks[path])
    if outdated:
        diff += "".join(_unified(marker or "", expected_marker,
                                 f"a/{OWNED_MARKER}" if marker is not None else "/dev/null", f"b/{OWNED_MARKER}"))
    return Drift(tuple(changed), tuple(missing), tuple(stale), tuple(foreign), outdated, diff)


def _read_marker(marker: Path) -> str | None:
    try:
        return marker.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _unified(old: str, new: str, old_name: str, new_name: str) -> list[str]:
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 fromfile=old_name, tofile=new_name)
    return list(_mark_missing_newlines(lines))


def _mark_missing_newlines(lines: Iterable[str]) -> Iterator[str]:
    """What git and patch expect after a last line without a newline."""
    for line in lines:
        if line.endswith("\n"):
            yield line
        else:
            yield line + "\n"
            yield "\\ No newline at end of file\n"
