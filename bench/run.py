#!/usr/bin/env python3
"""aiogen benchmark: start-up, plugin overhead, fleet scale and simulation, in one run.

    .venv/bin/python bench/run.py            # full run: prints tables, writes bench/results.json
    .venv/bin/python bench/run.py --quick    # CI smoke run: small sizes, few runs (< 1 min)

Every measured command runs as a child process of the venv's `aiogen` console script or `python`
(never a pyenv shim). Wall time comes from `time.perf_counter` around the child; CPU time (user +
system) and peak RSS come from `os.wait4`, which reports the child and the children it reaped
(so a `kustomize build` row includes the aiogen process it ran). Start-up and plugin cases are
run round-robin after warm-up, and medians are reported: the machine may be shared, so the load
average before and after each section is recorded too.

Standard library only; runs under any Python >= 3.11 (the fleet's PEMs are made by the venv's
python, with `cryptography`, which aiogen depends on).
Timing targets live here and in bench/README.md, never in tests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

import fleet  # noqa: E402  (bench/fleet.py, next to this file)

TARGETS = {
    "startup_render_ratio": 8.0,  # single-cluster render <= 8x a bare `python -c pass`
    "plugin_exec_build_ms": 250.0,  # kustomize build with aiogen as exec function
    "fleet_1000_s": 5.0,  # render of 1,000 clusters
    "fleet_linearity": 1.2,  # marginal time per cluster at the largest size <= 1.2x that at 100
    "fleet_5000_rss_mb": 300.0,  # peak RSS of the 5,000-cluster render
    "simulate_100_s": 30.0,  # aiogen simulate of 100 clusters
}
FULL = {"startup_runs": 21, "startup_warmup": 2, "plugin_runs": 21, "plugin_warmup": 2,
        "fleet_sizes": (1, 10, 100, 1000, 5000), "simulate_clusters": 100}
QUICK = {"startup_runs": 5, "startup_warmup": 1, "plugin_runs": 3, "plugin_warmup": 1,
         "fleet_sizes": (1, 10, 50), "simulate_clusters": 2}


# ---------------------------------------------------------------- running children


@dataclass
class Sample:
    wall_ms: float
    cpu_ms: float  # user + system of the child and the children it reaped
    rss_mb: float  # peak resident set of the child (or of its largest reaped child)
    rc: int
    stderr: str


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
    sys.stdout.write(json.dumps({"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "maxrss_kb": ru.ru_maxrss,
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
        return Sample(reply["wall"] * 1000, reply["cpu"] * 1000, reply["maxrss_kb"] / 1024, reply["rc"], text)

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


# ---------------------------------------------------------------- the environment


@dataclass
class Tools:
    python: Path  # the venv's interpreter
    aiogen: Path  # the venv's console script
    kustomize: Path | None
    env: dict[str, str]


def find_tools(venv: Path | None, kustomize: str | None) -> Tools:
    bindir = (venv / "bin") if venv else _default_bindir()
    python, aiogen = bindir / "python", bindir / "aiogen"
    for exe in (python, aiogen):
        if not os.access(exe, os.X_OK):
            raise BenchError(f"{exe} not found: create the venv (bash .ci/run) or pass --venv")
    kpath = Path(kustomize) if kustomize else REPO / ".tools" / "bin" / "kustomize"
    if not os.access(kpath, os.X_OK):
        found = shutil.which("kustomize")
        kpath = Path(found) if found else None  # type: ignore[assignment]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "AIOGEN_", "VIRTUAL_ENV"))}
    # the exec function is named by its bare console-script name, resolved on PATH (DESIGN.md)
    env["PATH"] = os.pathsep.join([str(bindir), *( [str(kpath.parent)] if kpath else []), env.get("PATH", "")])
    env["LC_ALL"] = env.get("LC_ALL", "C.UTF-8")
    return Tools(python, aiogen, kpath, env)


def _default_bindir() -> Path:
    here = Path(sys.executable).parent
    if (here / "aiogen").exists():
        return here
    return REPO / ".venv" / "bin"


def machine(tools: Tools) -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    pyver = subprocess.run([str(tools.python), "-c", "import sys; print(sys.version.split()[0])"],
                           capture_output=True, text=True, env=tools.env).stdout.strip()
    kver = None
    if tools.kustomize:
        kver = subprocess.run([str(tools.kustomize), "version"], capture_output=True, text=True,
                              env=tools.env).stdout.strip() or None
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or None
    dirty = bool(subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "generator", "templates"],
                                capture_output=True, text=True).stdout.strip())
    return {
        "nproc": os.cpu_count(), "cpu_model": model, "mem_gib": mem_gib, "kernel": platform.release(),
        "python": pyver, "python_path": str(tools.python), "kustomize": kver,
        "kustomize_path": str(tools.kustomize) if tools.kustomize else None,
        "aiogen_commit": commit, "aiogen_tree_dirty": dirty,
    }


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# ---------------------------------------------------------------- sections


def bench_startup(tools: Tools, work: Path, runs: int, warmup: int) -> dict[str, Any]:
    spec = work / "fleet-1.yaml"
    py, ag, env = str(tools.python), str(tools.aiogen), tools.env
    cold = {**env, "AIOGEN_NO_CACHE": "1"}
    cases = {
        "python -c pass": lambda: run_child([py, "-c", "pass"], env=env),
        # repeated builds of unchanged inputs: after the warm-up, aiogen.memo replays the output
        "aiogen render (1 cluster, -o -)": lambda: run_child([ag, "render", str(spec), "-o", "-"], env=env),
        # every run from scratch: imports, parse, resolve, templates
        "aiogen render (1 cluster, -o -), cold: AIOGEN_NO_CACHE=1": lambda: run_child(
            [ag, "render", str(spec), "-o", "-"], env=cold),
        "aiogen validate (1 cluster)": lambda: run_child([ag, "validate", str(spec)], env=env),
    }
    before = load()
    samples = round_robin(cases, runs, warmup)
    stats = {name: summary(s) for name, s in samples.items()}
    base_wall = stats["python -c pass"]["wall_ms"]["median"]
    base_cpu = stats["python -c pass"]["cpu_ms"]["median"]
    for st in stats.values():
        st["ratio_wall"] = round(st["wall_ms"]["median"] / base_wall, 1)
        st["ratio_cpu"] = round(st["cpu_ms"]["median"] / base_cpu, 1) if base_cpu else None
    ratio = stats["aiogen render (1 cluster, -o -)"]["ratio_wall"]
    return {
        "spec": "generated fleet of 1 cluster (shape below)", "runs": runs, "warmup": warmup,
        "load_before": before, "load_after": load(), "cases": stats,
        "render_ratio": ratio, "target_ratio": TARGETS["startup_render_ratio"],
        "met": ratio <= TARGETS["startup_render_ratio"],
    }


def krm_available(tools: Tools) -> str | None:
    """None when `aiogen` with no arguments is a KRM function; otherwise why not."""
    probe = subprocess.run([str(tools.python), "-c", "import aiogen.krm"], capture_output=True, text=True,
                           env=tools.env)
    if probe.returncode != 0:
        return "aiogen.krm is not importable (the KRM function is not built yet)"
    return None


def bench_plugin(tools: Tools, work: Path, runs: int, warmup: int) -> dict[str, Any]:
    if tools.kustomize is None:
        return {"available": False, "reason": "standalone kustomize not found (bash "
                "tools/install-kustomize.sh .tools, or --kustomize)"}
    reason = krm_available(tools)
    if reason:
        return {"available": False, "reason": reason}
    env = tools.env
    # exec function: the spec itself is the functionConfig (its PEMs beside it: the cwd is this dir)
    fn_dir = work / "plugin-exec"
    fn_dir.mkdir()
    for name in fleet.PEMS.values():
        shutil.copy(work / name, fn_dir / name)
    spec_text = fleet.spec_text(1)
    annotated = spec_text.replace(
        "metadata:\n  name: bench-fleet-1\n",
        "metadata:\n  name: bench-fleet-1\n  annotations:\n    config.kubernetes.io/function: |\n"
        "      exec:\n        path: aiogen\n", 1)
    (fn_dir / "topology.yaml").write_text(annotated, encoding="utf-8")
    (fn_dir / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\ngenerators:\n- topology.yaml\n",
        encoding="utf-8")
    # the same resources, pre-rendered as plain files
    plain_root = work / "plugin-plain"
    rendered = subprocess.run([str(tools.aiogen), "render", str(work / "fleet-1.yaml"), "-o", str(plain_root)],
                              capture_output=True, text=True, env=env)
    if rendered.returncode != 0:
        raise BenchError(f"aiogen render -o DIR failed: {rendered.stderr.strip()}")
    plain_dir = plain_root / fleet.cluster_name(0)
    k = str(tools.kustomize)
    out_exec, out_plain = work / "plugin-exec.out", work / "plugin-plain.out"
    out_cold = work / "plugin-exec-cold.out"
    cold = {**env, "AIOGEN_NO_CACHE": "1"}
    cases = {
        "kustomize build (pre-rendered files)": lambda: run_child([k, "build", str(plain_dir)], env=env,
                                                                  stdout=out_plain),
        "kustomize build --enable-alpha-plugins --enable-exec (aiogen exec fn)": lambda: run_child(
            [k, "build", "--enable-alpha-plugins", "--enable-exec", str(fn_dir)], env=env, stdout=out_exec),
        "same, cold: AIOGEN_NO_CACHE=1": lambda: run_child(
            [k, "build", "--enable-alpha-plugins", "--enable-exec", str(fn_dir)], env=cold, stdout=out_cold),
    }
    before = load()
    try:
        samples = round_robin(cases, runs, warmup)
    except BenchError as error:
        return {"available": False, "reason": f"kustomize with the exec function failed: {error}"}
    stats = {name: summary(s) for name, s in samples.items()}
    plain = stats["kustomize build (pre-rendered files)"]["wall_ms"]["median"]
    exec_ = stats["kustomize build --enable-alpha-plugins --enable-exec (aiogen exec fn)"]["wall_ms"]["median"]
    same = _documents(out_exec.read_text()) == _documents(out_plain.read_text()) == _documents(out_cold.read_text())
    return {
        "available": True, "runs": runs, "warmup": warmup, "load_before": before, "load_after": load(),
        "cases": stats, "overhead_ms": round(exec_ - plain, 1), "exec_build_ms": exec_,
        "same_output": same, "target_ms": TARGETS["plugin_exec_build_ms"],
        "met": exec_ <= TARGETS["plugin_exec_build_ms"],
    }


def _documents(text: str) -> list[str]:
    return sorted(d.strip() for d in re.split(r"(?m)^---$", text) if d.strip())


def _count_documents(path: Path) -> int:
    count = 0
    with open(path, "rb") as handle:
        for line in handle:
            if line == b"---\n":
                count += 1
    return count


def bench_fleet(tools: Tools, work: Path, sizes: Sequence[int], quick: bool) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    before = load()
    for n in sizes:
        spec = fleet.write_fleet(work, n)
        out = work / f"fleet-{n}.out.yaml"
        repeats = 1 if quick else (5 if n <= 100 else 3 if n <= 1000 else 2)
        argv = [str(tools.aiogen), "render", str(spec), "-o", "-"]
        fresh = {**tools.env, "AIOGEN_NO_CACHE": "1"}  # the renderer's own scaling, never a replay
        first = run_child(argv, env=fresh, stdout=out)
        if first.rc != 0:
            rows.append({"clusters": n, "spec_bytes": spec.stat().st_size,
                         "error": f"exit {first.rc}: {first.stderr.strip()[-1000:]}"})
            continue
        samples = [first] + [run_child(argv, env=fresh, stdout=out) for _ in range(repeats - 1)]
        st = summary(samples)
        resources = _count_documents(out)
        out.unlink()
        rows.append({
            "clusters": n, "runs": len(samples), "spec_bytes": spec.stat().st_size,
            "wall_s": round(st["wall_ms"]["median"] / 1000, 3), "cpu_s": round(st["cpu_ms"]["median"] / 1000, 3),
            "per_cluster_ms": round(st["wall_ms"]["median"] / n, 2),
            "peak_rss_mb": st["peak_rss_mb"], "resources": resources,
        })
        if not quick:
            spec.unlink()
    # Marginal time per cluster: the slope between a size and the next smaller one measured,
    # (wall(N) - wall(M)) / (N - M). Measuring from N = 1 would charge the one-time work of the
    # first cluster (compiling templates, filling caches) to the fixed cost and flatter small N.
    ok = [r for r in rows if "error" not in r]
    for previous, row in zip([None, *ok], ok, strict=False):
        if previous is None:
            row["marginal_per_cluster_ms"] = None
        else:
            row["marginal_per_cluster_ms"] = round(
                (row["wall_s"] - previous["wall_s"]) * 1000 / (row["clusters"] - previous["clusters"]), 2)
    by_size = {r["clusters"]: r for r in ok}
    largest = ok[-1] if ok else None
    reference = by_size.get(100) or (ok[-2] if len(ok) >= 2 else None)
    linearity = None
    if largest and reference and reference is not largest and reference["marginal_per_cluster_ms"] \
            and largest["marginal_per_cluster_ms"] is not None:
        linearity = round(largest["marginal_per_cluster_ms"] / reference["marginal_per_cluster_ms"], 2)
    met: dict[str, bool | None] = {
        "fleet_1000_s": by_size[1000]["wall_s"] <= TARGETS["fleet_1000_s"] if 1000 in by_size else None,
        "fleet_linearity": linearity <= TARGETS["fleet_linearity"] if linearity is not None else None,
        "fleet_5000_rss_mb": (by_size[5000]["peak_rss_mb"] <= TARGETS["fleet_5000_rss_mb"]
                              if 5000 in by_size else None),
    }
    return {
        "shape": fleet.SHAPE, "load_before": before, "load_after": load(), "sizes": rows,
        "linearity": {"ratio": linearity, "largest": largest["clusters"] if largest else None,
                      "reference": reference["clusters"] if reference else None,
                      "measure": "marginal time per cluster between consecutive sizes, "
                                 "(wall(N) - wall(M)) / (N - M)"},
        "met": met,
    }


def simulate_available(tools: Tools) -> tuple[str | None, str]:
    probe = subprocess.run([str(tools.aiogen), "simulate", "--help"], capture_output=True, text=True, env=tools.env)
    if probe.returncode != 0:
        return "`aiogen simulate` does not exist yet", ""
    return None, probe.stdout


def bench_simulate(tools: Tools, work: Path, clusters: int) -> dict[str, Any]:
    reason, help_text = simulate_available(tools)
    if reason:
        return {"available": False, "reason": reason, "clusters": clusters}
    spec = fleet.write_fleet(work, clusters)
    argv = [str(tools.aiogen), "simulate", str(spec)]
    json_flag = next((f for f in ("--json", "--format=json") if f.split("=")[0] in help_text), None)
    if json_flag:
        argv.append(json_flag)
    out = work / "simulate.out"
    before = load()
    sample = run_child(argv, env=tools.env, stdout=out, timeout=1800)
    text = out.read_text(errors="replace")
    counts = _simulation_counts(text)
    handshakes = counts["handshakes"]
    result = {
        "available": True, "clusters": clusters,
        "command": " ".join(["aiogen", *argv[1:]]).replace(str(spec), spec.name),
        "load_before": before, "load_after": load(), "rc": sample.rc,
        "wall_s": round(sample.wall_ms / 1000, 3), "cpu_s": round(sample.cpu_ms / 1000, 3),
        "peak_rss_mb": round(sample.rss_mb, 1), "checks": counts["checks"], "failed_checks": counts["failed"],
        "handshakes": handshakes,
        "handshakes_per_s": round(handshakes / (sample.wall_ms / 1000), 1) if handshakes else None,
        "target_s": TARGETS["simulate_100_s"],
    }
    if sample.rc != 0:
        result["error"] = (sample.stderr.strip() or text.strip())[-2000:]
    result["met"] = (sample.rc == 0 and sample.wall_ms / 1000 <= TARGETS["simulate_100_s"]) if clusters >= 100 else None
    return result


def _simulation_counts(text: str) -> dict[str, int | None]:
    """Checks and handshakes in `aiogen simulate --json` output (or a '<N> handshakes' phrase)."""
    counts: dict[str, int | None] = {"checks": None, "failed": None, "handshakes": None}
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("checks"), list):
        checks = [c for c in data["checks"] if isinstance(c, dict)]
        counts["checks"] = len(checks)
        counts["failed"] = sum(1 for c in checks if c.get("result") == "fail")
        counts["handshakes"] = sum(1 for c in checks if c.get("handshake"))
        return counts
    numbers = [int(m.group(1).replace(",", "")) for m in
               re.finditer(r"(\d[\d,]*)\s+(?:\w+\s+){0,3}handshakes?\b", text, re.IGNORECASE)]
    counts["handshakes"] = max(numbers) if numbers else None
    return counts


def bench_phases(tools: Tools, work: Path, sizes: Sequence[int]) -> dict[str, Any]:
    """In-process split of one render (bench/phases.py): what dominates at each size."""
    out: dict[str, Any] = {}
    for n in sizes:
        spec = fleet.write_fleet(work, n)
        proc = subprocess.run([str(tools.python), str(BENCH / "phases.py"), str(spec)], capture_output=True,
                              text=True, env=tools.env, timeout=1800)
        if proc.returncode != 0:
            out[str(n)] = {"error": (proc.stderr.strip() or proc.stdout.strip())[-1000:]}
        else:
            out[str(n)] = json.loads(proc.stdout)
    return out


# ---------------------------------------------------------------- report


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.1f}{unit}" if abs(value) >= 10 else f"{value:,.2f}{unit}"
    if isinstance(value, int):
        return f"{value:,}{unit}"
    return f"{value}{unit}"


def _met(value: bool | None) -> str:
    return {True: "met", False: "**missed**", None: "–"}[value]


def _cases_table(cases: dict[str, Any], ratios: bool) -> list[str]:
    head = "| command | wall median (min) | CPU median |" + (" × `python -c pass` (wall / CPU) |" if ratios else "")
    lines = [head + " peak RSS |", "|---|---:|---:|" + ("---:|" if ratios else "") + "---:|"]
    for name, st in cases.items():
        wall, cpu = st["wall_ms"], st["cpu_ms"]
        row = f"| `{name}` | {wall['median']:.1f} ms ({wall['min']:.1f}) | {cpu['median']:.1f} ms |"
        if ratios:
            row += f" {st['ratio_wall']}× / {st['ratio_cpu']}× |"
        lines.append(row + f" {st['peak_rss_mb']:.0f} MB |")
    return lines


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"aiogen benchmark, {results['date']}{' (quick mode)' if results['quick'] else ''}",
        "",
        f"machine: {m['nproc']} × {m['cpu_model']}, {m['mem_gib']} GiB, Linux {m['kernel']}, Python {m['python']}, "
        f"kustomize {m['kustomize'] or 'missing'}; aiogen {m['aiogen_commit']}"
        f"{' + uncommitted changes' if m['aiogen_tree_dirty'] else ''}; "
        f"load average (1/5/15 min) {results['load_before']} before, {results['load_after']} after",
    ]
    s = results["startup"]
    lines += ["", "### Start-up: one-cluster spec", ""]
    if "error" in s or not s.get("cases"):
        lines.append(f"not measured: {s.get('error') or s.get('reason', 'skipped')}")
    else:
        lines.append(f"median of {s['runs']} runs after {s['warmup']} warm-up rounds, round-robin")
        lines += ["", *_cases_table(s["cases"], ratios=True)]
    p = results["plugin"]
    lines += ["", "### Plugin overhead: one-cluster spec", ""]
    if not p.get("available"):
        lines.append(f"not available: {p.get('reason') or p.get('error')}")
    else:
        lines.append(f"median of {p['runs']} runs after {p['warmup']} warm-up rounds, round-robin")
        lines += ["", *_cases_table(p["cases"], ratios=False)]
        lines.append(f"\noverhead of the exec function: {p['overhead_ms']:.1f} ms; "
                     f"same output as the pre-rendered build: {_fmt(p['same_output'])}")
    f = results["fleet"]
    lines += ["", "### Fleet scale: `aiogen render SPEC -o -`", ""]
    if "error" in f:
        lines.append(f"not measured: {f['error']}")
    elif f.get("sizes"):
        lines += [f"shape per cluster: {f['shape']}", "",
                  "| clusters | spec | resources | wall | CPU | per cluster | marginal per cluster | peak RSS |",
                  "|---:|---:|---:|---:|---:|---:|---:|---:|"]
        notes = []
        for r in f["sizes"]:
            if "error" in r:
                lines.append(f"| {r['clusters']:,} | {r['spec_bytes'] / 1024:,.0f} KiB | failed | | | | | |")
                notes.append(f"{r['clusters']:,} clusters failed: {r['error']}")
                continue
            lines.append(f"| {r['clusters']:,} | {r['spec_bytes'] / 1024:,.0f} KiB | {r['resources']:,} | "
                         f"{r['wall_s']:.2f} s | {r['cpu_s']:.2f} s | {r['per_cluster_ms']:.2f} ms | "
                         f"{_fmt(r['marginal_per_cluster_ms'], ' ms')} | {r['peak_rss_mb']:.0f} MB |")
        if notes:
            lines += ["", *notes]
    sim = results["simulate"]
    lines += ["", f"### Simulation: `aiogen simulate`, {sim.get('clusters')} clusters, EC keys", ""]
    if not sim.get("available"):
        lines.append(f"not available: {sim.get('reason') or sim.get('error')}")
    else:
        lines.append(f"`{sim['command']}`: exit {sim['rc']}, {sim['wall_s']:.1f} s wall, {sim['cpu_s']:.1f} s CPU, "
                     f"{_fmt(sim['checks'])} checks ({_fmt(sim['failed_checks'])} failed), "
                     f"{_fmt(sim['handshakes'])} TLS handshakes, {_fmt(sim['handshakes_per_s'])} handshakes/s, "
                     f"peak RSS {sim['peak_rss_mb']:.0f} MB" + (f"\n\nerror: {sim['error']}" if "error" in sim else ""))
    ph = results.get("phases") or {}
    if ph and not ph.get("error"):
        keys = ("import_cli", "import_pipeline", "parse_yaml", "validate", "resolve", "render", "emit", "total")
        lines += ["", "### Where one render's time goes (bench/phases.py, one process, ms)", "",
                  "| clusters | " + " | ".join(keys) + " |", "|---:|" + "---:|" * len(keys)]
        for n, row in ph.items():
            if "error" in row:
                lines.append(f"| {n} | failed: {row['error'][:200]} |")
            else:
                lines.append(f"| {int(n):,} | " + " | ".join(_fmt(row.get(k)) for k in keys) + " |")
    lines += ["", "### Targets", "", "| target | measured | goal | |", "|---|---|---|---|"]
    for row in results["targets"]:
        lines.append(f"| {row['what']} | {row['measured']} | {row['goal']} | {_met(row['met'])} |")
    return "\n".join(lines) + "\n"


def target_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    s, p, f, sim = results["startup"], results["plugin"], results["fleet"], results["simulate"]
    by = {r["clusters"]: r for r in f.get("sizes", []) if "error" not in r}
    render = (s.get("cases") or {}).get("aiogen render (1 cluster, -o -)")
    lin = f.get("linearity") or {}
    met = f.get("met") or {}
    return [
        {"what": "single-cluster render vs bare interpreter",
         "measured": f"{s['render_ratio']}× ({render['wall_ms']['median']:.0f} ms)" if render else "not measured",
         "goal": f"≤ {TARGETS['startup_render_ratio']:g}×", "met": s.get("met")},
        {"what": "kustomize build with aiogen as exec function",
         "measured": f"{p['exec_build_ms']:.0f} ms" if p.get("available") else "not available",
         "goal": f"≤ {TARGETS['plugin_exec_build_ms']:g} ms", "met": p.get("met")},
        {"what": "render 1,000 clusters", "measured": f"{by[1000]['wall_s']:.2f} s" if 1000 in by else "not run",
         "goal": f"≤ {TARGETS['fleet_1000_s']:g} s", "met": met.get("fleet_1000_s")},
        {"what": f"linear: marginal time per cluster at {_fmt(lin.get('largest'))} vs {_fmt(lin.get('reference'))}",
         "measured": f"{lin['ratio']}×" if lin.get("ratio") is not None else "–",
         "goal": f"≤ {TARGETS['fleet_linearity']:g}×", "met": met.get("fleet_linearity")},
        {"what": "peak RSS, 5,000 clusters",
         "measured": f"{by[5000]['peak_rss_mb']:.0f} MB" if 5000 in by else "not run",
         "goal": f"≤ {TARGETS['fleet_5000_rss_mb']:g} MB", "met": met.get("fleet_5000_rss_mb")},
        {"what": f"simulate {sim.get('clusters')} clusters",
         "measured": f"{sim['wall_s']:.1f} s" if sim.get("available") else "not available",
         "goal": f"≤ {TARGETS['simulate_100_s']:g} s (100 clusters)", "met": sim.get("met")},
    ]


# ---------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few runs (CI smoke test)")
    parser.add_argument("--json", type=Path, help="where to write the results "
                        "(default: bench/results.json, or bench/results-quick.json with --quick)")
    parser.add_argument("--markdown", type=Path, help="also write the tables to this file")
    parser.add_argument("--venv", type=Path, help="the venv whose python and aiogen to measure (default: .venv)")
    parser.add_argument("--kustomize", help="standalone kustomize binary (default: .tools/bin/kustomize, then PATH)")
    parser.add_argument("--sizes", help="fleet sizes, comma-separated (default: 1,10,100,1000,5000)")
    parser.add_argument("--runs", type=int, help="start-up and plugin runs per case (default: 21)")
    parser.add_argument("--simulate-clusters", type=int, help="fleet size for the simulation (default: 100)")
    parser.add_argument("--skip", default="", help="comma-separated sections to skip: "
                        "startup,plugin,fleet,simulate,phases")
    args = parser.parse_args(argv)
    cfg: dict[str, Any] = dict(QUICK if args.quick else FULL)
    if args.sizes:
        cfg["fleet_sizes"] = tuple(int(x) for x in args.sizes.split(","))
    if args.runs:
        cfg["startup_runs"] = cfg["plugin_runs"] = args.runs
    if args.simulate_clusters:
        cfg["simulate_clusters"] = args.simulate_clusters
    skip = {x.strip() for x in args.skip.split(",") if x.strip()}
    out_json = args.json or BENCH / ("results-quick.json" if args.quick else "results.json")

    global _spawner
    tools = find_tools(args.venv, args.kustomize)
    _spawner = Spawner(tools.python)
    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(), "quick": args.quick,
        "machine": machine(tools), "load_before": load(), "targets_config": TARGETS, "config": cfg,
    }
    t0 = time.perf_counter()

    def step(name: str, fn: Callable[[], dict[str, Any]], **extra: Any) -> dict[str, Any]:
        if name in skip:
            return {"available": False, "reason": "skipped (--skip)", **extra}
        print(f"bench: {name} ... ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
        try:
            return fn()
        except (BenchError, OSError, subprocess.SubprocessError, ValueError) as error:
            print(f"bench: {name} failed: {error}", file=sys.stderr)
            return {"available": False, "error": str(error), **extra}

    try:
        with tempfile.TemporaryDirectory(prefix="aiogen-bench-") as tmp:
            work = Path(tmp)
            # remembered renders (aiogen.memo) live with this run, so earlier runs cannot help it
            tools.env["AIOGEN_CACHE_DIR"] = str(work / "aiogen-cache")
            made = subprocess.run([str(tools.python), str(BENCH / "fleet.py"), str(work), "1"],
                                  capture_output=True, text=True, env=tools.env)
            if made.returncode != 0:
                raise BenchError(f"cannot make the fleet's PEMs: {made.stderr.strip()}")
            results["startup"] = step("startup", lambda: bench_startup(tools, work, cfg["startup_runs"],
                                                                       cfg["startup_warmup"]))
            results["plugin"] = step("plugin", lambda: bench_plugin(tools, work, cfg["plugin_runs"],
                                                                    cfg["plugin_warmup"]))
            results["fleet"] = step("fleet", lambda: bench_fleet(tools, work, cfg["fleet_sizes"], args.quick))
            results["simulate"] = step("simulate", lambda: bench_simulate(tools, work, cfg["simulate_clusters"]),
                                       clusters=cfg["simulate_clusters"])
            phase_sizes = (1, 10) if args.quick else (1, 1000)
            results["phases"] = step("phases", lambda: bench_phases(tools, work, phase_sizes))
    finally:
        _spawner.close()
    results["elapsed_s"] = round(time.perf_counter() - t0, 1)
    results["load_after"] = load()
    results["targets"] = target_rows(results)
    table = markdown(results)
    out_json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if args.markdown:
        args.markdown.write_text(table, encoding="utf-8")
    sys.stdout.write(table)
    print(f"bench: wrote {out_json} ({results['elapsed_s']} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        sys.exit(1)
