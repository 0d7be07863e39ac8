"""Where one render's time goes, phase by phase, in one process: `python bench/phases.py SPEC`.

Prints one JSON object (milliseconds). Each phase includes the imports it triggers, as in the
CLI: importing the command line, the pipeline modules (pydantic models, Plan), reading and
parsing the YAML (ruamel), validating (pydantic), resolving (PEM parsing with cryptography),
rendering (Jinja2 + parsing each template's output back), emitting (YAML dump), with the resident
and peak memory after each. A second, profiled render (cold parse cache) splits rendering into
template rendering and parsing its output back.
"""

from __future__ import annotations

import cProfile
import json
import os
import pstats
import resource
import sys
import time
from pathlib import Path
from typing import Any

_marks: list[tuple[str, float]] = [("start", time.perf_counter())]
_rss: dict[str, dict[str, float]] = {}
_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 1024 / 1024


def mark(name: str) -> None:
    _marks.append((name, time.perf_counter()))
    try:
        with open("/proc/self/statm") as statm:
            now = int(statm.read().split()[1]) * _PAGE_MB
    except OSError:
        now = 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    _rss[name] = {"rss_mb": round(now, 1), "peak_mb": round(peak, 1)}


def main(spec: Path) -> dict[str, Any]:
    from aiogen.cli import app as cli

    cli.build_parser()
    mark("import_cli")
    from aiogen import pipeline, render
    from aiogen.output import stream as stream_output
    from aiogen.resolve import resolve
    from aiogen.yamlio import document, parse, read

    document.MAX_BYTES = document.MAX_NODES = 1 << 30  # measure any size
    parse.MAX_BYTES = parse.MAX_NODES = read.MAX_BYTES = 1 << 30
    mark("import_pipeline")
    text = read.read_text(spec)
    doc = parse.parse_yaml(text, source=str(spec), base_dir=spec.resolve().parent)
    mark("parse_yaml")
    topology = pipeline.topology_from_document(doc)
    mark("validate")
    resolved = resolve(topology, doc)
    mark("resolve")
    rendered = render.render(resolved)
    mark("render")
    out = stream_output.stream(rendered)
    mark("emit")
    result: dict[str, Any] = {name: round((t - _marks[i][1]) * 1000, 1) for i, (name, t) in enumerate(_marks[1:])}
    result["total"] = round((_marks[-1][1] - _marks[0][1]) * 1000, 1)
    result["memory_after"] = _rss  # resident and peak MB after each phase (what the process still holds)
    result["clusters"] = len(resolved.clusters)
    result["output_bytes"] = len(out)
    # split of a second (warm) render: template rendering vs parsing its output back
    clear = getattr(render, "_parse", None)
    if clear is not None and hasattr(clear, "cache_clear"):
        clear.cache_clear()  # a cold parse cache, as in the first render
    profile = cProfile.Profile()
    profile.enable()
    render.render(resolved)
    profile.disable()
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    total = sum(tt for (_, _, _), (_, _, tt, _, _) in stats.items())

    def cumulative(file_part: str, func: str) -> float:
        found = [ct for (f, _, name), (_, _, _, ct, _) in stats.items() if file_part in f and name == func]
        return float(sum(found))

    if total:
        result["render_split"] = {
            "template_render_pct": round(100 * cumulative("jinja2/environment.py", "render") / total, 1),
            "yaml_parse_pct": round(100 * (cumulative("yaml/__init__.py", "load")
                                           + cumulative("aiogen/render.py", "_parse")) / total, 1),
        }
    return result


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
