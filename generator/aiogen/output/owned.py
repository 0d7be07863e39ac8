"""`.aiogen-owned`: the files aiogen wrote into an output directory, each with the digest of its bytes.

One line per file, ``<sha256 of the bytes aiogen wrote>  <path>`` (the layout of ``sha256sum``).
Ownership is proven by content: a file aiogen no longer renders is aiogen's (deleted by `render`,
shown as stale by `--check`/`diff`) only while its bytes still hash to a digest recorded here and
are bytes aiogen could have rendered at that path (`aiogen.output.provenance`), so a line added by
hand (without a digest, or with the digest of a user's file) can make aiogen neither delete nor
read a file it did not write. A path listed here that aiogen renders is re-rendered (hand edits of
rendered files are undone, as always). Each path is checked like a rendered path before it is
trusted.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

from aiogen.model.problems import AiogenError
from aiogen.output import fs
from aiogen.output.fs import TEMPORARY_SUFFIX
from aiogen.output.provenance import could_have_written

OWNED_MARKER = ".aiogen-owned"
OWNED_HEADER = ("# Files aiogen wrote here, with the SHA-256 of the bytes it wrote; it never touches any other\n"
                "# file, nor one whose bytes no longer match.\n")
MAX_OWNED_BYTES = 64 * 1024 * 1024  # the ownership list: ~500,000 files (10,000 clusters of the benchmark's
# fleet write 200,000 files and a 25 MB list, which the former 8 MiB bound refused to read back)
MAX_PATH_PART = 255  # bytes in one file or directory name (NAME_MAX)
_LINE = re.compile(r"([0-9a-f]{64})  (.+)")
_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # where str.splitlines breaks a line
_LINES = re.compile(rf"(?:(?<=[{_BREAKS}])|\A)([0-9a-f]{{64}})  ([^{_BREAKS}]+)(?=[{_BREAKS}]|\Z)")
# Parts of letters, digits, '.', '_' and '-' that start with a letter or digit (so never '', '.', '..',
# nor `.aiogen-owned`), at most MAX_PATH_PART bytes each.
_PART = rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_PATH_PART - 1}}}"
_PLAIN_PATH = re.compile(rf"{_PART}(?:/{_PART})*")

__all__ = ["MAX_OWNED_BYTES", "OWNED_HEADER", "OWNED_MARKER", "TEMPORARY_SUFFIX", "Owned", "digest", "merge",
           "owned_list_chunks", "owned_list_text", "owns", "parse_owned", "path_problem", "read_owned", "read_owned_at",
           "read_owned_text"]


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def path_problem(path: str) -> str | None:
    """Why ``path`` may not name a file inside an output directory, or None.

    Relative, '/'-separated, no empty, '.' or '..' part, no backslash, nothing unprintable (a
    newline would corrupt the ownership list), every part a legal file name; and never the
    ownership list or a temporary file of aiogen's own.
    """
    if _PLAIN_PATH.fullmatch(path) and not path.endswith(TEMPORARY_SUFFIX):
        return None  # every rendered path: none of the checks below can fail (one match instead of seven)
    if not path:
        return "it is empty"
    if not path.isprintable():
        return "it holds a control character"
    if "\\" in path:
        return "it holds a backslash"
    if path.startswith("/"):
        return "it is absolute"
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "it has an empty, '.' or '..' part"
    if any(len(part.encode("utf-8")) > MAX_PATH_PART for part in parts):
        return f"a part of it is longer than {MAX_PATH_PART} bytes"
    if path == OWNED_MARKER or parts[-1].endswith(TEMPORARY_SUFFIX):
        return "it is a name aiogen keeps for itself"
    return None


Owned = dict[str, tuple[str, ...]]
"""path → the digests of the versions aiogen wrote there, sorted (two while a render is being completed).
A tuple, not a set: 200,000 entries (10,000 clusters) cost ~60 MB instead of ~95 MB."""


def owns(owned: Mapping[str, tuple[str, ...]], path: str, data: bytes) -> bool:
    """Is ``data``, found at ``path``, a version aiogen wrote there?

    Its digest must be listed for that path, and the path and bytes must be ones aiogen renders
    (`aiogen.output.provenance`): a line forged with the digest of a user's file names nothing.
    """
    return digest(data) in owned.get(path, ()) and could_have_written(path, data)


def parse_owned(text: str) -> Owned:
    """path → recorded digests; lines without a digest, and paths that could leave the tree, are ignored."""
    entries: Owned = {}
    for match in _LINES.finditer(text):  # the lines of str.splitlines that match _LINE, without a list of them all
        found, path = match.group(1), match.group(2)
        if path_problem(path) is None:
            known = entries.get(path)
            entries[path] = (found,) if known is None else tuple(sorted({*known, found}))
    return entries


def read_owned(out_dir: Path) -> Owned:
    """The files `.aiogen-owned` in ``out_dir`` says aiogen wrote: path → digest of what it wrote."""
    try:
        root = fs.open_root(out_dir)
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except OSError as error:
        raise AiogenError.single(f"{out_dir / OWNED_MARKER}: cannot read aiogen's ownership list: "
                                 f"{error.strerror}") from None
    try:
        return read_owned_at(root, out_dir)
    finally:
        os.close(root)


def read_owned_at(root: int, out_dir: Path) -> Owned:
    text = read_owned_text(root, out_dir)
    return parse_owned(text) if text is not None else {}


def read_owned_text(root: int, out_dir: Path) -> str | None:
    """The list's text, read through ``root`` without following a link; None when there is none."""
    marker = out_dir / OWNED_MARKER
    try:
        info = fs.lstat_at(root, OWNED_MARKER)
    except OSError as error:
        raise AiogenError.single(f"{marker}: cannot read aiogen's ownership list: {error.strerror}") from None
    if info is None:
        return None
    if info.st_size > MAX_OWNED_BYTES:
        raise AiogenError.single(f"{marker} is {info.st_size} bytes; aiogen's ownership list is never that large")
    try:
        data = fs.read_file(root, OWNED_MARKER, limit=MAX_OWNED_BYTES)
    except fs.NotRegularFile:
        raise AiogenError.single(
            f"{marker} is not a regular file (a symbolic link?); aiogen will not follow it",
            hint="remove it; render again to rebuild it (aiogen then owns no earlier file)",
        ) from None
    except OSError as error:
        raise AiogenError.single(f"{marker}: cannot read aiogen's ownership list: {error.strerror}") from None
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise AiogenError.single(f"{marker}: cannot read aiogen's ownership list: {error}") from None


