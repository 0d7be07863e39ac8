"""The benchmark's report: the Markdown tables `bench/run.py` prints, and the targets table."""

from __future__ import annotations

from typing import Any

STARTUP_CASES = ("python -c pass", "aiogen render (1 cluster, -o -)", "aiogen render (1 cluster, -o DIR)",
                 "aiogen validate (1 cluster)", "aiogen render examples/fleet.yaml -o -",
                 "aiogen validate examples/fleet.yaml", "python -c 'import yaml, cryptography.x509'")


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
        "",
        f"install step: {results.get('install', {}).get('note', '–')}",
    ]
    s = results["startup"]
    lines += ["", "### Start-up, cold: one-cluster spec", ""]
    if "error" in s or not s.get("cases"):
        lines.append(f"not measured: {s.get('error') or s.get('reason', 'skipped')}")
    else:
        lines.append(f"every run a fresh process; median of {s['runs']} runs after {s['warmup']} warm-up rounds, "
                     "round-robin")
        lines += ["", *_cases_table(s["cases"], ratios=True)]
    p = results["plugin"]
    lines += ["", "### Plugin overhead, cold: `kustomize build` of a one-cluster spec", ""]
    if not p.get("available"):
        lines.append(f"not available: {p.get('reason') or p.get('error')}")
    else:
        lines.append(f"median of {p['runs']} runs after {p['warmup']} warm-up rounds, round-robin")
        lines += ["", *_cases_table(p["cases"], ratios=False)]
        lines.append(f"\naiogen / printer: {p['ratio']}× ({p['overhead_ms']:.1f} ms more); "
                     f"same documents: {_fmt(p['same_output'])}")
        if "unprecompiled_ratio" in p:
            lines.append(f"\naiogen as if `aiogen precompile` had not run / printer: {p['unprecompiled_ratio']}× "
                         "(every module imported through Python's own finders, from its .pyc)")
        if "reader_ratio" in p:
            lines.append(f"\nreading the spec and its PEMs with PyYAML and cryptography alone / printer: "
                         f"{p['reader_ratio']}× (no target: those libraries imported as they come, nothing rendered)")
    lines += _fleet_markdown(results["fleet"])
    sim = results["simulate"]
    lines += ["", f"### Simulation: `aiogen simulate`, {sim.get('clusters')} clusters, EC keys", ""]
    if not sim.get("available"):
        lines.append(f"not available: {sim.get('reason') or sim.get('error')}")
    else:
        lines.append(f"`{sim['command']}`: exit {sim['rc']}, {sim['wall_s']:.1f} s wall, {sim['cpu_s']:.1f} s CPU, "
                     f"{_fmt(sim['checks'])} checks ({_fmt(sim['failed_checks'])} failed), "
                     f"{_fmt(sim['handshakes'])} real TLS handshakes, {_fmt(sim['reused'])} reused verdicts "
                     f"(counts from: {sim['counts_from']}), peak RSS {sim['peak_rss_mb']:.0f} MB"
                     + (f"\n\nerror: {sim['error']}" if "error" in sim else ""))
    ph = results.get("phases") or {}
    if ph and not ph.get("error") and ph.get("available", True):
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


def _fleet_markdown(f: dict[str, Any]) -> list[str]:
    lines = ["", "### Fleet scale, cold: `aiogen render SPEC -o -` and `-o DIR` (a new directory each run)", ""]
    if "error" in f or not f.get("sizes"):
        return [*lines, f"not measured: {f.get('error') or f.get('reason', 'skipped')}"]
    lines += [f"shape per cluster: {f['shape']}", "",
              "| clusters | output | spec | resources | wall | CPU (of it system) | per cluster | peak RSS |",
              "|---:|---|---:|---:|---:|---:|---:|---:|"]
    notes = []
    for r in f["sizes"]:
        out = "`-o -`" if r["output"] == "-" else "`-o DIR`"
        if "error" in r:
            lines.append(f"| {r['clusters']:,} | {out} | {r['spec_bytes'] / 1024:,.0f} KiB | failed | | | | |")
            notes.append(f"{r['clusters']:,} clusters ({out}) failed: {r['error']}")
            continue
        lines.append(f"| {r['clusters']:,} | {out} | {r['spec_bytes'] / 1024:,.0f} KiB | {_fmt(r['resources'])} | "
                     f"{r['wall_s']:.2f} s | {r['cpu_s']:.2f} s ({r.get('sys_s', 0):.2f} s) | "
                     f"{r['per_cluster_ms']:.2f} ms | "
                     f"{r['peak_rss_mb']:.0f} MB |")
    pc, dv = f["per_cluster"], f["dir_vs_stream"]
    lines += ["", f"time per cluster at {_fmt(pc['large'])} / at {_fmt(pc['small'])}: {_fmt(pc['ratio'])}×; "
              f"`-o DIR` / `-o -` at {_fmt(dv['clusters'])} clusters: {_fmt(dv['ratio'])}×"]
    if notes:
        lines += ["", *notes]
    return lines


