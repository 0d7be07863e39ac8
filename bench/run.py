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
python, with `cryptography`, which aiogen depends on). The sections live here; spawning and
measuring a child in bench/spawn.py, the tools and machine in bench/environment.py, the tables
in bench/report.py. Timing targets live here (`TARGETS`) and in bench/README.md, never in tests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

import fleet  # noqa: E402  (bench/fleet.py, bench/spawn.py and bench/report.py, next to this file)
import spawn  # noqa: E402
from environment import Tools, find_tools, install_step, load, machine  # noqa: E402
from report import STARTUP_CASES, markdown, target_rows  # noqa: E402
from spawn import BenchError, Sample, round_robin, run_child, summary  # noqa: E402

TARGETS = {
    # cold `aiogen render -o -` and `aiogen validate` (1 cluster, and examples/fleet.yaml) <= 8x `python -c pass`
    "startup_ratio": 8.0,
    "plugin_ratio": 3.0,  # cold kustomize build through aiogen <= 3x through a Python printer of a ResourceList
    "fleet_dir_ratio": 1.3,  # render -o DIR of the largest fleet <= 1.3x render -o - of it
    "fleet_per_cluster_ratio": 1.1,  # time per cluster at 10,000 <= 1.1x that at 1,000
    "fleet_rss_mb": 300.0,  # peak RSS of the largest render
    "simulate_s": 60.0,  # aiogen simulate of 1,000 clusters
}
FULL = {"startup_runs": 21, "startup_warmup": 2, "plugin_runs": 21, "plugin_warmup": 2,
        "fleet_sizes": (1, 10, 100, 1000, 10000), "fleet_dir_sizes": (1000, 10000), "simulate_clusters": 1000}
QUICK = {"startup_runs": 5, "startup_warmup": 1, "plugin_runs": 3, "plugin_warmup": 1,
         "fleet_sizes": (1, 10, 50), "fleet_dir_sizes": (50,), "simulate_clusters": 2}
SIZE_SMALL, SIZE_LARGE = 1000, 10000  # the per-cluster comparison (quick mode: its two largest sizes)


# ---------------------------------------------------------------- sections


def bench_startup(tools: Tools, work: Path, runs: int, warmup: int) -> dict[str, Any]:
    """Cold start: every run a fresh process, nothing from earlier runs (aiogen keeps no output cache)."""
    spec = work / "fleet-1.yaml"
    example = REPO / "examples" / "fleet.yaml"
    py, ag, env = str(tools.python), str(tools.aiogen), tools.env
    fresh_dirs = iter(range(1_000_000))

    def render_dir() -> Sample:  # a new directory each run: every file is written, none found unchanged
        out = work / "startup-trees" / f"run-{next(fresh_dirs)}"
        return run_child([ag, "render", str(spec), "-o", str(out)], env=env)

    cases = {
        STARTUP_CASES[0]: lambda: run_child([py, "-c", "pass"], env=env),
        STARTUP_CASES[1]: lambda: run_child([ag, "render", str(spec), "-o", "-"], env=env),
        STARTUP_CASES[2]: render_dir,
        STARTUP_CASES[3]: lambda: run_child([ag, "validate", str(spec)], env=env),
        # the issue's own commands: three clusters whose roots, client root and one intermediate are PEM files
        STARTUP_CASES[4]: lambda: run_child([ag, "render", str(example), "-o", "-"], env=env),
        STARTUP_CASES[5]: lambda: run_child([ag, "validate", str(example)], env=env),
        # no target: what reading a YAML spec and its PEM certificates costs before aiogen's own code runs
        STARTUP_CASES[6]: lambda: run_child([py, "-c", "import yaml, cryptography.x509"], env=env),
    }
    before = load()
    samples = round_robin(cases, runs, warmup)
    shutil.rmtree(work / "startup-trees", ignore_errors=True)
    stats = {name: summary(s) for name, s in samples.items()}
    base_wall = stats[STARTUP_CASES[0]]["wall_ms"]["median"]
    base_cpu = stats[STARTUP_CASES[0]]["cpu_ms"]["median"]
    for st in stats.values():
        st["ratio_wall"] = round(st["wall_ms"]["median"] / base_wall, 1)
        st["ratio_cpu"] = round(st["cpu_ms"]["median"] / base_cpu, 1) if base_cpu else None
    render_ratio = stats[STARTUP_CASES[1]]["ratio_wall"]
    validate_ratio = stats[STARTUP_CASES[3]]["ratio_wall"]
    example_ratios = [stats[STARTUP_CASES[4]]["ratio_wall"], stats[STARTUP_CASES[5]]["ratio_wall"]]
    goal = TARGETS["startup_ratio"]
    return {
        "spec": "generated fleet of 1 cluster (shape below)", "runs": runs, "warmup": warmup,
        "load_before": before, "load_after": load(), "cases": stats,
        "render_ratio": render_ratio, "validate_ratio": validate_ratio,
        "render_dir_ratio": stats[STARTUP_CASES[2]]["ratio_wall"], "target_ratio": goal,
        "example_render_ratio": example_ratios[0], "example_validate_ratio": example_ratios[1],
        "met": all(r <= goal for r in (render_ratio, validate_ratio, *example_ratios)),
    }


