"""What `pip install` (editable or wheel) makes ahead of time is there and current in this venv.

`.ci/run` installs aiogen with `pip install -e .`; the build hook (aiogen.render.compiled_build)
then writes the compiled templates, the spec validator and the compiled regular expressions into
the source tree. Were the hook to fail silently, every command would still be right but start at
the speed of the pydantic models, Jinja2's compiler and `re`'s: this is the test that notices.
After editing the templates, generator/aiogen/model/spec*.py or startup/regexes.json, run
`.venv/bin/pip install -e .` again (or the `python -m` commands named below).
"""

from __future__ import annotations

import subprocess
import sys

AGAIN = "run `.venv/bin/pip install -e .` again, or `python -m {module}`"


def _current(code: str) -> subprocess.CompletedProcess[str]:
    # a fresh interpreter: what a command would load, not what this test process has imported
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)


def test_the_compiled_templates_are_current() -> None:
    run = _current("from aiogen.render import compiled\nraise SystemExit(0 if compiled.current() else 3)")
    assert run.returncode == 0, f"templates/compiled.marshal is missing or stale: {AGAIN.format(module='aiogen.render.compiled')}"


def test_the_spec_validator_is_current_and_render_imports_no_pydantic() -> None:
    run = _current("import sys\nfrom aiogen.model import spec_compiled\n"
                   "raise SystemExit(0 if spec_compiled.load() and 'pydantic' not in sys.modules else 3)")
    assert run.returncode == 0, ("model/spec_compiled.marshal is missing or stale: "
                                 f"{AGAIN.format(module='aiogen.model.spec_codegen')}")


def test_the_compiled_regular_expressions_are_current() -> None:
    run = _current("import re\nfrom aiogen.startup import regexes\n"
                   "listed = [f for _, f in regexes.listed() if not f & (re.DEBUG | re.LOCALE)]\n"
                   "seeded = regexes.seed()\nprint(seeded, len(listed))\n"
                   "raise SystemExit(0 if seeded == len(listed) > 40 else 3)")
    assert run.returncode == 0, (f"startup/regexes.marshal is missing or stale (seeded, listed: {run.stdout.strip()}"
                                 f"{run.stderr.strip()}): {AGAIN.format(module='aiogen.startup.regexes')}")
