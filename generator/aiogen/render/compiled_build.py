"""The wheel build's hook: compile the templates into the wheel (`templates/compiled.marshal`).

setuptools loads this file by path for `[tool.setuptools.cmdclass]` (pyproject.toml); aiogen
never imports it at run time. After the usual `build_py`, it runs `python -m aiogen.render.compiled`
on the built package, so an installed aiogen starts without compiling its templates. If that
fails (Jinja2 missing from the build environment), the wheel is built without the file, and
aiogen compiles the templates from source at run time, as it does whenever the file is stale.
An editable install is skipped: there, run `python -m aiogen.render.compiled` once.
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
        made = subprocess.run([sys.executable, "-m", "aiogen.render.compiled", str(templates)], env=env,
                              capture_output=True, text=True, check=False)
        if made.returncode != 0:
            print(f"aiogen: templates not compiled ahead of time: {made.stderr.strip()[-500:]}", file=sys.stderr)