def krm_available(tools: Tools) -> str | None:
    """None when `aiogen` with no arguments is a KRM function; otherwise why not."""
    probe = subprocess.run([str(tools.python), "-c", "import aiogen.krm"], capture_output=True, text=True,
                           env=tools.env)
    if probe.returncode != 0:
        return "aiogen.krm is not importable (the KRM function is not built yet)"
    return None


PLUGIN_CASES = ("kustomize build, exec function: Python printing a pre-rendered ResourceList",
                "kustomize build, exec function: aiogen",
                "kustomize build, exec function: Python reading the spec and its PEMs with PyYAML and cryptography, "
                "then printing",
                "kustomize build, exec function: aiogen, as if aiogen precompile had not run")

_PRINTER = """#!{python}
# A stand-in exec function: reads the ResourceList kustomize sends, prints one rendered beforehand.
import sys
sys.stdin.buffer.read()
with open({path!r}, "rb") as handle:
    sys.stdout.buffer.write(handle.read())
"""

# No target: the printer, after reading what aiogen's exec function must read with the libraries aiogen
# reads it with (the ResourceList by libyaml, each PEM the spec names by cryptography, each root's
# self-signature checked), the libraries imported as they come (aiogen compiles their regular
# expressions at install time and defers what they import for calls it never makes: aiogen.startup).
_READER = """#!{python}
import gc, sys
gc.disable()
import yaml
from cryptography import x509
spec = yaml.load(sys.stdin.buffer.read(), Loader=yaml.CSafeLoader)["functionConfig"]
def files(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "file" and isinstance(value, str) and value.endswith(".pem"):
                yield value
            else:
                yield from files(value)
    elif isinstance(node, list):
        for item in node:
            yield from files(item)
for name in sorted(set(files(spec))):
    with open(name, "rb") as handle:
        for cert in x509.load_pem_x509_certificates(handle.read()):
            if cert.subject == cert.issuer:
                cert.verify_directly_issued_by(cert)
with open({path!r}, "rb") as handle:
    sys.stdout.buffer.write(handle.read())
"""


