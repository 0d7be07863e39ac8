"""Regular expressions compiled when aiogen is installed, never at run time.

CPython compiles a regular expression with a parser and compiler written in Python, and PyYAML,
cryptography, Jinja2, the standard library and aiogen compile ~50 of them as they are imported:
~15 ms of a cold `aiogen render` (three of them, PyYAML's non-printable class, cryptography's RFC
4514 string and Jinja2's URL pattern, ~12 ms). The engine itself (``_sre``) builds a pattern from
the compiler's output in microseconds.

So the patterns a cold `render`, `validate` and KRM function compile are listed in
``regexes.json`` (`collect` lists them: ``python -m aiogen.startup.regexes --collect``), and the
wheel build (`aiogen.render.compiled_build`) compiles each with the interpreter it builds for,
into ``regexes.marshal`` (`write`). The console script's first step (`aiogen.cli.fast.prepare`)
puts those patterns in the ``re`` module's own cache (`seed`), where ``re.compile`` finds them.
Each one is the pattern ``re.compile`` would build (the tests compare them: a pattern's equality
covers its compiled code). A pattern that warns as it compiles is left out (it would not warn).

The file's first line names what the code depends on (`key`: the Python version, the engine's
magic number and limits, the bytes of ``re``'s parser and compiler) and the digest of the rest: a
file made for another interpreter, a damaged one (the engine runs any code it can, a changed
literal too), or a ``re`` whose cache is not the one this knows, is ignored, and the patterns
compile as usual. A pattern a library changes is not found in the cache and compiles as usual.
Nothing is written at run time.
"""

from __future__ import annotations

import marshal
import os
import sys
from typing import TYPE_CHECKING, Any

from aiogen.startup.ahead import blake2b, write_file

if TYPE_CHECKING:
    from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))  # a string: pathlib is not imported before `seed` runs
LIST_NAME = "regexes.json"
COMPILED_NAME = "regexes.marshal"

# One compiled pattern: the ``re`` cache's key (pattern, flags as given) and ``_sre.compile``'s arguments.
Entry = tuple[str | bytes, int, int, list[int], int, dict[str, int], tuple[str | None, ...]]


def key() -> str:
    """What a pattern's compiled code depends on: the engine (its magic number and limits), the
    interpreter's version, and the bytes of ``re``'s parser and compiler (a build that patches them
    has another key); not the build date, so a wheel serves every build of the same Python."""
    import _sre  # type: ignore[import-not-found]  # the engine: no stubs
    from re import _casefix, _compiler, _constants, _parser  # type: ignore[attr-defined]

    sources = blake2b(16)
    for module in (_parser, _compiler, _constants, _casefix):
        with open(module.__file__, "rb") as handle:
            sources.update(handle.read())
    engine = (_sre.MAGIC, _sre.CODESIZE, _sre.MAXREPEAT, _sre.MAXGROUPS, sys.maxunicode)
    return repr((sys.implementation.name, sys.version_info[:2], engine, sources.hexdigest()))


def _read(directory: str | os.PathLike[str]) -> Any:
    """The entries of ``directory``'s compiled file; ValueError when it is not for this interpreter,
    or its payload is not the one its first line names."""
    with open(os.path.join(directory, COMPILED_NAME), "rb") as handle:
        first, payload = handle.readline(), handle.read()
    made_for, _, payload_digest = first.rstrip(b"\n").decode("ascii").rpartition(" ")
    check = blake2b(16)
    check.update(payload)
    if made_for != key() or payload_digest != check.hexdigest():
        raise ValueError("stale or damaged")
    return marshal.loads(payload)


def seed(directory: str | os.PathLike[str] = HERE) -> int:
    """Put the file's patterns in ``re``'s cache, when the file is current: how many of its patterns
    the cache now holds (those compiled already included), 0 when none."""
    import re

    cache = getattr(re, "_cache", None)
    limit = getattr(re, "_MAXCACHE", 0)
    if type(cache) is not dict:
        return 0
    try:
        entries = _read(directory)
    except (OSError, ValueError, EOFError, TypeError, UnicodeDecodeError, AttributeError, ImportError):
        return 0
    if not isinstance(entries, list) or len(cache) + len(entries) > limit:
        return 0  # more than the cache holds: it would drop patterns compiled already
    import _sre

    added = 0
    for entry in entries:
        try:
            pattern, flags, final_flags, code, groups, groupindex, indexgroup = entry
            compiled = _sre.compile(pattern, final_flags, code, groups, groupindex, indexgroup)
        except Exception:  # a damaged entry (the engine refuses code it cannot run): compiled as usual
            continue
        cache.setdefault((type(pattern), pattern, flags), compiled)  # one compiled already stays
        added += 1
    return added


