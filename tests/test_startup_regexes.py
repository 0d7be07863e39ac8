"""aiogen.startup.regexes: the patterns compiled at install time are the ones ``re.compile`` builds, are found
in ``re``'s cache by a cold process, and a stale, damaged or unusable file changes nothing but the speed.

The seeding cases run in fresh interpreters: this process's ``re`` cache stays as it is."""

from __future__ import annotations

import json
import marshal
import random
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from aiogen.startup import regexes, regexes_collect
from tests.helpers import EXAMPLES

COLLECT = "python -m aiogen.startup.regexes --collect"
LISTED = regexes.listed()
SEEDABLE = [(pattern, flags) for pattern, flags in LISTED if not flags & (re.DEBUG | re.LOCALE)]

# Beyond the listed ones: what the compiler treats specially.
TRICKY: list[tuple[str | bytes, int]] = [
    (r"(?P<year>\d{4})-(?P<month>\d\d)(?:-(?P=month))?(?P<rest>.*)", 0),  # named groups, a back reference
    (r"(?<=abc)def(?<!xdef)|(?<![a-z])\d+", 0),  # lookbehind, positive and negative
    ("straße|ǅ|k|İ|ſ", re.IGNORECASE),  # case folding beyond ASCII
    ("(?i)Ωmega", 0),  # an inline flag: the final flags are not the given ones
    ("\n    (?P<key>[a-z]+)  # a key\n    \\s* = \\s*\n    (?P<value>.*)  # its value\n    ", re.VERBOSE),
    (rb"(?P<high>[\x80-\xff]+)\x00|(?i:abc)", 0),  # a bytes pattern
    ("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010ffff]", 0),  # PyYAML's class
    ("[\ud800-\udbff]x\udc80", 0),  # lone surrogates
    (r"(<)?(\w+@\w+(?:\.\w+)+)(?(1)>|$)", re.ASCII),  # a conditional group
    (r"(?>a+)b|c++d", re.MULTILINE | re.DOTALL),  # an atomic group, a possessive quantifier
]

SAMPLES = ["", "abc", "abcdef", "2026-11-30", "2026-11-11 rest", "a@b.example", "<a@b.example>", "Name <a@b>",
           "-----BEGIN EC PRIVATE KEY-----", "0x1F", "0o17", "-12", "1.5e3", ".inf", "~", "null", "yes", "On",
           "https://www.example.com/x?y", "www.example.org", "key = value", "$name ${braced} $$ $", "CN=x,O=y",
           "#04024869", "1.2.840.10045", "1h30m", "fleet-1.yaml", "\u2028", "\x85 \xa0", "\U00010000", "STRASSE",
           "\u01c5", "\u0130", "\ud800x\udc80", "aaab", "ccd", "\x00\x1f", "A" * 70, "e" * 64 + "  file.yaml"]


def _fresh(code: str, *argv: str) -> Any:
    """What ``code`` prints as JSON on its last line, run by a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def _built(entry: regexes.Entry) -> re.Pattern[Any]:
    import _sre  # type: ignore[import-not-found]

    pattern, _flags, final_flags, code, groups, groupindex, indexgroup = entry
    built: re.Pattern[Any] = _sre.compile(pattern, final_flags, code, groups, groupindex, indexgroup)
    return built


@pytest.mark.parametrize(("pattern", "flags"), LISTED + TRICKY, ids=lambda value: repr(value)[:40])
def test_a_pattern_compiled_ahead_is_the_one_re_compiles(pattern: str | bytes, flags: int) -> None:
    from re import _compiler  # type: ignore[attr-defined]

    built = _built(regexes.compile_pattern(pattern, flags))
    compiled = _compiler.compile(pattern, flags)
    assert built == compiled  # CPython compares flags, the pattern and the engine's code
    assert (built.flags, built.groups, dict(built.groupindex)) == (compiled.flags, compiled.groups,
                                                                   dict(compiled.groupindex))
    for sample in SAMPLES:
        text: str | bytes = sample.encode("utf-8", "surrogatepass") if isinstance(pattern, bytes) else sample
        found, expected = built.search(text), compiled.search(text)
        assert (found and (found.span(), found.groups(), found.lastgroup)) == (
            expected and (expected.span(), expected.groups(), expected.lastgroup)), sample


# Seeds ``re``'s cache from argv[1]; counts the compiler's calls for every listed pattern and compares each
# pattern re.compile returns with a fresh compile, and its matches on the samples (argv[2]).
_SEED_AND_USE = """\
import json, re, sys
from re import _compiler
from aiogen.startup import regexes
seeded = regexes.seed(sys.argv[1])
compile_now, calls = _compiler.compile, []
def counted(pattern, flags=0):
    calls.append(repr(pattern))
    return compile_now(pattern, flags)