def bench_plugin(tools: Tools, work: Path, runs: int, warmup: int) -> dict[str, Any]:
    """`kustomize build` through aiogen as exec function against the same build through a bare printer."""
    if tools.kustomize is None:
        return {"available": False, "reason": "standalone kustomize not found (bash "
                "tools/install-kustomize.sh .tools, or --kustomize)"}
    reason = krm_available(tools)
    if reason:
        return {"available": False, "reason": reason}
    env = tools.env
    # aiogen: the spec itself is the functionConfig (its PEMs beside it: the cwd is this dir)
    fn_dir = work / "plugin-exec"
    fn_dir.mkdir()
    for name in fleet.PEMS.values():
        shutil.copy(work / name, fn_dir / name)
    annotated = fleet.spec_text(1).replace(
        "metadata:\n  name: bench-fleet-1\n",
        "metadata:\n  name: bench-fleet-1\n  annotations:\n    config.kubernetes.io/function: |\n"
        "      exec:\n        path: aiogen\n", 1)
    (fn_dir / "topology.yaml").write_text(annotated, encoding="utf-8")
    kustomization = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\ngenerators:\n- {}\n"
    (fn_dir / "kustomization.yaml").write_text(kustomization.format("topology.yaml"), encoding="utf-8")
    # the printer: the same documents, rendered once by aiogen, printed as a ResourceList
    printer_dir = work / "plugin-printer"
    printer_dir.mkdir()
    resource_list = printer_dir / "resourcelist.yaml"
    _write_resource_list(tools, work / "fleet-1.yaml", resource_list)
    printer = printer_dir / "printer.py"
    printer.write_text(_PRINTER.format(python=tools.python, path=str(resource_list)), encoding="utf-8")
    printer.chmod(0o755)
    (printer_dir / "printer.yaml").write_text(
        "apiVersion: bench.aiogen.io/v1\nkind: Printer\nmetadata:\n  name: printer\n  annotations:\n"
        "    config.kubernetes.io/function: |\n      exec:\n        path: ./printer.py\n", encoding="utf-8")
    (printer_dir / "kustomization.yaml").write_text(kustomization.format("printer.yaml"), encoding="utf-8")
    # the reader: the spec (with its PEMs beside it) as its functionConfig, as aiogen's
    reader_dir = work / "plugin-reader"
    shutil.copytree(fn_dir, reader_dir)
    reader = reader_dir / "reader.py"
    reader.write_text(_READER.format(python=tools.python, path=str(resource_list)), encoding="utf-8")
    reader.chmod(0o755)
    (reader_dir / "topology.yaml").write_text(annotated.replace("path: aiogen\n", "path: ./reader.py\n", 1),
                                              encoding="utf-8")
    # aiogen as if `aiogen precompile` had not run: its console script copied to another directory, which
    # comes first on sys.path there, so the precompiled modules are not for it (aiogen.startup.modules)
    unprecompiled_bin = work / "unprecompiled-bin"
    unprecompiled_bin.mkdir()
    shutil.copy2(tools.aiogen, unprecompiled_bin / "aiogen")
    unprecompiled_dir = work / "plugin-unprecompiled"
    shutil.copytree(fn_dir, unprecompiled_dir)
    (unprecompiled_dir / "topology.yaml").write_text(
        annotated.replace("path: aiogen\n", f"path: {unprecompiled_bin / 'aiogen'}\n", 1), encoding="utf-8")
    k = str(tools.kustomize)
    out_exec, out_printer = work / "plugin-exec.out", work / "plugin-printer.out"
    out_reader, out_unprecompiled = work / "plugin-reader.out", work / "plugin-unprecompiled.out"
    flags = ["build", "--enable-alpha-plugins", "--enable-exec"]
    cases = {
        PLUGIN_CASES[0]: lambda: run_child([k, *flags, str(printer_dir)], env=env, stdout=out_printer),
        PLUGIN_CASES[1]: lambda: run_child([k, *flags, str(fn_dir)], env=env, stdout=out_exec),
        PLUGIN_CASES[2]: lambda: run_child([k, *flags, str(reader_dir)], env=env, stdout=out_reader),
        PLUGIN_CASES[3]: lambda: run_child([k, *flags, str(unprecompiled_dir)], env=env, stdout=out_unprecompiled),
    }
    before = load()
    try:
        samples = round_robin(cases, runs, warmup)
    except BenchError as error:
        return {"available": False, "reason": f"kustomize with an exec function failed: {error}"}
    stats = {name: summary(s) for name, s in samples.items()}
    printer_ms = stats[PLUGIN_CASES[0]]["wall_ms"]["median"]
    exec_ms = stats[PLUGIN_CASES[1]]["wall_ms"]["median"]
    reader_ms = stats[PLUGIN_CASES[2]]["wall_ms"]["median"]
    unprecompiled_ms = stats[PLUGIN_CASES[3]]["wall_ms"]["median"]
    ratio = round(exec_ms / printer_ms, 2)
    same = _documents(out_exec.read_text()) == _documents(out_printer.read_text()) == _documents(
        out_reader.read_text()) == _documents(out_unprecompiled.read_text())
    return {
        "available": True, "runs": runs, "warmup": warmup, "load_before": before, "load_after": load(),
        "cases": stats, "overhead_ms": round(exec_ms - printer_ms, 1), "exec_build_ms": exec_ms,
        "printer_build_ms": printer_ms, "ratio": ratio, "same_output": same,
        "reader_build_ms": reader_ms, "reader_ratio": round(reader_ms / printer_ms, 2),
        "unprecompiled_build_ms": unprecompiled_ms, "unprecompiled_ratio": round(unprecompiled_ms / printer_ms, 2),
        "target_ratio": TARGETS["plugin_ratio"], "met": ratio <= TARGETS["plugin_ratio"],
    }


