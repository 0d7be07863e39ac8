"""The wheel build's hook: compile the templates (`templates/compiled.marshal`) and the Topology
validator (`model/spec_compiled.marshal`) into the wheel.

setuptools loads this file by path for `[tool.setuptools.cmdclass]` (pyproject.toml); aiogen
never imports it at run time. After the usual `build_py`, it runs `python -m aiogen.render.compiled`
and `python -m aiogen.model.spec_codegen` on the built package, so an installed aiogen starts
without compiling its templates or importing pydantic. If one fails (Jinja2 or pydantic missing
from the build environment), the wheel is built without that file, and aiogen does that work at
run time, as it does whenever a file is stale. An editable install is skipped: there, run both
commands once (and again after changing the templates, the spec models, or pydantic).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from setuptools.command.build_py import build_py  # type: ignore[import-untyped]


class BuildPy(build_py):  # type: ignore[misc]
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        templates = Path(self.build_lib) / "aiogen" / "templates"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([self.build_lib, os.environ.get("PYTHONPATH", "")])}
        for what, command in (("templates", ["aiogen.render.compiled", str(templates)]),
                              ("spec validator", ["aiogen.model.spec_codegen"])):
            made = subprocess.run([sys.executable, "-m", *command], env=env, capture_output=True, text=True,
                                  check=False)
            if made.returncode != 0:
                print(f"aiogen: {what} not compiled ahead of time: {made.stderr.strip()[-500:]}", file=sys.stderr)