_compiler.compile = counted
samples, unlike = json.loads(sys.argv[2]), []
def matches(compiled, texts):
    return [(m.span(), m.groups()) if m else None for m in map(compiled.search, texts)]
for pattern, flags in regexes.listed(sys.argv[1]):
    got, fresh = re.compile(pattern, flags), compile_now(pattern, flags)
    texts = [s.encode("utf-8", "surrogatepass") for s in samples] if isinstance(pattern, bytes) else samples
    if got != fresh or got.groupindex != fresh.groupindex or matches(got, texts) != matches(fresh, texts):
        unlike.append(repr(pattern))
print(json.dumps({"seeded": seeded, "calls": calls, "unlike": unlike}))
"""


@pytest.fixture
def compiled_copy(tmp_path: Path) -> Path:
    """``regexes.json`` copied, compiled into ``regexes.marshal`` as the wheel build does."""
    shutil.copy(Path(regexes.HERE, regexes.LIST_NAME), tmp_path / regexes.LIST_NAME)
    regexes.write(tmp_path)
    return tmp_path


def test_a_cold_process_finds_every_listed_pattern_in_res_cache(compiled_copy: Path) -> None:
    found = _fresh(_SEED_AND_USE, str(compiled_copy), json.dumps(SAMPLES))
    assert found["seeded"] == len(SEEDABLE) > 40
    assert found["calls"] == [] and found["unlike"] == []  # nothing compiled at run time, and nothing different


# Seeds from argv[1] after `prepare` (argv[2]) ran; whether the cache is as before, and how many were seeded.
_SEED_DAMAGED = """\
import json, re, sys
from aiogen.startup import regexes
%s
before = dict(re._cache)
seeded = regexes.seed(sys.argv[1])
kept = all(re._cache.get(key) is value for key, value in before.items())
print(json.dumps({"seeded": seeded, "unchanged": kept and len(re._cache) == len(before), "size": len(re._cache)}))
"""
_FILL = ("dummy = re.compile('x')\nfor i in range(re._MAXCACHE - 2 - len(re._cache)):\n"
         "    re._cache[(str, f'dummy {i}', 0)] = dummy")


def _damage(directory: Path, how: str) -> None:
    target = directory / regexes.COMPILED_NAME
    first, payload = target.read_bytes().split(b"\n", 1)
    if how == "key":
        target.write_bytes(first.replace(b"cpython", b"cpythoN", 1) + b"\n" + payload)
    elif how == "truncated":
        target.write_bytes(first + b"\n" + payload[: len(payload) // 2])
    elif how == "empty":
        target.write_bytes(b"")
    elif how == "not a list":
        target.write_bytes(first + b"\n" + marshal.dumps({"patterns": []}))


@pytest.mark.parametrize("how", ["key", "truncated", "empty", "not a list", "missing"])
def test_a_stale_or_damaged_file_seeds_nothing(compiled_copy: Path, how: str) -> None:
    if how == "missing":
        (compiled_copy / regexes.COMPILED_NAME).unlink()
    else:
        _damage(compiled_copy, how)
    found = _fresh(_SEED_DAMAGED % "re.compile('warm')", str(compiled_copy))
    assert (found["seeded"], found["unchanged"]) == (0, True)


@pytest.mark.parametrize(("setup", "why"), [(_FILL, "nearly full"), ("import collections\n"
                                                                    "re._cache = collections.OrderedDict()", "not a dict")])
def test_a_cache_it_would_overflow_or_does_not_know_is_left_alone(compiled_copy: Path, setup: str, why: str) -> None:
    found = _fresh(_SEED_DAMAGED % setup, str(compiled_copy))
    assert (found["seeded"], found["unchanged"]) == (0, True), why
    if why == "nearly full":
        assert found["size"] == re._MAXCACHE - 2  # type: ignore[attr-defined]  # nothing evicted


def test_an_entry_the_engine_refuses_is_skipped_and_compiled_as_usual(tmp_path: Path) -> None:
    entries = [regexes.compile_pattern(pattern, flags) for pattern, flags in SEEDABLE]
    victim = entries[3]
    entries[3] = (*victim[:3], [1, 2, 3], *victim[4:])  # code the engine cannot run
    shutil.copy(Path(regexes.HERE, regexes.LIST_NAME), tmp_path / regexes.LIST_NAME)
    (tmp_path / regexes.COMPILED_NAME).write_bytes(_signed(marshal.dumps(entries)))
    found = _fresh(_SEED_AND_USE, str(tmp_path), json.dumps(SAMPLES))
    assert found["seeded"] == len(SEEDABLE) - 1
    assert found["calls"] == [repr(victim[0])] and found["unlike"] == []


def _signed(payload: bytes) -> bytes:
    """A compiled file for ``payload``, its first line naming this interpreter and the payload's digest."""
    digest = regexes.blake2b(16)
    digest.update(payload)
    return f"{regexes.key()} {digest.hexdigest()}\n".encode("ascii") + payload