def _write_resource_list(tools: Tools, spec: Path, target: Path) -> None:
    """The ResourceList aiogen's exec function returns for ``spec``, from `aiogen render -o -` (PyYAML, JSON form)."""
    code = ("import json, sys, yaml\n"
            "items = [d for d in yaml.safe_load_all(sys.stdin) if d is not None]\n"
            "print(json.dumps({'apiVersion': 'config.kubernetes.io/v1', 'kind': 'ResourceList', 'items': items}))\n")
    rendered = subprocess.run([str(tools.aiogen), "render", str(spec), "-o", "-"], capture_output=True,
                              text=True, env=tools.env)
    if rendered.returncode != 0:
        raise BenchError(f"aiogen render -o - failed: {rendered.stderr.strip()}")
    listed = subprocess.run([str(tools.python), "-c", code], input=rendered.stdout, capture_output=True,
                            text=True, env=tools.env)
    if listed.returncode != 0:
        raise BenchError(f"cannot make the ResourceList: {listed.stderr.strip()}")
    target.write_text(listed.stdout, encoding="utf-8")


def _documents(text: str) -> list[str]:
    return sorted(d.strip() for d in re.split(r"(?m)^---$", text) if d.strip())


def _count_documents(path: Path) -> int:
    count = 0
    with open(path, "rb") as handle:
        for line in handle:
            if line == b"---\n":
                count += 1
    return count


def _repeats(n: int, quick: bool) -> int:
    return 1 if quick else (5 if n <= 100 else 3 if n <= 1000 else 2)


def _fleet_row(tools: Tools, work: Path, spec: Path, n: int, output: str, repeats: int,
               trees: list[Path]) -> dict[str, Any]:
    """`aiogen render SPEC -o -` (stdout to a file) or `-o DIR` (a fresh directory each run), cold every time.

    The trees are removed after the whole section (`trees`), never just before the next render: on
    this machine's file system (ext4 without a journal) creating files runs 5-10x slower in system
    time for minutes after a large tree was deleted, which a CI job rendering into its fresh checkout
    does not pay (bench/README.md, "Third round")."""
    samples: list[Sample] = []
    resources = None
    for run in range(repeats):
        if output == "-":
            target = work / f"fleet-{n}.out.yaml"
            sample = run_child([str(tools.aiogen), "render", str(spec), "-o", "-"], env=tools.env, stdout=target)
            if sample.rc == 0:
                resources = _count_documents(target)
            target.unlink(missing_ok=True)
        else:
            tree = work / f"fleet-{n}.tree-{run}"
            sample = run_child([str(tools.aiogen), "render", str(spec), "-o", str(tree)], env=tools.env)
            if sample.rc == 0:
                resources = sum(1 for p in tree.rglob("*.yaml") if p.name != "kustomization.yaml")
            trees.append(tree)
        if sample.rc != 0:
            return {"clusters": n, "output": output, "spec_bytes": spec.stat().st_size,
                    "error": f"exit {sample.rc}: {sample.stderr.strip()[-1000:]}"}
        samples.append(sample)
    st = summary(samples)
    return {
        "clusters": n, "output": output, "runs": len(samples), "spec_bytes": spec.stat().st_size,
        "wall_s": round(st["wall_ms"]["median"] / 1000, 3), "cpu_s": round(st["cpu_ms"]["median"] / 1000, 3),
        "sys_s": round(st["sys_ms"]["median"] / 1000, 3),
        "per_cluster_ms": round(st["wall_ms"]["median"] / n, 3),
        "peak_rss_mb": st["peak_rss_mb"], "resources": resources,
    }


