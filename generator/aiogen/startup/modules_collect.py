"""Which modules a cold aiogen imports: the list `aiogen.startup.modules` compiles into one file.

Run from a checkout (``python -m aiogen.startup.modules --collect``): the one-shot commands over
each bundled example (`aiogen.startup.regexes_collect.cold_commands`) each run in a fresh
interpreter, without the bundle, which reports every module whose code ran from a source file
(a deferred module that never ran is not one). Never imported at run time.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from aiogen.startup.regexes_collect import REPO, cold_commands, run_traced

# Prints the modules whose code ran from a source file, as Python's own loader runs it, after the
# interpreter started and the console script's first step (`aiogen.startup.regexes_collect.CONSOLE_RUN`).
_TRACE = """\
import sys
import aiogen.cli.fast, aiogen.startup.modules
# imported as the interpreter started (site, .pth files) or before the console script's first step: never the file's
at_start = set(sys.modules)
def report(code):
    import json
    from importlib.machinery import SourceFileLoader
    names = []
    for name, module in list(sys.modules.items()):
        if name in at_start:
            continue
        namespace = getattr(module, "__dict__", {})
        hook = namespace.get("__getattr__")
        if type(getattr(hook, "__self__", None)).__name__ == "_Deferred":
            continue  # deferred, and never used: its code did not run
        spec = namespace.get("__spec__")
        if spec is not None and type(spec.loader) is SourceFileLoader:
            names.append(name)
    sys.stderr.write("\\n@@modules " + json.dumps(sorted(names)) + "\\n")
    sys.stderr.flush()
    exit_now(code)
"""


def _run(argv: list[str], cwd: Path, stdin: str) -> list[str]:
    names: list[str] = run_traced(_TRACE, "@@modules", argv, cwd, stdin)
    return names


def collect(examples: Path = REPO / "examples") -> list[str]:
    """Every module the cold commands over ``examples``' specs run from source, sorted, each once."""
    found: set[str] = set()
    with tempfile.TemporaryDirectory() as scratch:
        for argv, cwd, stdin in cold_commands(examples, Path(scratch)):
            found.update(_run(argv, cwd, stdin))
    return sorted(found)


def write_list(names: list[str], directory: Path) -> Path:
    """``modules.json`` in ``directory``: one module name per line, sorted."""
    from aiogen.startup.ahead import write_file
    from aiogen.startup.modules import LIST_NAME

    text = "[\n" + ",\n".join(json.dumps(name) for name in names) + "\n]\n"
    return write_file(directory / LIST_NAME, text.encode("utf-8"))
