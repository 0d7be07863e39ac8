"""Running a measured command: a small spawner process forks and execs it and reports its rusage.

Wall time is taken around fork → exec → wait4 inside the spawner; CPU time (user + system) and
peak RSS come from `os.wait4`, so they cover the command and the children it reaped.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Sample:
    wall_ms: float
    cpu_ms: float  # user + system of the child and the children it reaped
    rss_mb: float  # peak resident set of the child (or of its largest reaped child)
    rc: int
    stderr: str
    sys_ms: float = 0.0  # the system (kernel) part of cpu_ms


# A small process (python -S, standard library only) forks and execs every measured command and
# reports os.wait4's rusage. A forked child's peak RSS starts at its parent's size, so spawning
# from this ~9 MB process, not from the benchmark itself, keeps peak RSS figures honest; the
# command's wall time is taken inside it, around fork → exec → wait4.
_SPAWNER = r"""
import json, os, signal, sys, time
for line in sys.stdin:
    req = json.loads(line)
    fin = os.open(req["stdin"] or os.devnull, os.O_RDONLY)
    fout = os.open(req["stdout"] or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    ferr = os.open(req["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(fin, 0)
            os.dup2(fout, 1)
            os.dup2(ferr, 2)
            if req["cwd"]:
                os.chdir(req["cwd"])
            signal.alarm(req["timeout"])
            os.execve(req["argv"][0], req["argv"], req["env"])
        finally:
            os._exit(127)
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    for fd in (fin, fout, ferr):
        os.close(fd)
    sys.stdout.write(json.dumps({"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "sys": ru.ru_stime,
                                 "maxrss_kb": ru.ru_maxrss,
                                 "rc": os.waitstatus_to_exitcode(status)}) + "\n")
    sys.stdout.flush()
"""


class Spawner:
    def __init__(self, python: Path) -> None:
        self.proc = subprocess.Popen([str(python), "-S", "-c", _SPAWNER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env={"PATH": os.defpath})
        self.tmp = tempfile.TemporaryDirectory(prefix="aiogen-bench-spawn-")

    def run(self, argv: Sequence[str], *, env: dict[str, str], cwd: Path | None = None,
            stdin: Path | None = None, stdout: Path | None = None, timeout: float = 900.0) -> Sample:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        exe = argv[0] if os.sep in argv[0] else shutil.which(argv[0], path=env.get("PATH"))
        if exe is None:
            raise BenchError(f"{argv[0]}: not found on PATH")
        err = Path(self.tmp.name) / "stderr"
        request = {"argv": [exe, *argv[1:]], "env": env, "cwd": str(cwd) if cwd else None,
                   "stdin": str(stdin) if stdin else None, "stdout": str(stdout) if stdout else None,
                   "stderr": str(err), "timeout": max(1, int(timeout))}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise BenchError("the spawner process died")
        reply = json.loads(line)
        text = err.read_text(encoding="utf-8", errors="replace")
        return Sample(reply["wall"] * 1000, reply["cpu"] * 1000, reply["maxrss_kb"] / 1024, reply["rc"], text,
                      reply["sys"] * 1000)

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.tmp.cleanup()


_spawner: Spawner | None = None


def run_child(argv: Sequence[str], *, env: dict[str, str], cwd: Path | None = None, stdin: Path | None = None,
              stdout: Path | None = None, timeout: float = 900.0) -> Sample:
    """Run one child to completion and measure it (wall, CPU, peak RSS, exit code, stderr)."""
    if _spawner is None:
        raise BenchError("the spawner is not started")
    return _spawner.run(argv, env=env, cwd=cwd, stdin=stdin, stdout=stdout, timeout=timeout)


def summary(samples: Sequence[Sample]) -> dict[str, Any]:
    walls = sorted(s.wall_ms for s in samples)
    cpus = [s.cpu_ms for s in samples]
    quartiles = statistics.quantiles(walls, n=4) if len(walls) >= 2 else [walls[0]] * 3
    return {
        "runs": len(samples),
        "wall_ms": {"median": round(statistics.median(walls), 1), "min": round(walls[0], 1),
                    "max": round(walls[-1], 1), "iqr": round(quartiles[2] - quartiles[0], 1)},
        "cpu_ms": {"median": round(statistics.median(cpus), 1), "min": round(min(cpus), 1)},
        "sys_ms": {"median": round(statistics.median(s.sys_ms for s in samples), 1)},
        "peak_rss_mb": round(max(s.rss_mb for s in samples), 1),
    }


def round_robin(cases: dict[str, Callable[[], Sample]], runs: int, warmup: int) -> dict[str, list[Sample]]:
    """Run every case once per round, `warmup` unrecorded rounds first; fail loudly on a non-zero exit."""
    out: dict[str, list[Sample]] = {name: [] for name in cases}
    for round_ in range(warmup + runs):
        for name, case in cases.items():
            sample = case()
            if sample.rc != 0:
                raise BenchError(f"{name}: exit {sample.rc}: {sample.stderr.strip()[-2000:]}")
            if round_ >= warmup:
                out[name].append(sample)
    return out


class BenchError(RuntimeError):
    pass


def start(python: Path) -> None:
    """Start the spawner (the venv's python, -S) that every `run_child` goes through."""
    global _spawner
    _spawner = Spawner(python)


def stop() -> None:
    global _spawner
    if _spawner is not None:
        _spawner.close()
        _spawner = None
