"""Does a rendered tree on disk still match what the spec renders to?

`aiogen render --check` and `aiogen diff` compare the files `aiogen.output.layout.tree` holds in memory with an
output directory, reading only, and describe every difference as a unified diff whose paths are
relative to that directory (``a/<path>`` is the directory, ``b/<path>`` the render; ``patch -p1``
inside it applies the render). A difference is one of:

* **changed**: a rendered file whose bytes on disk differ (hand-edited, or rendered from an
  older spec);
* **missing**: a rendered file that is not on disk;
* **stale**: a file aiogen wrote earlier (listed in ``.aiogen-owned`` with the digest of its
  bytes, which still match) that the spec no longer renders: `render` would delete it;
* **leftover**: a temporary (``.NAME.<hex>.aiogen-tmp``) a killed render left: `render` removes it.

Files aiogen does not own and does not render are none of its business and are ignored, exactly
as `render` leaves them alone; so is a file listed in ``.aiogen-owned`` whose bytes no longer match
the recorded digest (a forged line cannot make aiogen read a file). The list itself is compared too,
because `render` would rewrite it: a committed tree must be what a render produces, byte for byte.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from aiogen.model.problems import AiogenError
from aiogen.output import fs
from aiogen.output.owned import OWNED_MARKER, Owned, digest, owned_list_text, owns, parse_owned, read_owned_text
from aiogen.output.provenance import MAX_RENDERED_FILE, is_layout_path

DIFF_LIMIT = 16 * 1024 * 1024  # bytes of a changed file shown in a diff; a larger one is named only


@dataclass(frozen=True)
class Drift:
    changed: tuple[str, ...]
    missing: tuple[str, ...]
    stale: tuple[str, ...]
    foreign: tuple[str, ...]  # changed files aiogen did not write: `render` refuses to replace them
    owned_list_outdated: bool
    diff: str
    leftovers: tuple[str, ...] = ()  # temporaries a killed render left: the next render removes them

    @property
    def clean(self) -> bool:
        return not (self.changed or self.missing or self.stale or self.owned_list_outdated or self.leftovers)

    def summary(self) -> str:
        """One line for humans, e.g. ``2 changed, 1 stale``."""
        if self.clean:
            return "up to date"
        parts = [f"{len(items)} {what}" for items, what in
                 ((self.changed, "changed"), (self.missing, "missing"), (self.stale, "stale")) if items]
        if self.owned_list_outdated:
            parts.append(f"{OWNED_MARKER} out of date")
        if self.leftovers:
            parts.append(f"{len(self.leftovers)} temporary file(s) left by an interrupted render "
                         f"(render removes them): {', '.join(self.leftovers[:3])}"
                         + (" ..." if len(self.leftovers) > 3 else ""))
        text = ", ".join(parts)
        if self.foreign:
            text += f"; not written by aiogen (render will refuse to replace): {', '.join(self.foreign)}"
        return text


def compare(files: Mapping[str, str], out_dir: Path, scope: Iterable[str] | None = None) -> Drift:
    """Compare rendered ``files`` (path relative to ``out_dir`` → text) with ``out_dir``.

    ``scope`` names the top-level directories (clusters) rendered with --cluster; owned files
    elsewhere are not stale, as `render --cluster X` never deletes another cluster's files. None
    means the whole spec: an owned file of a cluster no longer in the spec is stale. Nothing is
    read through a symbolic link (`aiogen.output.fs.read_file`).
    """
    try:
        root: int | None = fs.open_root(out_dir)
    except (FileNotFoundError, NotADirectoryError):
        root = None
    except OSError as error:
        raise AiogenError.single(f"cannot read {out_dir}: {error.strerror}") from None
    directories = fs.Directories(root) if root is not None else None
    try:
        return _compare(files, out_dir, directories, scope)
    finally:
        if directories is not None:
            directories.close()
        if root is not None:
            os.close(root)


def _read(directories: fs.Directories | None, path: str, at_most: int = MAX_RENDERED_FILE) -> bytes | None:
    """At most ``at_most + 1`` bytes: a huge file planted in the tree is never read (nor diffed) whole."""
    if directories is None:
        return None
    return fs.read_file(directories.root, path, at_most=at_most, directories=directories)


def _compare(files: Mapping[str, str], out_dir: Path, directories: fs.Directories | None,
             scope: Iterable[str] | None) -> Drift:
    root = directories.root if directories is not None else None
    marker = read_owned_text(root, out_dir) if root is not None else None
    owned = parse_owned(marker) if marker is not None else {}
    tops = set(scope) if scope is not None else None
    changed: list[str] = []
    missing: list[str] = []
    foreign: list[str] = []
    hunks: dict[str, list[str]] = {}
    for path, text in sorted(files.items()):
        data = text.encode("utf-8")
        try:
            current = _read(directories, path, at_most=max(len(data), DIFF_LIMIT))
        except fs.NotRegularFile as error:
            changed.append(path)
            foreign.append(path)
            what = "a parent of a/{0} is a symbolic link or not a directory" \
                if isinstance(error.__cause__, NotADirectoryError) \
                else "a/{0} is not a regular file"
            hunks[path] = [f"diff a/{path} b/{path}: {what.format(path)}\n"]
            continue
        if current is None:
            missing.append(path)
            hunks[path] = _unified("", text, "/dev/null", f"b/{path}")
            continue
        if current == data:
            continue
        changed.append(path)
        if path not in owned:
            foreign.append(path)
        if len(current) > max(len(data), DIFF_LIMIT):
            hunks[path] = [f"diff a/{path} b/{path}: a/{path} is over {DIFF_LIMIT} bytes; not shown\n"]
            continue
        try:
            hunks[path] = _unified(current.decode("utf-8"), text, f"a/{path}", f"b/{path}")
        except UnicodeDecodeError:
            hunks[path] = [f"Binary files a/{path} and b/{path} differ\n"]
    stale = _stale(files, owned, directories, tops, hunks)
    expected_owned = {p: d for p, d in owned.items() if p not in files and tops is not None
                      and p.split("/", 1)[0] not in tops}
    expected_owned.update({p: (digest(t.encode("utf-8")),) for p, t in files.items()})
    expected_marker = owned_list_text(expected_owned)
    outdated = marker != expected_marker
    leftovers = tuple(fs.find_temporaries(root, recursive=True)) if root is not None else ()
    diff = "".join(line for path in sorted(hunks) for line in hunks[path])
    if outdated:
        diff += "".join(_unified(marker or "", expected_marker,
                                 f"a/{OWNED_MARKER}" if marker is not None else "/dev/null", f"b/{OWNED_MARKER}"))
    return Drift(tuple(changed), tuple(missing), stale, tuple(foreign), outdated, diff, leftovers)


def _stale(files: Mapping[str, str], owned: Owned, directories: fs.Directories | None, tops: set[str] | None,
           hunks: dict[str, list[str]]) -> tuple[str, ...]:
    """Owned files the render no longer produces, whose bytes are still what aiogen wrote."""
    stale: list[str] = []
    for path in sorted(owned):
        if path in files or (tops is not None and path.split("/", 1)[0] not in tops) or not is_layout_path(path):
            continue  # a path aiogen never renders is never its own: not even read
        try:
            current = _read(directories, path)
        except fs.NotRegularFile:
            continue  # not a plain file: render leaves it alone
        if current is None or len(current) > MAX_RENDERED_FILE or not owns(owned, path, current):
            continue  # gone, or not (any more) aiogen's: only the owned list remembers it
        stale.append(path)
        try:
            hunks[path] = _unified(current.decode("utf-8"), "", f"a/{path}", "/dev/null")
        except UnicodeDecodeError:
            hunks[path] = [f"Binary files a/{path} and /dev/null differ\n"]
    return tuple(stale)


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
