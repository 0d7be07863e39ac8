"""A large `render -o DIR` hands the creation of its temporaries to a child process (`aiogen.output.writer`)
so the kernel's work runs on the other core. The tree, its modes and `.aiogen-owned` are the ones
the inline path writes, byte for byte; a failure in the child is reported with the message the
inline path gives, and a failure, conflict or interruption anywhere leaves the directory as it was.
"""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiogen.model.problems import AiogenError
from aiogen.output import tree as tree_writer
from aiogen.output import writer
from tests.helpers import REPO

CLUSTERS = writer.INLINE_BATCHES + 24  # the last 24 are written by the child


def files(clusters: int = CLUSTERS, size: int = 40) -> dict[str, str]:
    return {f"c{i:03}/{folder}/f{j}.yaml": f"{i}.{folder}.{j}\n" + "x" * size
            for i in range(clusters) for folder in ("ns/a", "ns/b", "top") for j in range(3)}


def snapshot(root: Path) -> dict[str, tuple[int, bytes | str]]:
    out: dict[str, tuple[int, bytes | str]] = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        body = f"-> {os.readlink(path)}" if path.is_symlink() else "dir" if path.is_dir() else path.read_bytes()
        out[str(path.relative_to(root))] = (info.st_mode, body)
    return out


@pytest.fixture
def forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pids of the writer's children (the real `os.fork`, counted)."""
    pids: list[int] = []
    real = os.fork

    def counted() -> int:
        pid = real()
        if pid:
            pids.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", counted)
    return pids


def test_a_large_tree_written_by_the_child_is_the_inline_tree_byte_for_byte(
        tmp_path: Path, forks: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    tree = files()
    forked = tree_writer.write_tree(tree, tmp_path / "forked")
    assert len(forks) == 1
    monkeypatch.setattr(writer, "INLINE_BATCHES", 10**9)
    inline = tree_writer.write_tree(tree, tmp_path / "inline")
    assert len(forks) == 1  # no second child
    assert snapshot(tmp_path / "forked") == snapshot(tmp_path / "inline")
    assert forked == inline and len(forked.written) == len(tree)
    with pytest.raises(ChildProcessError):
        os.waitpid(forks[0], os.WNOHANG)  # reaped
    assert tree_writer.write_tree(tree, tmp_path / "forked").written == ()  # a second render changes nothing


def test_a_small_tree_or_other_threads_write_inline(tmp_path: Path, forks: list[int]) -> None:
    tree_writer.write_tree(files(writer.INLINE_BATCHES), tmp_path / "small")
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        tree_writer.write_tree(files(), tmp_path / "threads")  # forking beside a thread is unsafe
    finally:
        stop.set()
        other.join()
    assert forks == []
    assert len([p for p in (tmp_path / "threads").rglob("*.yaml")]) == len(files())


def test_a_write_failing_in_the_child_is_reported_and_changes_nothing(tmp_path: Path, forks: list[int]) -> None:
    out = tmp_path / "out"
    tree_writer.write_tree({"c000/keep.yaml": "kept\n"}, out)
    before = snapshot(out)
    tree = files()
    tree["c030/ns/a/big.yaml"] = "y" * 20_000  # larger than RLIMIT_FSIZE below: the kernel refuses it
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a signal (inherited by the child)
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (10_000, limits[1]))
    try:
        with pytest.raises(AiogenError) as caught:
            tree_writer.write_tree(tree, out)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, previous)
    assert len(forks) == 1
    assert str(caught.value).startswith(f"cannot write {out / 'c030/ns/a/big.yaml'}: File too large; "
                                        f"no file in {out} was changed")
    assert snapshot(out) == before  # every temporary and every directory created removed


def test_a_conflict_found_after_the_child_started_changes_nothing(tmp_path: Path, forks: list[int]) -> None:
    out = tmp_path / "out"
    (out / "c035/ns/a").mkdir(parents=True)
    (out / "c035/ns/a/f1.yaml").write_text("the user's\n")
    before = snapshot(out)
    with pytest.raises(AiogenError, match=re.escape("aiogen did not write where it would write: c035/ns/a/f1.yaml")):
        tree_writer.write_tree(files(), out)
    assert len(forks) == 1 and snapshot(out) == before


def test_an_interruption_while_the_child_writes_removes_everything(tmp_path: Path, forks: list[int],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("the user's\n")
    before = snapshot(out)
    groups: dict[str, dict[str, str]] = {}
    for path, text in files().items():
        groups.setdefault(path.split("/", 1)[0], {})[path] = text

    def interrupted() -> Iterator[tuple[str, dict[str, str]]]:
        for index, group in enumerate(groups.items()):
            if index == CLUSTERS - 4:
                raise KeyboardInterrupt
            yield group

    with pytest.raises(KeyboardInterrupt):
        tree_writer._write(interrupted(), out, None)
    assert len(forks) == 1 and snapshot(out) == before


_SLOW = """
import os, sys, time
from pathlib import Path
from aiogen.output import fs, tree, writer
parent = os.getpid()
real = fs.write_new
def slow(*args, **kwargs):
    if os.getpid() != parent:
        time.sleep(0.02)  # the child writes slowly: the signal finds it at work
    real(*args, **kwargs)
fs.write_new = slow
real_put = writer.Writer.put
def put(self, batch):
    real_put(self, batch)
    if self.batches == writer.INLINE_BATCHES + 1:
        print("forked" if self.forked else "inline", flush=True)
writer.Writer.put = put
files = {f"c{i:03}/ns/f{j}.yaml": f"{i}.{j}\\n" for i in range(writer.INLINE_BATCHES + 10) for j in range(10)}
tree.write_tree(files, Path(sys.argv[1]))
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_to_a_render_whose_child_writes_removes_everything(tmp_path: Path, sig: signal.Signals) -> None:
    out = tmp_path / "out"
    child = subprocess.Popen([sys.executable, "-c", _SLOW, str(out)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, cwd=REPO, start_new_session=True)
    assert child.stdout is not None and child.stderr is not None
    assert child.stdout.readline() == "forked\n", child.stderr.read()
    os.killpg(child.pid, sig)  # as a terminal does: the whole process group, the writer child included
    assert child.wait(timeout=30) in (128 + sig, -sig, 1)
    assert not out.exists()  # no temporary, no directory left
