"""tests/upstream/ holds byte-for-byte upstream copies: every file is listed in SOURCES.md with its sha256."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

UPSTREAM = Path(__file__).parent / "upstream"


def listed_checksums() -> dict[str, str]:
    text = (UPSTREAM / "SOURCES.md").read_text(encoding="utf-8")
    return {path: digest for digest, path in re.findall(r"^([0-9a-f]{64})  (\S+)$", text, re.M)}


def test_every_upstream_file_is_listed_with_its_sha256() -> None:
    listed = listed_checksums()
    present = sorted(str(p.relative_to(UPSTREAM)) for p in UPSTREAM.rglob("*") if p.is_file()
                     and p.name != "SOURCES.md" and "__pycache__" not in p.parts)
    assert sorted(listed) == present
    for path, digest in listed.items():
        assert hashlib.sha256((UPSTREAM / path).read_bytes()).hexdigest() == digest, path
