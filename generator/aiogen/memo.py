"""Has this exact render been done before? Remembered outputs for repeated builds.

`kustomize build` runs aiogen on every build, and Argo CD or a CI loop builds the same
kustomization over and over; most of each run is Python importing pydantic, Jinja2 and
cryptography. So `aiogen render SPEC -o -` and the KRM function remember what they wrote, keyed by
everything the output depends on:

* the invocation: its kind, arguments, working directory and the input bytes (spec or stdin);
* every file the render read (the spec, its PEMs, the kustomization files a function config is
  found in), each by SHA-256 of its content, checked again on every hit;
* aiogen itself: the version, Python's, and the size and mtime of every file of the package
  (code and templates), so an edit or an upgrade starts afresh;
* the clock: a render is good only until the first instant a time check would answer otherwise
  (a certificate starting or expiring; `Plan.valid_until`).

Only successful runs are kept; a hit replays stdout and stderr byte for byte. Entries live in
`$AIOGEN_CACHE_DIR`, else `$XDG_CACHE_HOME/aiogen`, else `~/.cache/aiogen` (mode 0700); where
that is not writable, nothing is remembered. `AIOGEN_NO_CACHE=1` turns it off. Standard library
only: a hit must not import what it exists to avoid.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Iterable

MAX_OUTPUT = 4 * 1024 * 1024  # fleets larger than a kustomization's are not worth the disk
MAX_ENTRIES = 64
_VERSION = 1


class Hit:
    """A remembered run's output (a plain class: `dataclasses` costs a hit ~8 ms of imports)."""

    __slots__ = ("stderr", "stdout")

    def __init__(self, stdout: str, stderr: str) -> None:
        self.stdout = stdout
        self.stderr = stderr


def enabled() -> bool:
    return not os.environ.get("AIOGEN_NO_CACHE")


def _directory() -> str | None:
    base = os.environ.get("AIOGEN_CACHE_DIR")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        base = os.path.join(xdg, "aiogen")
    path = os.path.join(base, "renders")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError:
        return None
    return path if os.access(path, os.W_OK | os.X_OK) else None


def _fingerprint() -> str:
    """aiogen's own identity: version, Python, and every package file's size and mtime."""
    from aiogen import __version__

    package = os.path.dirname(os.path.realpath(__file__))
    digest = hashlib.sha256(f"{_VERSION}\0{__version__}\0{sys.version}\0".encode())
    stack = [package]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.name == "__pycache__":
                continue
            if entry.is_dir():  # follows the templates/schemas links of a source checkout
                stack.append(entry.path)
            elif entry.name.endswith((".py", ".j2", ".json")):
                info = entry.stat()
                digest.update(f"{entry.path}\0{info.st_size}\0{info.st_mtime_ns}\0".encode())
    return digest.hexdigest()


def key(kind: str, *parts: str | bytes) -> str:
    digest = hashlib.sha256(kind.encode())
    for part in parts:
        data = part.encode("utf-8", "surrogateescape") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    digest.update(_fingerprint().encode())
    return digest.hexdigest()


def _file_digest(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return None


def lookup(entry_key: str) -> Hit | None:
    """The remembered output for this key, if every input is still as it was."""
    if not enabled():
        return None
    directory = _directory()
    if directory is None:
        return None
    try:
        with open(os.path.join(directory, f"{entry_key}.json"), encoding="utf-8") as handle:
            record = json.load(handle)
        valid_until = record["valid_until"]
        if valid_until is not None and time.time() >= float(valid_until):
            return None
        for path, digest in record["inputs"]:
            if _file_digest(path) != digest:
                return None
        return Hit(str(record["stdout"]), str(record["stderr"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store(entry_key: str, stdout: str, stderr: str, inputs: Iterable[str], valid_until: float | None,
          started: float) -> None:
    """Remember a successful run. Inputs changed while it ran (mtime after ``started``) are not kept."""
    if not enabled() or len(stdout) + len(stderr) > MAX_OUTPUT:
        return
    directory = _directory()
    if directory is None:
        return
    recorded: list[tuple[str, str]] = []
    for path in sorted(set(inputs)):
        try:
            if os.stat(path).st_mtime >= started - 0.01:
                return  # edited during the render: the output may not match either version
        except OSError:
            return
        digest = _file_digest(path)
        if digest is None:
            return
        recorded.append((path, digest))
    record = {"stdout": stdout, "stderr": stderr, "inputs": recorded, "valid_until": valid_until}
    import tempfile

    try:
        fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(record, handle)
        os.replace(tmp, os.path.join(directory, f"{entry_key}.json"))
        _prune(directory)
    except OSError:
        return


def _prune(directory: str) -> None:
    """Keep the newest `MAX_ENTRIES` entries."""
    entries = sorted((e for e in os.scandir(directory) if e.name.endswith(".json")), key=lambda e: e.stat().st_mtime)
    for old in entries[:-MAX_ENTRIES]:
        try:
            os.unlink(old.path)
        except OSError:
            continue