def test_a_file_whose_code_was_changed_but_still_runs_is_not_used(tmp_path: Path) -> None:
    """The engine accepts any code it can run: a literal changed in place would match other text. The
    file's first line holds its payload's digest, so such a file is refused whole."""
    shutil.copy(Path(regexes.HERE, regexes.LIST_NAME), tmp_path / regexes.LIST_NAME)
    written = regexes.write(tmp_path).read_bytes()
    first, payload = written.split(b"\n", 1)
    entries = marshal.loads(payload)
    index = next(i for i, entry in enumerate(entries) if entry[0] == r"^---[ \t]*(#.*)?$")
    pattern, flags, final, code, groups, groupindex, indexgroup = entries[index]
    changed = [33 if word == 35 else word for word in code]  # LITERAL '#' becomes '!'
    assert changed != code
    entries[index] = (pattern, flags, final, changed, groups, groupindex, indexgroup)
    (tmp_path / regexes.COMPILED_NAME).write_bytes(first + b"\n" + marshal.dumps(entries))
    assert _fresh("from aiogen.startup import regexes\nimport json, sys\n"
                  "print(json.dumps({'seeded': regexes.seed(sys.argv[1]), 'current': regexes.current(sys.argv[1])}))",
                  str(tmp_path)) == {"seeded": 0, "current": False}
    (tmp_path / regexes.COMPILED_NAME).write_bytes(_signed(marshal.dumps(entries)))  # re-signed: the engine runs it
    assert _fresh("from aiogen.startup import regexes\nimport re, json, sys\nregexes.seed(sys.argv[1])\n"
                  "print(json.dumps(bool(re.compile(r'^---[ \\t]*(#.*)?$').match('--- !x'))))", str(tmp_path)) is True