def target_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per target of `bench/run.py` (``results["targets_config"]``): measured, goal, met."""
    TARGETS = results["targets_config"]
    s, p, f, sim = results["startup"], results["plugin"], results["fleet"], results["simulate"]
    goal = TARGETS["startup_ratio"]
    cases = s.get("cases") or {}
    pc, dv, lg = (f.get("per_cluster") or {}), (f.get("dir_vs_stream") or {}), (f.get("largest") or {})
    met = f.get("met") or {}

    def startup(name: str) -> str:
        case = cases.get(name)
        return f"{case['ratio_wall']}× ({case['wall_ms']['median']:.0f} ms)" if case else "not measured"

    return [
        {"what": "cold `aiogen render` (1 cluster, -o -) vs `python -c pass`", "measured": startup(STARTUP_CASES[1]),
         "goal": f"≤ {TARGETS['startup_ratio']:g}×", "met": _ratio_met(cases.get(STARTUP_CASES[1]), goal)},
        {"what": "cold `aiogen validate` (1 cluster) vs `python -c pass`", "measured": startup(STARTUP_CASES[3]),
         "goal": f"≤ {TARGETS['startup_ratio']:g}×", "met": _ratio_met(cases.get(STARTUP_CASES[3]), goal)},
        {"what": "cold `aiogen render examples/fleet.yaml -o -` vs `python -c pass`",
         "measured": startup(STARTUP_CASES[4]), "goal": f"≤ {TARGETS['startup_ratio']:g}×",
         "met": _ratio_met(cases.get(STARTUP_CASES[4]), goal)},
        {"what": "cold `aiogen validate examples/fleet.yaml` vs `python -c pass`",
         "measured": startup(STARTUP_CASES[5]), "goal": f"≤ {TARGETS['startup_ratio']:g}×",
         "met": _ratio_met(cases.get(STARTUP_CASES[5]), goal)},
        {"what": "cold `kustomize build` through aiogen vs through a Python ResourceList printer",
         "measured": (f"{p['ratio']}× ({p['exec_build_ms']:.0f} vs {p['printer_build_ms']:.0f} ms)"
                      + (f"; without `aiogen precompile`: {p['unprecompiled_ratio']}×"
                         if "unprecompiled_ratio" in p else "")
                      + (f"; reading the spec and PEMs alone: {p['reader_ratio']}×" if "reader_ratio" in p else "")
                      if p.get("available") else "not available"),
         "goal": f"≤ {TARGETS['plugin_ratio']:g}×", "met": p.get("met")},
        {"what": f"`-o DIR` vs `-o -`, {_fmt(dv.get('clusters'))} clusters", "measured": f"{_fmt(dv.get('ratio'))}×",
         "goal": f"≤ {TARGETS['fleet_dir_ratio']:g}× (10,000 clusters)", "met": met.get("fleet_dir_ratio")},
        {"what": f"time per cluster at {_fmt(pc.get('large'))} vs at {_fmt(pc.get('small'))}",
         "measured": f"{_fmt(pc.get('ratio'))}×",
         "goal": f"≤ {TARGETS['fleet_per_cluster_ratio']:g}× (10,000 vs 1,000)",
         "met": met.get("fleet_per_cluster_ratio")},
        {"what": f"peak RSS, {_fmt(lg.get('clusters'))} clusters", "measured": f"{_fmt(lg.get('peak_rss_mb'), ' MB')}",
         "goal": f"≤ {TARGETS['fleet_rss_mb']:g} MB (10,000 clusters)", "met": met.get("fleet_rss_mb")},
        {"what": f"`aiogen simulate`, {sim.get('clusters')} clusters",
         "measured": (f"{sim['wall_s']:.1f} s; {_fmt(sim['handshakes'])} handshakes, {_fmt(sim['reused'])} reused"
                      if sim.get("available") else "not available"),
         "goal": f"≤ {TARGETS['simulate_s']:g} s (1,000 clusters)", "met": sim.get("met")},
    ]


def _ratio_met(case: dict[str, Any] | None, goal: float) -> bool | None:
    return case["ratio_wall"] <= goal if case else None
