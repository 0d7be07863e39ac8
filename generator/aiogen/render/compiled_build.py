"""The wheel build's hook: compile the templates (`templates/compiled.marshal`), the Topology
validator (`model/spec_compiled.marshal`) and the regular expressions a cold start compiles
(`startup/regexes.marshal`) into the wheel.

setuptools loads this file by path for `[tool.setuptools.cmdclass]` (pyproject.toml); aiogen
never imports it at run time. After the usual `build_py`, it runs `python -m
aiogen.render.compiled`, `python -m aiogen.model.spec_codegen` and `python -m aiogen.startup.regexes`
on the built package, so an installed aiogen starts without compiling its templates or regular expressions or
importing pydantic. If one fails (Jinja2 or pydantic missing from the build environment), the
wheel is built without that file, and aiogen does that work at run time, as it does whenever a
file is stale. An editable install (`pip install -e .`) writes the files into the source tree
instead, where the editable package finds them; after changing the templates, the spec models or
pydantic there, or the interpreter, they are stale (ignored, never wrong) until the commands run
again or the install is repeated.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from setuptools.command.build_py import build_py  # type: ignore[import-untyped]


class BuildPy(build_py):  # type: ignore[misc]
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):  # the package is the source tree itself
            package = Path(__file__).resolve().parents[1]  # setuptools loads this file from the source tree
        else:
            package = Path(self.build_lib).resolve() / "aiogen"
        templates = package / "templates"
        # the package's parent goes first on sys.path explicitly: pip's isolated build environment drops
        # PYTHONPATH entries that an earlier editable install of aiogen already put on the path
        run = ("import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); "
               "runpy.run_module(sys.argv.pop(1), run_name='__main__', alter_sys=True)")
        for what, command in (("templates", ["aiogen.render.compiled", str(templates)]),
                              ("spec validator", ["aiogen.model.spec_codegen"]),
                              ("regular expressions", ["aiogen.startup.regexes", str(package / "startup")])):
            made = subprocess.run([sys.executable, "-c", run, str(package.parent), *command], capture_output=True,
                                  text=True, check=False)
            if made.returncode != 0:
                print(f"aiogen: {what} not compiled ahead of time: {made.stderr.strip()[-500:]}", file=sys.stderr)
