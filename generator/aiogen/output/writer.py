"""Who creates the staged temporaries of a large render: a child process, so the kernel's work of
creating files runs on another core while this process renders the next cluster.

A thread cannot do it: every return from a system call waits for the interpreter lock the renderer
holds. The child is forked (no new interpreter, nothing imported) once `INLINE_BATCHES` clusters were
staged inline (a small render does not pay for a process). It creates each batch's directories and
temporaries with `write_batch` through `aiogen.output.fs` (relative to the locked directory's
descriptor, never through a link), as the inline path does. Batches go through a pipe whose buffer
bounds what is in flight; the child reports each directory it created, the first failure and its
own end through another pipe. It ignores SIGINT, SIGTERM and SIGHUP and stops when the pipe closes,
so this process, which unwinds on them, always learns what to remove. Where fork is unsafe or
missing (other threads, Windows), every batch is written inline.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import select
import signal
import struct
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from aiogen.model.problems import AiogenError
from aiogen.output import fs

INLINE_BATCHES = 16  # clusters staged in this process before the child takes over
HINT = "a directory of the tree may be a symbolic link, a file, or read-only"
_HEADER = struct.Struct("<I")
_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
_CREATED, _FAILED, _DONE = "d", "e", "k"


def write_batch(root: int, out_dir: Path, token: str, mode: int, chmod: bool, created: fs.Created,
                batch: Sequence[tuple[str, bytes]]) -> str | None:
    """Create each (path, bytes) of ``batch`` as its temporary (`fs.temporary_name` with ``token``),
    directories first; the message of the first failure, or None."""
    directories = fs.Directories(root)
    try:
        for path, data in batch:
            *parts, name = path.split("/")
            try:
                directory = directories.make(parts, created, chmod=chmod)
                fs.write_new(directory, fs.temporary_name(name, token), data, mode, chmod=chmod)
            except OSError as error:
                return f"cannot write {out_dir / path}: {error.strerror or error}; no file in {out_dir} was changed"
    finally:
        directories.close()
    return None


class Writer:
    """Writes batches of temporaries, in a child process once the render is large; `finish` waits
    for every batch, `stop` ends the writing early. Directories created go into ``created``."""

    def __init__(self, root: int, out_dir: Path, token: str, mode: int, *, chmod: bool, created: fs.Created) -> None:
        self.root, self.out_dir, self.token, self.mode, self.chmod = root, out_dir, token, mode, chmod
        self.created = created
        self.failure: str | None = None
        self.batches = 0
        self._pid = 0
        self._send = self._receive = -1
        self._pending = b""
        self._done = False

    @property
    def forked(self) -> bool:
        return self._pid != 0

    def put(self, batch: list[tuple[str, bytes]]) -> None:
        """Write ``batch`` ((path, bytes) of temporaries); raises the first failure seen so far."""
        self.batches += 1
        if self.failure is None and not self._pid and self.batches > INLINE_BATCHES and _can_fork():
            self._fork()
        if not self._pid:
            if self.failure is None:
                self.failure = write_batch(self.root, self.out_dir, self.token, self.mode, self.chmod,
                                           self.created, batch)
        else:
            self._collect(block=False)
            if self.failure is None:
                self._send_all(_frame(marshal.dumps(batch)))
        self._raise()

    def finish(self) -> None:
        """Wait until every batch is written; raises the first failure."""
        self.stop()
        self._raise()

    def stop(self) -> None:
        """Close the pipe (the child ends after the few batches it holds), wait for the child and learn
        every directory it created, even when interrupted meanwhile (the interruption is raised after).
        A child that ended without saying it is done is a failure."""
        if not self._pid:
            return
        if self._send >= 0:
            os.close(self._send)
            self._send = -1
        interrupted: BaseException | None = None
        os.set_blocking(self._receive, True)
        status = None
        while status is None:
            try:
                self._collect(block=True)
                status = os.waitpid(self._pid, 0)[1]
            except (KeyboardInterrupt, fs.Terminated) as error:
                interrupted = interrupted or error
        os.close(self._receive)
        self._pid = 0
        if self.failure is None and not (self._done and os.waitstatus_to_exitcode(status) == 0):
            self.failure = (f"cannot write into {self.out_dir}: the process writing its files ended early; "
                            f"no file in {self.out_dir} was changed")
        if interrupted is not None:
            raise interrupted

    def _fork(self) -> None:
        data_r, data_w = os.pipe()
        result_r, result_w = os.pipe()
        saved = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)  # until the child ignores them
        try:
            pid = os.fork()
            if pid == 0:
                self._child(data_r, data_w, result_r, result_w, saved)  # never returns
            os.close(data_r)
            os.close(result_w)
            os.set_blocking(result_r, False)
            os.set_blocking(data_w, False)
            self._pid, self._send, self._receive = pid, data_w, result_r
        except BaseException:
            for fd in (data_r, data_w, result_r, result_w):
                with contextlib.suppress(OSError):
                    os.close(fd)
            raise
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, saved)

    def _child(self, data_r: int, data_w: int, result_r: int, result_w: int, mask: Iterable[int]) -> None:
        code = 1
        try:
            for number in _SIGNALS:
                signal.signal(number, signal.SIG_IGN)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            os.close(data_w)
            os.close(result_r)
            _serve(self, data_r, result_w)
            code = 0
        finally:
            os._exit(code)

    def _send_all(self, data: bytes) -> None:
        """Write ``data`` to the child, reading its reports while the pipe is full (it may be
        waiting for them to be read)."""
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self._send, view):]
            except BlockingIOError:
                readable, _, _ = select.select([self._receive], [self._send], [])
                if readable:
                    self._collect(block=False)
            except BrokenPipeError:  # the child ended: `stop` tells why
                self.stop()
                return

    def _collect(self, *, block: bool) -> None:
        """Read the child's reports: all there is (``block``: until it closes its end)."""
        while True:
            try:
                chunk = os.read(self._receive, 1 << 16)
            except BlockingIOError:
                return
            if not chunk:
                return
            self._pending += chunk
            while len(self._pending) >= _HEADER.size:
                size = _HEADER.unpack_from(self._pending)[0]
                if len(self._pending) < _HEADER.size + size:
                    break
                for kind, value in marshal.loads(self._pending[_HEADER.size:_HEADER.size + size]):
                    if kind == _CREATED:
                        self.created.folders.append(tuple(value))
                    elif kind == _FAILED and self.failure is None:
                        self.failure = value
                    elif kind == _DONE:
                        self._done = True
                self._pending = self._pending[_HEADER.size + size:]

    def _raise(self) -> None:
        if self.failure is not None:
            raise AiogenError.single(self.failure, hint=HINT)


