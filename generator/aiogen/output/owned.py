"""`.aiogen-owned`: the list of files aiogen wrote into an output directory.

It is the only list of candidates for removal when a render no longer produces a file; each entry
is checked like a rendered path before it is trusted.
"""

from __future__ import annotations

import stat
from collections.abc import Iterable
from pathlib import Path

from aiogen.model.problems import AiogenError

OWNED_MARKER = ".aiogen-owned"
OWNED_HEADER = "# Files aiogen wrote here; it never touches any other file.\n"
MAX_OWNED_BYTES = 4 * 1024 * 1024  # the ownership list; ~50,000 entries
MAX_PATH_PART = 255  # bytes in one file or directory name (NAME_MAX)
TEMPORARY_SUFFIX = ".aiogen-tmp"


def path_problem(path: str) -> str | None:
    """Why ``path`` may not name a file inside an output directory, or None.

    Relative, '/'-separated, no empty, '.' or '..' part, no backslash, nothing unprintable (a
    newline would corrupt the ownership list), every part a legal file name; and never the
    ownership list or a temporary file of aiogen's own.
    """
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


def _safe_relative(path: str) -> bool:
    return path_problem(path) is None


def read_owned(out_dir: Path) -> set[str]:
    """The files `.aiogen-owned` says aiogen wrote; entries that could leave the tree are ignored."""
    text = _read_owned_text(out_dir)
    if text is None:
        return set()
    return {line for line in text.splitlines() if line and not line.startswith("#") and _safe_relative(line)}


def _read_owned_text(out_dir: Path) -> str | None:
    marker = out_dir / OWNED_MARKER
    try:
        info = marker.lstat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as error:
        raise AiogenError.single(f"{marker}: cannot read aiogen's ownership list: {error.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise AiogenError.single(
            f"{marker} is not a regular file (a symbolic link?); aiogen will not follow it",
            hint="remove it; render again to rebuild it (aiogen then owns no earlier file)",
        )
    if info.st_size > MAX_OWNED_BYTES:
        raise AiogenError.single(f"{marker} is {info.st_size} bytes; aiogen's ownership list is never that large")
    try:
        return marker.read_bytes()[: MAX_OWNED_BYTES + 1].decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise AiogenError.single(f"{marker}: cannot read aiogen's ownership list: {error}") from None


def owned_list_text(paths: Iterable[str]) -> str:
    """The ownership list as `write_tree` writes it."""
    return OWNED_HEADER + "".join(f"{p}\n" for p in sorted(paths))
