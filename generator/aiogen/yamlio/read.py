"""Bounded reads of user input (a spec file, stdin): regular files only, UTF-8, at most MAX_BYTES."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from aiogen.model.problems import AiogenError, Location
from aiogen.yamlio.document import MAX_BYTES


def read_text(path: Path, *, display: str | None = None) -> str:
    """The text of a spec file: a bounded read of a regular file, decoded as UTF-8.

    The file is opened first and checked through its descriptor, so a FIFO or a device (or a
    symlink swapped for one) can neither block the read nor make it endless.
    """
    name = display or str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise AiogenError.single(f"{name}: no such file") from None
    except IsADirectoryError:
        raise AiogenError.single(f"{name}: not a regular file (a directory)") from None
    except OSError as error:
        raise AiogenError.single(f"{name}: cannot read: {error.strerror}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise AiogenError.single(f"{name}: not a regular file (a directory)")
        if not stat.S_ISREG(info.st_mode):
            raise AiogenError.single(f"{name}: not a regular file")
        if info.st_size > MAX_BYTES:
            raise AiogenError.single(f"{name} is {info.st_size} bytes; a spec may be at most {MAX_BYTES}")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            raw = handle.read(MAX_BYTES + 1)  # the size may have grown since fstat
    except OSError as error:
        raise AiogenError.single(f"{name}: cannot read: {error.strerror}") from None
    finally:
        os.close(fd)
    return decode(raw, name)


def read_stream(stream: BinaryIO, name: str = "<stdin>") -> str:
    """The text of a spec (or any YAML input) on a stream, under the same limits as a file."""
    try:
        raw = stream.read(MAX_BYTES + 1)
    except OSError as error:
        raise AiogenError.single(f"{name}: cannot read: {error.strerror}") from None
    if len(raw) > MAX_BYTES:
        raise AiogenError.single(f"{name} is over {MAX_BYTES} bytes; a spec may be at most {MAX_BYTES}")
    return decode(raw, name)


_UTF16_32_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"),
)


def decode(raw: bytes, name: str) -> str:
    """UTF-8 text without its byte order mark; anything else is a located error."""
    if len(raw) > MAX_BYTES:
        raise AiogenError.single(f"{name} is {len(raw)} bytes; a spec may be at most {MAX_BYTES}")
    for bom, encoding in _UTF16_32_BOMS:
        if raw.startswith(bom):
            raise AiogenError.single(
                f"the file is {encoding}, not UTF-8", location=Location(name, 1, 1), hint="save the file as UTF-8"
            )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        column = len(raw[raw.rfind(b"\n", 0, error.start) + 1 : error.start].decode("utf-8", "replace")) + 1
        raise AiogenError.single(
            f"byte {error.start} (0x{raw[error.start]:02x}) is not UTF-8",
            location=Location(name, line, column),
            hint="save the file as UTF-8",
        ) from None
    return text.removeprefix("\ufeff")
