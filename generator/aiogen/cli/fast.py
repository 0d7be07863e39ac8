"""How the `aiogen` console script starts: its entry point (`console`), and, for a one-shot
command, the garbage collector kept off the long-lived data.

`console` is the console script's entry point: it imports nothing a cold start can be spared before
its first step, which puts the modules `aiogen precompile` compiled within the import system's reach
(`aiogen.startup.modules`); then `aiogen.cli.app.console` runs the command.

`aiogen render`, `aiogen validate` and the KRM function (no subcommand) build one parse tree, one
Topology and one Plan that live until the process ends, then render cluster by cluster. CPython's
collector would walk those millions of objects again and again (15 % of a 1,000-cluster render,
~14 ms of a one-cluster one) to find almost nothing: these commands make about 33 small cyclic
objects per cluster (measured), and aiogen's peak RSS at 10,000 clusters is the same with the
collector on or off. So the console script turns it off for them; other commands (simulate, with
its threads and sockets; rollout; ca) keep CPython's defaults. Tests call `aiogen.cli.app.main`,
which does not come here.

`parse` reads the plain forms of `render` and `validate` (exact option names, nothing unusual) into
the same attributes argparse would give, so these commands start without importing argparse or
scanning for the other commands (~10 % of a cold one-cluster render). Anything else — `--help`, an
abbreviated or unknown option, a bad value, a missing argument — returns None and goes through
argparse (`aiogen.cli.app.main`), which parses it or reports it as it always has.
"""

from __future__ import annotations

import gc
import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing before `console`'s first step
if TYPE_CHECKING:  # this module is the console script's entry: it imports only what the first step needs
    from collections.abc import Sequence
    from types import SimpleNamespace
    from typing import Any

ONE_SHOT_COMMANDS = frozenset({"render", "validate"})
_FLAGS = {"--check": "check", "--allow-outside-files": "allow_outside_files"}
_VALUES = {"-o": "output", "--output": "output", "--cluster": "cluster", "--now": "now", "--format": "format"}
_OPTIONS = {"render": {"output", "cluster", "now", "format", "check", "allow_outside_files"},
            "validate": {"now", "format", "allow_outside_files"}}


def console() -> None:
    """The `aiogen` console script. Its first step puts the code compiled by `aiogen precompile` within
    the import system's reach (`aiogen.startup.modules`: nothing, when that file is missing or stale),
    before the command line module and what it imports are loaded; then `aiogen.cli.app.console`."""
    from aiogen.startup import modules

    modules.install()
    from aiogen.cli.app import console as run

    run()


def one_shot(argv: Sequence[str]) -> bool:
    """Whether ``argv`` renders once: render, validate, the KRM function (no argument) or legacy plugin
    (a file that is not a command's name, as `aiogen.cli.app.main` decides)."""
    if not argv:
        return True
    first = argv[0]
    return first in ONE_SHOT_COMMANDS or (not first.startswith("-") and os.path.isfile(first)
                                          and first not in command_module_names())


def command_module_names() -> set[str]:
    """The modules of `aiogen.cli.commands` (one per subcommand), listed without importing them or pkgutil."""
    directory = os.path.join(os.path.dirname(__file__), "commands")
    return {name.removesuffix(".py") for name in os.listdir(directory) if name != "__init__.py"
            and (name.endswith(".py") or os.path.isfile(os.path.join(directory, name, "__init__.py")))}


def prepare(argv: Sequence[str]) -> None:
    """Called by the console script before anything is parsed: the regular expressions compiled at
    install time are put in ``re``'s cache (`aiogen.startup.regexes`); a one-shot command also runs
    without collections, and leaves the modules its libraries import for calls it never makes
    unloaded until something uses them (`aiogen.startup.deferral`)."""
    from aiogen.startup import regexes

    regexes.seed()
    if one_shot(argv):
        gc.disable()
        from aiogen.startup import deferral

        deferral.defer_unused()


def end(argv: Sequence[str], code: int) -> None:
    """Called by the console script when a command has returned ``code``: a one-shot command exits
    at once, without tearing the interpreter down (module by module, object by object: ~3 ms of a
    cold render, more on a large fleet), which frees nothing the kernel does not free anyway.

    Everything a command writes is written and closed before it returns (files through `output.fs`,
    the writer child waited for); the two standard streams are flushed here. Returns, for the usual
    `sys.exit`, when the command is not one-shot, when a stream cannot be flushed (a closed pipe: the
    interpreter reports it as it always has), or when another thread is still running.
    """
    import sys

    if not one_shot(argv):
        return
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        return
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:  # None: that descriptor was closed when the process started
                stream.flush()
    except (OSError, ValueError):
        return
    os._exit(code)


def parse(argv: Sequence[str]) -> SimpleNamespace | None:
    """``render``/``validate`` arguments as argparse would parse them, or None when argparse must decide."""
    if not argv or argv[0] not in ONE_SHOT_COMMANDS:
        return None
    command, allowed = argv[0], _OPTIONS[argv[0]]
    options: dict[str, Any] = {"cluster": None} if command == "render" else {}
    specs: list[str] = []
    words, option_after_spec = list(argv[1:]), False
    while words:
        word = words.pop(0)
        if word == "-" or not word.startswith("-"):
            if option_after_spec:
                return None  # SPEC --option SPEC: argparse's own rules decide
            specs.append(word)
            continue
        option_after_spec = bool(specs)
        name, equals, inline = word.partition("=")
        if name in _FLAGS and not equals and _FLAGS[name] in allowed:
            options[_FLAGS[name]] = True
            continue
        key = _VALUES.get(name)
        if key not in allowed or not (equals or (words and (words[0] == "-" or not words[0].startswith("-")))):
            return None
        value = inline if equals else words.pop(0)
        if key == "cluster":
            options["cluster"] = [*(options["cluster"] or []), value]
        elif key in options or not _good(key, value):
            return None  # repeated, or a value argparse reports
        else:
            options[key] = value
    return _namespace(command, specs, options)


def _good(key: str | None, value: str) -> bool:
    if key == "format":
        return value in ("text", "json")
    if key == "output":
        return bool(value) and (value == "-" or not os.path.isfile(value))
    if key == "now":
        from aiogen.cli.options import parse_now

        try:
            parse_now(value)
        except Exception:  # argparse.ArgumentTypeError: argparse reports it
            return False
    return True


def _namespace(command: str, specs: list[str], options: dict[str, Any]) -> SimpleNamespace | None:
    from pathlib import Path  # here, not above: `prepare` runs before pathlib (aiogen.startup.deferral)
    from types import SimpleNamespace

    from aiogen.cli.options import parse_now

    if not specs or (command == "render" and (len(specs) != 1 or "output" not in options)):
        return None
    if command == "render":
        from aiogen.cli.commands import render as module
    else:
        from aiogen.cli.commands import validate as module  # type: ignore[no-redef]
    now = options.get("now")
    args = SimpleNamespace(command=command, run=module.run,
                           spec=Path(specs[0]) if command == "render" else [Path(s) for s in specs],
                           now=parse_now(now) if now else None,
                           allow_outside_files=options.get("allow_outside_files", False),
                           format=options.get("format", "text"))
    if command == "render":
        args.output, args.cluster, args.check = options["output"], options["cluster"], options.get("check", False)
    return args
