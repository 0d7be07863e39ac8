"""`rollout advance` writes the spec back like a careful editor (issue 13, item 6).

A symbolic link is written through to its target, a read-only or hard-linked spec is refused,
the owner and group are kept, CRLF files stay CRLF, and quoted dates stay quoted.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from tests.helpers import EXAMPLES, aiogen

STEP = ("root-2028", "--now", "2026-12-15")


@pytest.fixture
def work(tmp_path: Path) -> Path:
    target = tmp_path / "rollover"
    shutil.copytree(EXAMPLES / "rollover", target, ignore=shutil.ignore_patterns("client-root"))
    return target


def advance(spec: Path) -> tuple[int, str]:
    run = aiogen("rollout", "advance", spec, *STEP)
    return run.code, run.err


def test_a_symlinked_spec_is_written_through_to_its_target(work: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "checkout"
    elsewhere.mkdir()
    link = elsewhere / "fleet.yaml"
    link.symlink_to(work / "02-distribute.yaml")
    code, err = advance(link)
    assert code == 0, err
    assert link.is_symlink() and os.readlink(link) == str(work / "02-distribute.yaml")
    assert "phase: switch" in (work / "02-distribute.yaml").read_text()
    assert [p.name for p in elsewhere.iterdir()] == ["fleet.yaml"]  # no temporary left beside the link
    assert aiogen("rollout", "plan", link, "--now", "2026-12-15").code == 0  # its PEM paths still resolve


def test_a_read_only_spec_is_refused(work: Path) -> None:
    spec = work / "02-distribute.yaml"
    before = spec.read_bytes()
    spec.chmod(0o444)
    code, err = advance(spec)
    assert code == 1
    assert err.startswith(f"{spec} is read-only (mode 0444); rollout advance will not replace it "
                          "(make it writable (chmod u+w) if it is meant to change, or use --dry-run)")
    assert spec.read_bytes() == before and stat.S_IMODE(spec.stat().st_mode) == 0o444


def test_a_hard_linked_spec_is_refused(work: Path) -> None:
    spec = work / "02-distribute.yaml"
    before = spec.read_bytes()
    os.link(spec, work / "other-name.yaml")
    code, err = advance(spec)
    assert code == 1
    assert err.startswith(f"{spec} has 2 hard links; replacing it would leave the other names with the old spec")
    assert spec.read_bytes() == before and (work / "other-name.yaml").read_bytes() == before


def test_mode_is_kept(work: Path) -> None:
    spec = work / "02-distribute.yaml"
    spec.chmod(0o640)
    assert advance(spec)[0] == 0
    assert stat.S_IMODE(spec.stat().st_mode) == 0o640


@pytest.mark.skipif(os.geteuid() != 0, reason="only root may give a file to another owner")
def test_owner_and_group_are_kept_when_root(work: Path) -> None:
    spec = work / "02-distribute.yaml"
    os.chown(spec, 1234, 5678)
    assert advance(spec)[0] == 0
    assert (spec.stat().st_uid, spec.stat().st_gid) == (1234, 5678)


def test_a_crlf_spec_stays_crlf(work: Path) -> None:
    spec = work / "02-distribute.yaml"
    spec.write_bytes(spec.read_bytes().replace(b"\n", b"\r\n"))
    code, err = advance(spec)
    assert code == 0, err
    data = spec.read_bytes()
    assert b"phase: switch\r\n" in data and b'switch: "2026-12-15"\r\n' in data
    assert data.count(b"\n") == data.count(b"\r\n")


@pytest.mark.parametrize("quote", ['"', "'"])
def test_quoted_dates_stay_quoted(work: Path, quote: str) -> None:
    spec = work / "02-distribute.yaml"
    text = spec.read_text()
    for day in ("2026-12-01", "2026-12-08"):
        text = text.replace(f': "{day}"\n', f": {quote}{day}{quote}\n")
    spec.write_text(text)
    assert advance(spec)[0] == 0
    assert f"        switch: {quote}2026-12-15{quote}\n" in spec.read_text()


def test_plain_dates_stay_plain(work: Path) -> None:
    spec = work / "02-distribute.yaml"
    text = spec.read_text()
    for day in ("2026-12-01", "2026-12-08"):
        text = text.replace(f': "{day}"\n', f": {day}\n")
    spec.write_text(text)
    assert advance(spec)[0] == 0
    assert "        switch: 2026-12-15\n" in spec.read_text()