def owned_list_text(entries: Mapping[str, Iterable[str]]) -> str:
    """The ownership list as `write_tree` writes it (path → digests)."""
    return OWNED_HEADER + "".join(f"{d}  {p}\n" for p in sorted(entries) for d in sorted(entries[p]))


def owned_list_chunks(rendered: Iterable[tuple[str, str]], owned: Mapping[str, tuple[str, ...]], *, widen: bool,
                      keep: Callable[[str], bool]) -> Iterator[bytes]:
    """The ownership list, encoded a chunk at a time, never held whole (200,000 files: ~24 MB of text).

    ``rendered``: (path, digest) of every file written, sorted by path. A rendered path keeps its
    digests in ``owned`` too when ``widen``; a path only in ``owned`` is listed when ``keep(path)``.
    The bytes are `owned_list_text` of the same entries."""
    lines: list[str] = [OWNED_HEADER]
    size = 0
    others = iter(sorted(owned))
    other = next(others, None)
    for path, new in rendered:
        while other is not None and other < path:
            if keep(other):
                lines.extend(f"{d}  {other}\n" for d in sorted(owned[other]))
            other = next(others, None)
        digests = {new}
        if other == path:
            if widen:
                digests.update(owned[path])
            other = next(others, None)
        lines.extend(f"{d}  {path}\n" for d in sorted(digests))
        size += 1
        if size >= 4096:
            yield "".join(lines).encode("utf-8")
            lines, size = [], 0
    while other is not None:
        if keep(other):
            lines.extend(f"{d}  {other}\n" for d in sorted(owned[other]))
        other = next(others, None)
    yield "".join(lines).encode("utf-8")


def merge(*lists: Mapping[str, tuple[str, ...]]) -> Owned:
    merged: Owned = {}
    for entries in lists:
        for path, digests in entries.items():
            merged[path] = tuple(sorted({*merged.get(path, ()), *digests}))
    return merged