def _can_fork() -> bool:
    """Forking is safe only with no other thread (one could hold a lock the child needs)."""
    return hasattr(os, "fork") and threading.active_count() == 1


def _serve(writer: Writer, data_r: int, result_w: int) -> None:
    """The child: write each batch read from ``data_r``; report created directories, the first
    failure (then only drain the pipe) and, at its end, that it is done."""
    created = fs.Created()
    failed = False
    with os.fdopen(data_r, "rb") as source:
        while len(header := source.read(_HEADER.size)) == _HEADER.size:
            size = _HEADER.unpack(header)[0]
            payload = source.read(size)
            if len(payload) < size or failed:
                continue  # cut short (the parent stopped mid-batch) or after a failure: not written
            before = len(created.folders)
            failure = write_batch(writer.root, writer.out_dir, writer.token, writer.mode, writer.chmod, created,
                                  marshal.loads(payload))
            reports: list[tuple[str, object]] = [(_CREATED, folders) for folders in created.folders[before:]]
            if failure is not None:
                reports.append((_FAILED, failure))
                failed = True
            if reports:
                _write_all(result_w, _frame(marshal.dumps(reports)))
    _write_all(result_w, _frame(marshal.dumps([(_DONE, None)])))
    os.close(result_w)


def _frame(payload: bytes) -> bytes:
    return _HEADER.pack(len(payload)) + payload


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