def bench_fleet(tools: Tools, work: Path, sizes: Sequence[int], dir_sizes: Sequence[int],
                quick: bool) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    trees: list[Path] = []
    before = load()
    for n in sorted(set(sizes) | set(dir_sizes)):
        spec = fleet.write_fleet(work, n)
        if n in sizes:
            rows.append(_fleet_row(tools, work, spec, n, "-", _repeats(n, quick), trees))
        if n in dir_sizes:
            rows.append(_fleet_row(tools, work, spec, n, "DIR", _repeats(n, quick), trees))
        if not quick:
            spec.unlink()
    after = load()
    for tree in trees:
        shutil.rmtree(tree, ignore_errors=True)
    stream = {r["clusters"]: r for r in rows if r["output"] == "-" and "error" not in r}
    tree = {r["clusters"]: r for r in rows if r["output"] == "DIR" and "error" not in r}
    ok = sorted(stream)
    small, large = (SIZE_SMALL, SIZE_LARGE) if {SIZE_SMALL, SIZE_LARGE} <= stream.keys() else \
        ((ok[-2], ok[-1]) if len(ok) >= 2 else (None, None))
    per_cluster = None
    if small is not None and large is not None:
        per_cluster = round(stream[large]["per_cluster_ms"] / stream[small]["per_cluster_ms"], 2)
    both = sorted(stream.keys() & tree.keys())
    largest_dir = both[-1] if both else None
    dir_ratio = round(tree[largest_dir]["wall_s"] / stream[largest_dir]["wall_s"], 2) if largest_dir else None
    largest = max(stream) if stream else None
    peak = max((r["peak_rss_mb"] for r in rows if "error" not in r and r["clusters"] == largest), default=None)
    full = not quick and largest == SIZE_LARGE
    met: dict[str, bool | None] = {
        "fleet_dir_ratio": dir_ratio <= TARGETS["fleet_dir_ratio"] if dir_ratio is not None and full else None,
        "fleet_per_cluster_ratio": (per_cluster <= TARGETS["fleet_per_cluster_ratio"]
                                    if per_cluster is not None and full else None),
        "fleet_rss_mb": peak <= TARGETS["fleet_rss_mb"] if peak is not None and full else None,
    }
    return {
        "shape": fleet.SHAPE, "load_before": before, "load_after": after, "sizes": rows,
        "per_cluster": {"ratio": per_cluster, "small": small, "large": large,
                        "measure": "wall(large)/large divided by wall(small)/small, render -o -"},
        "dir_vs_stream": {"ratio": dir_ratio, "clusters": largest_dir},
        "largest": {"clusters": largest, "peak_rss_mb": peak},
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
    out.unlink()
    counts = _simulation_counts(text)
    handshakes = counts["handshakes"]
    result = {
        "available": True, "clusters": clusters,
        "command": " ".join(["aiogen", *argv[1:]]).replace(str(spec), spec.name),
        "load_before": before, "load_after": load(), "rc": sample.rc,
        "wall_s": round(sample.wall_ms / 1000, 3), "cpu_s": round(sample.cpu_ms / 1000, 3),
        "peak_rss_mb": round(sample.rss_mb, 1), "checks": counts["checks"], "failed_checks": counts["failed"],
        "handshakes": handshakes, "reused": counts["reused"], "counts_from": counts["source"],
        "handshakes_per_s": round(handshakes / (sample.wall_ms / 1000), 1) if handshakes else None,
        "target_s": TARGETS["simulate_s"],
    }
    if sample.rc != 0:
        result["error"] = (sample.stderr.strip() or text.strip())[-2000:]
    result["met"] = (sample.rc == 0 and sample.wall_ms / 1000 <= TARGETS["simulate_s"]) if clusters >= 1000 else None
    return result


def _simulation_counts(text: str) -> dict[str, Any]:
    """Checks, real TLS handshakes and reused verdicts in `aiogen simulate --json` output.

    The report's summary says how many handshakes ran and how many verdicts were reused from an
    identical check (`handshakes`, `reused`, or keys naming them); without those, a check with a
    negotiated TLS version counts as one handshake and reuse is unknown.
    """
    counts: dict[str, Any] = {"checks": None, "failed": None, "handshakes": None, "reused": None, "source": None}
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("checks"), list):
        checks = [c for c in data["checks"] if isinstance(c, dict)]
        summary_ = data.get("summary") if isinstance(data.get("summary"), dict) else {}
        counts["checks"] = len(checks)
        counts["failed"] = sum(1 for c in checks if str(c.get("result", "")).lower() == "fail")
        told = {k.lower(): v for k, v in summary_.items() if isinstance(v, int) and not isinstance(v, bool)}
        shakes = next((v for k, v in told.items() if "handshake" in k and "reuse" not in k), None)
        reused = next((v for k, v in told.items() if "reuse" in k), None)
        if shakes is not None:
            counts["handshakes"], counts["reused"], counts["source"] = shakes, reused, "report summary"
        else:
            counts["handshakes"] = sum(1 for c in checks if isinstance(c.get("handshake"), dict)
                                       and c["handshake"].get("version"))
            counts["source"] = "checks with a negotiated TLS version"
        return counts
    numbers = [int(m.group(1).replace(",", "")) for m in
               re.finditer(r"(\d[\d,]*)\s+(?:\w+\s+){0,3}handshakes?\b", text, re.IGNORECASE)]
    counts["handshakes"] = max(numbers) if numbers else None
    counts["source"] = "text" if numbers else None
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


