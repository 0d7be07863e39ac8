"""Which regular expressions a cold aiogen compiles: the list `aiogen.startup.regexes` is built from.

Run from a checkout (``python -m aiogen.startup.regexes --collect``): each bundled example spec is
rendered to standard output, to a directory, validated, and run as the KRM function, each in a
fresh interpreter that records every pattern ``re`` compiles (with the compiled list unused). Never
imported at run time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]

# Installed first in a fresh interpreter: records each pattern ``re`` compiles (a cache miss), as
# [text, is_bytes, flags, module that asked] in `sys.aiogen_regexes_compiled`.
TRACE_SETUP = """\
import sys
import re._compiler as _compiler
sys.aiogen_regexes_compiled = []
def _traced(pattern, flags=0, _compile=_compiler.compile):
    if isinstance(pattern, (str, bytes)):
        frame = sys._getframe(1)
        while frame.f_back is not None and frame.f_globals.get("__name__", "").split(".")[0] in ("re", "enum"):
            frame = frame.f_back
        sys.aiogen_regexes_compiled.append([pattern.decode("latin-1") if isinstance(pattern, bytes) else pattern,
                                            isinstance(pattern, bytes), int(flags), frame.f_globals.get("__name__")])
    return _compile(pattern, flags)
_compiler.compile = _traced
"""

# The end of every traced run: the console script as `aiogen` with argv[1:] (its first step, the
# precompiled modules, not taken); the trace's `report(code)` prints what it traced, then exits.
CONSOLE_RUN = """\
import os
exit_now = os._exit
os._exit = report
sys.argv = ["aiogen", *sys.argv[1:]]
from aiogen.cli import app
try:
    app.console()
except SystemExit as done:
    report(done.code if isinstance(done.code, int) else 1)
"""

# The compiled list unused; prints what `re` compiled.
_TRACE = TRACE_SETUP + """\
from aiogen.startup import regexes
regexes.seed = lambda directory=None: 0
def report(code):
    import json
    sys.stderr.write("\\n@@patterns " + json.dumps(sys.aiogen_regexes_compiled) + "\\n")
    sys.stderr.flush()
    exit_now(code)
"""


def run_traced(trace: str, marker: str, argv: list[str], cwd: Path, stdin: str = "") -> Any:
    """``trace`` (which defines ``report``), then `CONSOLE_RUN`, in a fresh interpreter: what its report
    printed as JSON after ``marker``."""
    done = subprocess.run([sys.executable, "-c", trace + CONSOLE_RUN, *argv], input=stdin, capture_output=True,
                          text=True, cwd=cwd, timeout=300, check=False)
    lines = [line for line in done.stderr.splitlines() if line.startswith(marker + " ")]
    if not lines:
        raise RuntimeError(f"aiogen {' '.join(argv)}: nothing reported: {done.stderr.strip()[-500:]}")
    return json.loads(lines[-1].removeprefix(marker + " "))


Found = tuple[str | bytes, int, str]  # pattern, flags, the module that compiled it


def _run(argv: list[str], cwd: Path, stdin: str = "") -> list[Found]:
    return [(text.encode("latin-1") if is_bytes else text, flags, str(origin))
            for text, is_bytes, flags, origin in run_traced(_TRACE, "@@patterns", argv, cwd, stdin)]


def collect(examples: Path = REPO / "examples") -> list[Found]:
    """Every pattern compiled by the cold commands over ``examples``' specs, each once."""
    found: list[Found] = []
    with tempfile.TemporaryDirectory() as scratch:
        for argv, cwd, stdin in cold_commands(examples, Path(scratch)):
            found += _run(argv, cwd, stdin)
    first: dict[tuple[str | bytes, int], str] = {}
    for pattern, flags, origin in sorted(found, key=lambda f: f[2]):
        first.setdefault((pattern, flags), origin)
    return [(pattern, flags, origin) for (pattern, flags), origin in first.items()]


def cold_commands(examples: Path, scratch: Path) -> list[tuple[list[str], Path, str]]:
    """The one-shot commands over each of ``examples``' specs, as (argv, working directory, stdin):
    render to standard output and to a directory under ``scratch``, validate, and the KRM function
    with the spec as its functionConfig. Shared with `aiogen.startup.modules_collect`."""
    specs = sorted(examples.glob("*.yaml"))
    if not specs:
        raise RuntimeError(f"{examples}: no example specs (run --collect from a checkout)")
    runs: list[tuple[list[str], Path, str]] = []
    for number, spec in enumerate(specs):
        resource_list = {"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": [],
                         "functionConfig": _spec_document(spec)}
        runs += [(["render", str(spec), "-o", "-"], spec.parent, ""),
                 (["render", str(spec), "-o", str(scratch / f"out-{number}")], spec.parent, ""),
                 (["validate", str(spec)], spec.parent, ""),
                 ([], spec.parent, json.dumps(resource_list))]
    return runs


def _spec_document(spec: Path) -> object:
    import yaml

    return yaml.safe_load(spec.read_text(encoding="utf-8"))
