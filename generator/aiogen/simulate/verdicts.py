"""What does each distinct (server certificate, client) pair get? Path validation and a real handshake, on every core.

A `ServerPairs` is one server certificate with the distinct clients that meet it; `Judge` gives
each pair OpenSSL's path validation (`aiogen.simulate.path`) and a real TLS handshake on
127.0.0.1 (`aiogen.simulate.loopback`). A handshake is CPU work in OpenSSL and Python, and the
global interpreter lock lets one thread do it at a time, so large runs use worker processes
(``spawn``ed: they inherit nothing but the pairs they are sent), each with its own `Judge`.

A `Judge` belongs to one run: the certificates it parsed and the client contexts it made (a
context is its trust bundle and client certificate; the dialled name is given per connection)
are kept only while that run lasts, and are never output.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import signal
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType

from cryptography import x509

from aiogen.simulate.handshake import (
    ClientConfig,
    HandshakeOutcome,
    ServerConfig,
    client_context,
    server_context,
    verify_client_path,
    verify_server_path,
)
from aiogen.simulate.loopback import Loopback
from aiogen.simulate.path import Memo

BATCH = 16  # server certificates per task sent to a worker process
IN_PROCESS_BELOW = 400  # pairs: fewer than this run in the calling process (starting workers costs more)


@dataclass(frozen=True)
class Verdict:
    path: str | None
    client_path: str | None
    outcome: HandshakeOutcome


@dataclass(frozen=True)
class ServerPairs:
    """One server certificate and the distinct clients that meet it, each to be judged once."""

    server: ServerConfig
    clients: tuple[ClientConfig, ...]


class Judge:
    """Judges pairs for one run: one loopback listener, and each PEM parsed and each client context made once."""

    def __init__(self, at: datetime) -> None:
        self.at = at
        self._parsed: dict[bytes, list[x509.Certificate]] = {}
        self._contexts: dict[tuple[bytes, bytes | None, bytes | None], ssl.SSLContext] = {}
        self._loopback: Loopback | None = None
        self._memo = Memo()

    def close(self) -> None:
        if self._loopback is not None:
            self._loopback.close()
            self._loopback = None

    def _certificates(self, pem: bytes) -> list[x509.Certificate]:
        """The certificates of a bundle this run issued (so no user input: `aiogen.pki.pem` checks that)."""
        if pem not in self._parsed:
            self._parsed[pem] = x509.load_pem_x509_certificates(pem) if pem.strip() else []
        return self._parsed[pem]

    def _client_context(self, client: ClientConfig) -> ssl.SSLContext:
        key = client.context_key
        if key not in self._contexts:
            self._contexts[key] = client_context(client)
        return self._contexts[key]

    def judge(self, work: ServerPairs) -> list[Verdict]:
        """Path validation both ways and a real handshake, for every client of ``work`` in order."""
        if self._loopback is None:
            self._loopback = Loopback()
        server = work.server
        chain = x509.load_pem_x509_certificates(server.chain_pem)
        context = server_context(server)
        out = []
        for client in work.clients:
            trust = self._certificates(client.trust_pem)
            path = verify_server_path(chain, trust, client.hostname, self.at, self._memo)
            client_path: str | None = None
            if client.chain_pem is not None and server.client_ca_pem is not None:
                client_path = verify_client_path(self._certificates(client.chain_pem),
                                                 self._certificates(server.client_ca_pem), self.at,
                                                 self._memo)
            outcome = self._loopback.attempt(context, self._client_context(client), client.hostname)
            out.append(Verdict(path, client_path, outcome))
        return out


MAX_DEFAULT_WORKERS = 8  # as the threads before them; each process holds its own contexts and memory


def default_workers() -> int:
    """One per CPU this process may run on, at most `MAX_DEFAULT_WORKERS`."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return min(cpus, MAX_DEFAULT_WORKERS)


class Verdicts:
    """Judges `ServerPairs` as they are submitted, in this process or in worker processes; `results` gives
    every item's verdicts in submission order.

    ``workers``: processes (1: this process; None: `default_workers`, or this process alone when fewer than
    `IN_PROCESS_BELOW` pairs are expected, ``pairs``, too few to be worth starting them). Workers start
    at once and judge each batch as it is sent, while the caller issues the material of the next.
    """

    def __init__(self, at: datetime, workers: int | None, pairs: int) -> None:
        self.at = at
        count = workers if workers is not None else default_workers()
        self._processes = 0 if count <= 1 or (workers is None and pairs < IN_PROCESS_BELOW) else count
        self._pending: list[ServerPairs] = []
        self._futures: list[concurrent.futures.Future[list[list[Verdict]]]] = []
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        if self._processes:  # start them now: they import while the caller issues the first material
            try:
                self._pool = concurrent.futures.ProcessPoolExecutor(
                    max_workers=self._processes, mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker, initargs=(at,))
                for _ in range(self._processes):
                    self._futures.append(self._pool.submit(_judge_batch, []))
            except (OSError, ImportError, NotImplementedError):  # no process semaphores here (no /dev/shm)
                self._processes, self._futures = 0, []
                if self._pool is not None:
                    self._pool.shutdown(wait=False, cancel_futures=True)
                    self._pool = None

    def __enter__(self) -> Verdicts:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, item: ServerPairs) -> None:
        self._pending.append(item)
        if self._processes and len(self._pending) >= BATCH:
            self._send()

    def _send(self) -> None:
        assert self._pool is not None
        self._futures.append(self._pool.submit(_judge_batch, self._pending))
        self._pending = []

    def results(self) -> Iterator[list[Verdict]]:
        if not self._processes:
            judge = Judge(self.at)
            try:
                yield from (judge.judge(item) for item in self._pending)
            finally:
                judge.close()
            return
        if self._pending:
            self._send()
        for future in self._futures:
            yield from future.result()


_WORKER: Judge | None = None  # the worker process's judge, for the run that started the process


def _start_worker(at: datetime) -> None:
    global _WORKER
    # Ctrl-C reaches the whole process group: the command stops in the parent (the pool is shut
    # down there, the batch in hand finishes), never with a worker's traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER = Judge(at)


def _judge_batch(batch: list[ServerPairs]) -> list[list[Verdict]]:
    assert _WORKER is not None, "a worker process judges only after _start_worker"
    return [_WORKER.judge(item) for item in batch]
