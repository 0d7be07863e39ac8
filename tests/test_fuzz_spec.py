"""Property: whatever a spec says, aiogen ends with exit 0 or a located error, fast.

Hypothesis mutates every example spec (fields deleted, types swapped, strings and keys replaced by
hostile ones: very long, control characters, path separators, unicode lookalikes, YAML and Jinja
syntax, PEM armour) and also mangles the YAML text itself. Each case runs in-process through
`aiogen.cli.app.main` and must

* exit 0 or 1 (never 70, "internal error", or a traceback),
* on failure print only lines in the located form ``file:line[:col] field.path: message`` (or a
  whole-file ``file: message``), one problem per line,
* finish within hypothesis' deadline (1 s).

The runs are derandomized so CI is repeatable; set AIOGEN_FUZZ_EXAMPLES to explore more, e.g.
``AIOGEN_FUZZ_EXAMPLES=5000 pytest tests/test_fuzz_spec.py``.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import EXAMPLES, aiogen

SCALE = int(os.environ.get("AIOGEN_FUZZ_EXAMPLES", "0"))


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=SCALE or examples,
        deadline=1000,
        derandomize=not SCALE,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                               HealthCheck.data_too_large],
    )


CORPUS = sorted(
    [*EXAMPLES.glob("*.yaml"), *EXAMPLES.glob("rollover/*.yaml"), *EXAMPLES.glob("rollover/*/*.yaml")],
    key=lambda p: str(p.relative_to(EXAMPLES)),
)

HOSTILE_STRINGS = [
    "",
    " ",
    "x" * 70,
    "y" * 300,
    "z" * 5000,
    "a" * 64 + "." + "b" * 64,
    "../../../../etc/passwd",
    "../escape",
    "/etc/passwd",
    "/",
    ".",
    "..",
    "a/b",
    "a\\b",
    "C:\\Windows\\system32",
    "con",
    "name\x00with-nul",
    "line\nbreak",
    "carriage\rreturn",
    "tab\there",
    "bell\x07",
    "esc\x1b[31mred",
    "del\x7f",
    "\u202eevil-rtl-override",
    "zero\u200bwidth",
    "lab\u20111",  # non-breaking hyphen
    "l\u0430b-1",  # Cyrillic a
    "ｌａｂ－１",  # fullwidth
    "LAB-1",
    "-lead",
    "trail-",
    "ünïcödé",
    "😀",
    "\ufeffbom",
    "\u2028line-separator",
    "\x85next-line",
    "*",
    "&anchor",
    "!!python/object:os.system",
    "{{ 7*7 }}",
    "{% raw %}",
    "${HOME}",
    "$(id)",
    "`id`",
    "'; DROP TABLE x; --",
    '"quoted"',
    "key: value",
    "- item",
    "#comment",
    "---",
    "0x1F",
    "1e400",
    "-----BEGIN CERTIFICATE-----",
    "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----",
    "8883",
    "true",
    "null",
    "720h",
    "0s",
    "99999999999999999999h",
    "1y1y1y1y1y1y1y1y1y1y1y1y1y1y1y1y1y",
    "2025-13-45",
    "10.0.0.1/24",
    "::1",
    "*.*.example",
    "xn--80ak6aa92e.com",
    "pki/../pki/contoso-root-2025.pem",
    "pki",
    "/dev/zero",
]
HOSTILE_VALUES: list[Any] = [
    None, True, False, 0, -1, 1, 18883, 65536, 2**63, -(2**63), 10**30, 1.5, float("inf"), float("nan"),
    [], [None], ["x"], {}, {"x": 1}, {"": None}, [[[]]],
]


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


BASES = [(path, _load(path)) for path in CORPUS]


@pytest.fixture(scope="module")
def workdirs(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, Path]:
    """One directory per example directory, holding a copy of its pki/ so PEM paths resolve."""
    dirs: dict[Path, Path] = {}
    for path in CORPUS:
        if path.parent in dirs:
            continue
        work = tmp_path_factory.mktemp("fuzz")
        if (path.parent / "pki").is_dir():
            shutil.copytree(path.parent / "pki", work / "pki")
        dirs[path.parent] = work
    return dirs


# ---------------------------------------------------------------- mutations of the data


def _nodes(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    yield path, data
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _nodes(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _nodes(value, (*path, index))


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


@st.composite
def mutated_spec(draw: st.DrawFn) -> tuple[Path, Any]:
    path, base = draw(st.sampled_from(BASES))
    data = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        nodes = [p for p, _ in _nodes(data) if p]
        if not nodes:
            break
        action = draw(st.sampled_from(["delete", "value", "string", "string", "key", "duplicate", "wrap"]))
        leaves = [p for p, value in _nodes(data) if p and isinstance(value, str)]
        where = draw(st.sampled_from(leaves if action == "string" and leaves else nodes))
        parent = _parent(data, where)
        last = where[-1]
        if action == "delete":
            del parent[last]
        elif action == "value":
            parent[last] = copy.deepcopy(draw(st.sampled_from(HOSTILE_VALUES)))  # later mutations must not reach the pool
        elif action == "string":
            parent[last] = draw(st.one_of(st.sampled_from(HOSTILE_STRINGS), st.text(max_size=40)))
        elif action == "key" and isinstance(parent, dict):
            new_key = draw(st.one_of(st.sampled_from(HOSTILE_STRINGS), st.text(min_size=1, max_size=20)))
            parent[new_key] = parent.pop(last)
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[last]))
        elif action == "wrap":
            parent[last] = [parent[last]] if draw(st.booleans()) else {"value": parent[last]}
    return path, data


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1 << 20)


# ---------------------------------------------------------------- mutations of the text


TEXT_EDITS = ["\t", " ", "\n", ":", "- ", "[", "{", "]", "}", "&a ", "*a", "!!binary ", "'", '"', "\x00", "\ufeff",
              "\r\n", "? ", "|", ">", "%YAML 1.2\n", "---\n", "...\n", "#", "<<: *a\n", "\u2028",
              '"\\ud800"', '"\\x7f\\x85"', "\x7f", "\x85", "\ufffe", "!!python/object:os.system "]


@st.composite
def mangled_text(draw: st.DrawFn) -> tuple[Path, str]:
    path = draw(st.sampled_from(CORPUS))
    text = path.read_text(encoding="utf-8")
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        edit = draw(st.sampled_from(["insert", "delete", "truncate"]))
        if edit == "insert":
            text = text[:at] + draw(st.sampled_from(TEXT_EDITS)) + text[at:]
        elif edit == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 20)) :]
        else:
            text = text[:at]
    return path, text


# ---------------------------------------------------------------- the property


LOCATED = re.compile(r"^(warning: )?(?P<file>[^\n]+?)(:\d+(:\d+)?)?( [^\n]+?)?: [^\n]+$")


def check_outcome(spec: Path, code: int, err: str) -> None:
    assert "Traceback" not in err, err
    assert "internal error" not in err, err
    assert code in (0, 1), (code, err)
    for line in err.splitlines():
        if code == 0 and not line.startswith(str(spec)):
            continue  # render's summary line ("aiogen: 1 cluster(s) in DIR: ...")
        assert line.startswith((f"{spec}:", f"{spec} ", f"warning: {spec}:")), f"not located: {line!r}"
        assert LOCATED.match(line), f"not in the located form: {line!r}"
    if code == 1:
        assert err.strip(), "a failure must say why"


def _validate(workdirs: dict[Path, Path], origin: Path, text: str | bytes) -> tuple[Path, int, str]:
    spec = workdirs[origin.parent] / "spec.yaml"
    if isinstance(text, bytes):
        spec.write_bytes(text)
    else:
        spec.write_text(text, encoding="utf-8")
    run = aiogen("validate", spec, "--now", "2026-01-15")
    return spec, run.code, run.err


@fuzz(90)
@given(case=mutated_spec())
def test_mutated_specs_end_in_success_or_a_located_error(workdirs: dict[Path, Path], case: tuple[Path, Any]) -> None:
    origin, data = case
    spec, code, err = _validate(workdirs, origin, _dump(data))
    check_outcome(spec, code, err)


@fuzz(60)
@given(case=mangled_text())
def test_mangled_yaml_text_ends_in_success_or_a_located_error(
    workdirs: dict[Path, Path], case: tuple[Path, str]
) -> None:
    origin, text = case
    spec, code, err = _validate(workdirs, origin, text.encode("utf-8", "surrogatepass"))
    check_outcome(spec, code, err)


@fuzz(30)
@given(case=mutated_spec())
def test_mutated_specs_render_or_refuse_and_write_only_inside_the_output(
    workdirs: dict[Path, Path], tmp_path_factory: pytest.TempPathFactory, case: tuple[Path, Any]
) -> None:
    """The same mutations through `render -o DIR`: only DIR changes, and nothing in it holds a key."""
    origin, data = case
    work = workdirs[origin.parent]
    spec = work / "spec.yaml"
    spec.write_text(_dump(data), encoding="utf-8")
    out = tmp_path_factory.mktemp("out")
    before = sorted(p.relative_to(work) for p in work.rglob("*"))
    run = aiogen("render", spec, "-o", out, "--now", "2026-01-15")
    check_outcome(spec, run.code, run.err)
    assert sorted(p.relative_to(work) for p in work.rglob("*")) == before  # nothing written beside the spec
    written = [p for p in out.rglob("*") if p.is_file()]
    if run.code != 0:
        assert written == []
    for path in written:
        assert path.resolve().is_relative_to(out.resolve())
        assert b"PRIVATE KEY" not in path.read_bytes()