def test_the_listing_holds_every_pattern_aiogen_compiles_cold(tmp_path: Path) -> None:
    """``render`` (to stdout and a directory), ``validate`` and the KRM function over an example spec."""
    shutil.copy(EXAMPLES / "fleet.yaml", tmp_path)
    shutil.copytree(EXAMPLES / "pki", tmp_path / "pki")
    compiled = regexes_collect.collect(tmp_path)
    listed = set(LISTED)
    assert len(compiled) > 40
    missing = sorted(((pattern, flags, origin) for pattern, flags, origin in compiled
                      if (pattern, flags) not in listed), key=repr)
    ours = [found for found in missing if found[2].split(".")[0] == "aiogen"]
    assert ours == [], f"aiogen's patterns missing from regexes.json: run `{COLLECT}`"
    if missing:  # another version of a library compiles other patterns: slower here, not wrong
        warnings.warn(f"patterns compiled cold but not in regexes.json (library versions differ? `{COLLECT}`): "
                      f"{missing}", stacklevel=1)


def test_the_listing_text_round_trips_and_does_not_depend_on_the_order(tmp_path: Path) -> None:
    patterns: list[tuple[str | bytes, int, str]] = [
        (pattern, flags, origin) for (pattern, flags), origin in zip(LISTED + TRICKY, _origins() + ["tests"] * 10,
                                                                      strict=True)]
    text = regexes.listing_text(patterns)
    assert text.isascii()
    shuffled = patterns[:]
    random.Random(12).shuffle(shuffled)
    assert regexes.listing_text(shuffled) == text
    (tmp_path / regexes.LIST_NAME).write_text(text, encoding="utf-8")
    assert sorted(regexes.listed(tmp_path), key=repr) == sorted(((p, f) for p, f, _ in patterns), key=repr)
    assert ("[\ud800-\udbff]x\udc80", 0) in regexes.listed(tmp_path)


def test_the_listing_file_is_as_the_collector_writes_it() -> None:
    text = Path(regexes.HERE, regexes.LIST_NAME).read_text(encoding="utf-8")
    with_origins = [(pattern, flags, origin) for (pattern, flags), origin in zip(LISTED, _origins(), strict=True)]
    assert regexes.listing_text(with_origins) == text, f"regexes.json was edited by hand: run `{COLLECT}`"
    assert len(set(LISTED)) == len(LISTED)


def test_adjacent_lone_surrogates_round_trip(tmp_path: Path) -> None:
    (tmp_path / regexes.LIST_NAME).write_text(regexes.listing_text([("[\ud800\udc00]", 0, "tests")]),
                                              encoding="utf-8")
    assert regexes.listed(tmp_path) == [("[\ud800\udc00]", 0)]


def _origins() -> list[str]:
    listing = json.loads(Path(regexes.HERE, regexes.LIST_NAME).read_text(encoding="utf-8"))
    return [str(item["from"]) for item in listing["patterns"]]


def test_a_pattern_that_warns_as_it_compiles_is_left_to_compile_at_run_time(tmp_path: Path) -> None:
    """A seeded pattern never compiles, so it could not warn: one that warns (a possible nested set)
    is not compiled ahead of time, and still warns when a program compiles it."""
    listing = [("[[a]", 0, "tests"), ("[a]b", 0, "tests")]
    (tmp_path / regexes.LIST_NAME).write_text(regexes.listing_text(listing), encoding="utf-8")
    regexes.write(tmp_path)
    assert [entry[0] for entry in regexes.compile_listed(tmp_path)] == ["[a]b"]
    assert regexes.current(tmp_path)
    found = _fresh("import json, re, sys, warnings\nfrom aiogen.startup import regexes\n"
                   "seeded = regexes.seed(sys.argv[1])\nwarnings.simplefilter('error')\n"
                   "try:\n    re.compile('[[a]')\n    warned = False\nexcept FutureWarning:\n    warned = True\n"
                   "print(json.dumps([seeded, warned]))", str(tmp_path))
    assert found == [1, True]
