"""What is measured with what: the venv's python and aiogen, kustomize, the machine, its load."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spawn import BenchError

REPO = Path(__file__).resolve().parent.parent


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




# What an install makes ahead of time: the compiled templates, the Topology validator and the compiled
# regular expressions. Each: the module that writes it, and a check that exits 0 when the file the
# venv's aiogen would load is current.
AHEAD_OF_TIME = {
    "compiled_templates": ("aiogen.render.compiled", "from aiogen.render import compiled\n"
                           "raise SystemExit(0 if compiled.current() else 3)\n"),
    "spec_validator": ("aiogen.model.spec_codegen", "from aiogen.model import spec_compiled\n"
                       "raise SystemExit(0 if spec_compiled.load() else 3)\n"),
    "regular_expressions": ("aiogen.startup.regexes", "from aiogen.startup import regexes\n"
                            "raise SystemExit(0 if regexes.current() else 3)\n"),
}


def install_step(tools: Tools) -> dict[str, Any]:
    """What the install does, checked for this venv: the templates, the spec validator and the regular
    expressions `pip install` makes ahead of time, and the modules `aiogen precompile` compiles after it.

    A wheel carries `templates/compiled.marshal`, `model/spec_compiled.marshal` and
    `startup/regexes.marshal` from its build, and `pip install -e .` writes them into the source tree.
    They go stale when the templates, the spec models, pydantic or the interpreter change afterwards;
    then they are made again here, once, before any measurement (nothing is kept between the measured
    runs themselves). Without them aiogen is still correct, only slower to start.
    """
    step: dict[str, Any] = {}
    notes = []
    for name, (module, check) in AHEAD_OF_TIME.items():
        probe = subprocess.run([str(tools.python), "-c", check], capture_output=True, text=True, env=tools.env)
        if probe.returncode == 0:
            step[name] = "current"
            continue
        if probe.returncode != 3:
            step[name] = "unavailable"
            notes.append(f"{name}: this aiogen cannot make it: {probe.stderr.strip()[-300:]}")
            continue
        made = subprocess.run([str(tools.python), "-m", module], capture_output=True, text=True, env=tools.env)
        if made.returncode != 0:
            raise BenchError(f"python -m {module} failed: {made.stderr.strip()}")
        step[name] = "built"
        notes.append(f"{name}: stale or missing, made by `python -m {module}` (as an install does)")
    # `pip install` of a wheel also writes every module's bytecode; an editable install leaves that to
    # the first run, which cannot write it where PYTHONDONTWRITEBYTECODE is set (then every measured run
    # would compile aiogen's ~100 modules from source, which no installed aiogen does)
    where = "import aiogen, pathlib; print(pathlib.Path(aiogen.__file__).parent)"
    package = subprocess.run([str(tools.python), "-c", where], capture_output=True, text=True, env=tools.env)
    made = subprocess.run([str(tools.python), "-m", "compileall", "-q", package.stdout.strip()], capture_output=True,
                          text=True, env=tools.env)
    step["bytecode"] = "current" if package.returncode == 0 and made.returncode == 0 else "failed"
    # `aiogen precompile`, the install's last step (README, .ci/run, the integrations): the code a cold start
    # imports, compiled into one file for this environment (aiogen.startup.modules); after the bytecode,
    # whose first write makes a package's __pycache__ (which would leave the file stale)
    check = subprocess.run([str(tools.aiogen), "precompile", "--check"], capture_output=True, text=True, env=tools.env)
    if check.returncode == 0:
        step["precompiled_modules"] = "current"
    elif check.returncode == 3:
        made = subprocess.run([str(tools.aiogen), "precompile"], capture_output=True, text=True, env=tools.env)
        if made.returncode != 0:
            raise BenchError(f"aiogen precompile failed: {made.stderr.strip()}")
        step["precompiled_modules"] = "built"
        notes.append("precompiled_modules: stale or missing, made by `aiogen precompile` (the install's last step)")
    else:
        step["precompiled_modules"] = "unavailable"
        notes.append(f"precompiled_modules: this aiogen cannot make it: {check.stderr.strip()[-300:]}")
    step["note"] = "; ".join(notes) or "made at install and current"
    return step