# ---------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few runs (CI smoke test)")
    parser.add_argument("--json", type=Path, help="where to write the results "
                        "(default: bench/results.json, or bench/results-quick.json with --quick)")
    parser.add_argument("--markdown", type=Path, help="also write the tables to this file")
    parser.add_argument("--venv", type=Path, help="the venv whose python and aiogen to measure (default: .venv)")
    parser.add_argument("--kustomize", help="standalone kustomize binary (default: .tools/bin/kustomize, then PATH)")
    parser.add_argument("--sizes", help="fleet sizes, comma-separated (default: 1,10,100,1000,10000)")
    parser.add_argument("--runs", type=int, help="start-up and plugin runs per case (default: 21)")
    parser.add_argument("--dir-sizes", help="fleet sizes also rendered with -o DIR (default: 1000,10000)")
    parser.add_argument("--simulate-clusters", type=int, help="fleet size for the simulation (default: 1000)")
    parser.add_argument("--skip", default="", help="comma-separated sections to skip: "
                        "startup,plugin,fleet,simulate,phases")
    args = parser.parse_args(argv)
    cfg: dict[str, Any] = dict(QUICK if args.quick else FULL)
    if args.sizes:
        cfg["fleet_sizes"] = tuple(int(x) for x in args.sizes.split(","))
    if args.dir_sizes is not None:
        cfg["fleet_dir_sizes"] = tuple(int(x) for x in args.dir_sizes.split(",") if x)
    if args.runs:
        cfg["startup_runs"] = cfg["plugin_runs"] = args.runs
    if args.simulate_clusters:
        cfg["simulate_clusters"] = args.simulate_clusters
    skip = {x.strip() for x in args.skip.split(",") if x.strip()}
    out_json = args.json or BENCH / ("results-quick.json" if args.quick else "results.json")

    tools = find_tools(args.venv, args.kustomize)
    spawn.start(tools.python)
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
            results["install"] = install_step(tools)
            made = subprocess.run([str(tools.python), str(BENCH / "fleet.py"), str(work), "1"],
                                  capture_output=True, text=True, env=tools.env)
            if made.returncode != 0:
                raise BenchError(f"cannot make the fleet's PEMs: {made.stderr.strip()}")
            results["startup"] = step("startup", lambda: bench_startup(tools, work, cfg["startup_runs"],
                                                                       cfg["startup_warmup"]))
            results["plugin"] = step("plugin", lambda: bench_plugin(tools, work, cfg["plugin_runs"],
                                                                    cfg["plugin_warmup"]))
            results["fleet"] = step("fleet", lambda: bench_fleet(tools, work, cfg["fleet_sizes"],
                                                                 cfg["fleet_dir_sizes"], args.quick))
            results["simulate"] = step("simulate", lambda: bench_simulate(tools, work, cfg["simulate_clusters"]),
                                       clusters=cfg["simulate_clusters"])
            phase_sizes = (1, 10) if args.quick else (1, 1000)
            results["phases"] = step("phases", lambda: bench_phases(tools, work, phase_sizes))
    finally:
        spawn.stop()
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