def current(directory: str | os.PathLike[str] = HERE) -> bool:
    """Is ``directory``'s compiled file there, made by this interpreter, with every listed pattern?"""
    try:
        compiled = {(entry[0], entry[1]) for entry in _read(directory)}
    except (OSError, ValueError, EOFError, TypeError, UnicodeDecodeError, AttributeError, ImportError, IndexError):
        return False
    return bool(compiled) and compiled == {(entry[0], entry[1]) for entry in compile_listed(directory)}


def compile_listed(directory: str | os.PathLike[str] = HERE) -> list[Entry]:
    """Each listed pattern compiled, but those ``re`` does not cache (DEBUG; LOCALE's depend on the
    locale) and those that warn as they compile (they are left to compile at run time, warning then)."""
    import re
    import warnings

    entries = []
    for pattern, flags in listed(directory):
        if flags & (re.DEBUG | re.LOCALE):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                entries.append(compile_pattern(pattern, flags))
            except Warning:
                continue
    return entries


def compile_pattern(pattern: str | bytes, flags: int) -> Entry:
    """What ``re.compile(pattern, flags)`` gives ``_sre.compile`` (``re._compiler.compile``'s steps)."""
    from re import _compiler, _parser  # type: ignore[attr-defined]

    parsed = _parser.parse(pattern, flags)
    code = [int(word) for word in _compiler._code(parsed, flags)]
    groupindex = {name: int(index) for name, index in parsed.state.groupdict.items()}
    indexgroup: list[str | None] = [None] * parsed.state.groups
    for name, index in groupindex.items():
        indexgroup[index] = name
    return (pattern, flags, int(flags | parsed.state.flags), code, parsed.state.groups - 1, groupindex,
            tuple(indexgroup))


def listed(directory: str | os.PathLike[str] = HERE) -> list[tuple[str | bytes, int]]:
    """The patterns of ``regexes.json``: (pattern, flags), a bytes pattern as bytes."""
    import json
    from pathlib import Path

    listing = json.loads(Path(directory, LIST_NAME).read_text(encoding="utf-8"))
    return [(_pattern_of(item), int(item["flags"])) for item in listing["patterns"]]


def _pattern_of(item: dict[str, Any]) -> str | bytes:
    """A listed pattern: ``text``; ``bytes`` (one character a byte); ``code_points``, for text that
    holds a surrogate (JSON would read two side by side back as one character)."""
    if "bytes" in item:
        return str(item["bytes"]).encode("latin-1")
    if "code_points" in item:
        return "".join(map(chr, item["code_points"]))
    return str(item["text"])


def write(directory: str | os.PathLike[str] = HERE) -> Path:
    """Compile the listed patterns with this interpreter into ``directory``'s ``regexes.marshal``."""
    from pathlib import Path

    payload = marshal.dumps(compile_listed(directory))
    payload_digest = blake2b(16)
    payload_digest.update(payload)
    first_line = f"{key()} {payload_digest.hexdigest()}\n".encode("ascii")
    return write_file(Path(directory, COMPILED_NAME), first_line + payload)


def listing_text(patterns: list[tuple[str | bytes, int, str]]) -> str:
    """``regexes.json``'s text for (pattern, flags, the module that compiles it): sorted by module and
    pattern, ASCII (a pattern may hold a lone surrogate), one pattern a line."""
    import json

    lines = []
    for pattern, flags, origin in sorted(patterns, key=lambda p: (p[2], isinstance(p[0], bytes), repr(p[0]), p[1])):
        text: dict[str, Any]
        if isinstance(pattern, bytes):
            text = {"bytes": pattern.decode("latin-1")}
        elif any("\ud800" <= character <= "\udfff" for character in pattern):
            text = {"code_points": [ord(character) for character in pattern]}
        else:
            text = {"text": pattern}
        lines.append(json.dumps({"from": origin, **text, "flags": flags}, ensure_ascii=True))
    note = ("The regular expressions a cold aiogen render, validate and KRM function compile "
            "(aiogen.startup.regexes): regenerate with python -m aiogen.startup.regexes --collect")
    return f'{{"about": {json.dumps(note)},\n "patterns": [\n  ' + ",\n  ".join(lines) + "\n]}\n"


def main(argv: list[str]) -> int:
    """``DIRECTORY``: compile the listed patterns there (the build). ``--collect``: rewrite the list."""
    if argv == ["--collect"]:
        from pathlib import Path

        from aiogen.startup import regexes_collect

        patterns = regexes_collect.collect()
        listing = Path(HERE, LIST_NAME)
        write_file(listing, listing_text(patterns).encode("utf-8"))
        print(f"{len(patterns)} patterns compiled at run time; {listing} rewritten; {write(HERE)} compiled")
        return 0
    print(write(argv[0] if argv else HERE))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
