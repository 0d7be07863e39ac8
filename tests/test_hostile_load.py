"""Hostile and broken spec files: every loader limit, one named regression each.

Each test feeds the loader a document built to hurt it (amplification, nesting, size, encoding,
tags, keys) and checks that aiogen answers with one clear, located line and exit 1, never a
traceback, and fast. docs/hardening.md records the limits and why they were chosen.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
from pathlib import Path

import pytest

from aiogen.model.problems import AiogenError
from aiogen.yamlio import parse as load
from aiogen.yamlio import read
from tests.helpers import EXAMPLES, Run, aiogen

LAB = (EXAMPLES / "lab.yaml").read_text(encoding="utf-8")
FAST = 10.0  # seconds: each refusal takes milliseconds; an unbounded parse would take minutes or never end

BILLION_LAUGHS = (
    "apiVersion: aiogen.io/v1alpha1\nkind: Topology\nmetadata: {name: lol}\nspec:\n"
    "  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    "  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    "  d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    "  e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
    "  f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
    "  g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
    "  h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
    "  i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n"
)


def validate(tmp_path: Path, content: str | bytes, name: str = "fleet.yaml") -> tuple[Path, Run, float]:
    spec = tmp_path / name
    if isinstance(content, bytes):
        spec.write_bytes(content)
    else:
        spec.write_text(content, encoding="utf-8")
    start = time.perf_counter()
    run = aiogen("validate", spec)
    return spec, run, time.perf_counter() - start


def refused(tmp_path: Path, content: str | bytes) -> str:
    """The one error line aiogen prints for ``content``, after checking it failed cleanly and fast."""
    spec, run, seconds = validate(tmp_path, content)
    assert run.code == 1, run
    assert "Traceback" not in run.err and "internal error" not in run.err, run.err
    assert seconds < FAST, f"took {seconds:.2f}s"
    lines = run.err.splitlines()
    assert len(lines) == 1, run.err
    assert lines[0].startswith(f"{spec}"), lines[0]
    return lines[0].removeprefix(str(spec))


# ---------------------------------------------------------------- amplification and nesting


def test_billion_laughs_fails_fast_with_a_clear_error(tmp_path: Path) -> None:
    message = refused(tmp_path, BILLION_LAUGHS)
    assert message.startswith(":9:")  # at the first alias that crosses the budget, not at the end
    assert "values (YAML aliases counted expanded) (aiogen bounds alias expansion; write the values out)" in message


def test_billion_laughs_parse_takes_milliseconds() -> None:
    load.parse_yaml("a: 1\n", source="warm", base_dir=Path("."))  # imports out of the timing
    start = time.perf_counter()
    with pytest.raises(AiogenError):
        load.parse_yaml(BILLION_LAUGHS, source="lol.yaml", base_dir=Path("."))
    assert time.perf_counter() - start < FAST  # milliseconds; expanded in full it would never finish


def test_merge_key_amplification_is_counted_like_aliases(tmp_path: Path) -> None:
    text = "a0: &a0 {k0: x, k1: x, k2: x, k3: x, k4: x, k5: x, k6: x, k7: x, k8: x, k9: x}\n" + "".join(
        f"a{i}: &a{i} {{" + ", ".join(f"m{j}: *a{i - 1}" for j in range(10)) + "}\n" for i in range(1, 9)
    )
    assert "values (YAML aliases counted expanded)" in refused(tmp_path, text)


def test_alias_inside_its_own_anchor_is_refused(tmp_path: Path) -> None:
    assert refused(tmp_path, "a: &loop [1, *loop]\n") == ":1:14: alias *loop refers to a collection that contains it"


def test_undefined_alias_is_located(tmp_path: Path) -> None:
    assert refused(tmp_path, "a: 1\nb: *nowhere\n").startswith(":2:4: found undefined alias")


def test_a_hundred_thousand_nested_flow_brackets_fail_fast(tmp_path: Path) -> None:
    depth = 100_000  # libyaml scans ahead in flow context and stops at its own cap of 1,000
    message = refused(tmp_path, "a: " + "[" * depth + "]" * depth + "\n")
    assert message == f":1:1003: nesting deeper than {load.MAX_DEPTH} levels"


def test_deep_flow_mappings_fail_fast(tmp_path: Path) -> None:
    depth = 50_000
    assert f"nesting deeper than {load.MAX_DEPTH} levels" in refused(tmp_path, "a: " + "{a: " * depth + "1" + "}" * depth)


def test_deep_block_nesting_is_located(tmp_path: Path) -> None:
    text = "".join(" " * i + "k:\n" for i in range(200)) + " " * 200 + "v\n"
    assert refused(tmp_path, text) == f":65:65: nesting deeper than {load.MAX_DEPTH} levels"


def test_compact_nested_sequences_on_one_line(tmp_path: Path) -> None:
    assert f"nesting deeper than {load.MAX_DEPTH} levels" in refused(tmp_path, "- " * 200_000 + "x\n")


def test_nesting_up_to_the_limit_is_fine() -> None:
    depth = load.MAX_DEPTH - 2
    doc = load.parse_yaml("a: " + "[" * depth + "]" * depth + "\n", source="ok", base_dir=Path("."))
    node = doc.data["a"]
    for _ in range(depth - 1):
        node = node[0]
    assert node == []


def test_too_many_values_without_aliases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load, "MAX_NODES", 1000)
    message = refused(tmp_path, "a: [" + "1, " * 1001 + "1]\n")
    assert message.endswith("the document holds more than 1000 values (YAML aliases counted expanded)")


def test_the_limits_leave_room_for_a_fleet_of_ten_thousand_plants() -> None:
    """Capacity, counted the way the composer counts: every value, keys not counted."""
    import yaml

    def values(node: object) -> int:
        if isinstance(node, dict):
            return 1 + sum(values(v) for v in node.values())
        if isinstance(node, list):
            return 1 + sum(values(v) for v in node)
        return 1

    fleet = (EXAMPLES / "fleet.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(fleet)
    clusters = data["spec"]["clusters"]
    per_cluster = max(values(c) for c in clusters)
    bytes_per_cluster = len(fleet.encode()) / len(clusters)
    assert 10_000 * per_cluster < load.MAX_NODES
    assert 10_000 * bytes_per_cluster < load.MAX_BYTES


def test_many_empty_documents_are_not_read_to_the_end(tmp_path: Path) -> None:
    assert refused(tmp_path, "a: 1\n" + "---\nb: 2\n" * 100_000) == (
        ":2:1: the file holds more than one YAML document; a spec is exactly one "
        "(remove the '---' separator or split the file)"
    )


# ---------------------------------------------------------------- size


def test_oversized_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    spec = tmp_path / "big.yaml"
    with spec.open("wb") as handle:
        handle.truncate(load.MAX_BYTES + 1)  # sparse: refusing it must not mean reading it
    start = time.perf_counter()
    run = aiogen("validate", spec)
    assert time.perf_counter() - start < FAST
    assert run.code == 1
    assert run.err == f"{spec} is {load.MAX_BYTES + 1} bytes; a spec may be at most {load.MAX_BYTES}\n"


def test_huge_single_line_scalar_is_not_echoed(tmp_path: Path) -> None:
    text = LAB.replace("apiVersion: aiogen.io/v1alpha1", "apiVersion: " + "x" * 1_000_000, 1)
    _, run, seconds = validate(tmp_path, text)
    assert run.code == 1 and "Traceback" not in run.err
    assert seconds < 5  # linear in the input: ~1 MB through ruamel's scanner
    assert len(run.err) < 1000, "a message quotes at most a bounded part of the value"


def test_huge_key_is_not_echoed(tmp_path: Path) -> None:
    text = LAB.replace("spec:\n", "spec:\n  " + "k" * 900 + ": 1\n", 1)
    _, run, _ = validate(tmp_path, text)
    assert run.code == 1
    assert all(len(line) < 400 for line in run.err.splitlines()), run.err


def test_special_files_are_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)  # opening it for reading would block until a writer comes
    start = time.perf_counter()
    run = aiogen("validate", fifo)
    assert time.perf_counter() - start < FAST
    assert (run.code, run.err) == (1, f"{fifo}: not a regular file\n")
    assert aiogen("validate", "/dev/zero").err == "/dev/zero: not a regular file\n"
    assert aiogen("validate", tmp_path).err == f"{tmp_path}: not a regular file (a directory)\n"


# ---------------------------------------------------------------- encoding and characters


def test_non_utf8_byte_is_located(tmp_path: Path) -> None:
    text = LAB.replace("lab-1 root CA", "lab-1 r\xf6ot CA").encode("latin-1")
    line = next(n for n, ln in enumerate(text.splitlines(), 1) if b"r\xf6ot" in ln)
    offset = text.index(b"r\xf6ot") + 1
    column = text.splitlines()[line - 1].index(b"\xf6") + 1
    assert refused(tmp_path, text) == f":{line}:{column}: byte {offset} (0xf6) is not UTF-8 (save the file as UTF-8)"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_utf16_and_utf32_files_are_named(tmp_path: Path, encoding: str) -> None:
    assert refused(tmp_path, LAB.encode(encoding)) == (
        f":1:1: the file is {encoding.upper()}, not UTF-8 (save the file as UTF-8)"
    )


def test_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    _, run, _ = validate(tmp_path, "\ufeff" + LAB)
    assert run.code == 0, run.err


def test_crlf_line_endings_render_exactly_like_lf(tmp_path: Path) -> None:
    (tmp_path / "lf").mkdir()
    (tmp_path / "crlf").mkdir()
    lf, crlf = tmp_path / "lf/lab.yaml", tmp_path / "crlf/lab.yaml"
    lf.write_text(LAB, encoding="utf-8")
    crlf.write_bytes(LAB.replace("\n", "\r\n").encode("utf-8"))
    assert aiogen("render", lf, "-o", tmp_path / "out-lf").code == 0
    assert aiogen("render", crlf, "-o", tmp_path / "out-crlf").code == 0
    tree = {p.relative_to(tmp_path / "out-lf"): p.read_bytes() for p in (tmp_path / "out-lf").rglob("*") if p.is_file()}
    other = {p.relative_to(tmp_path / "out-crlf"): p.read_bytes()
             for p in (tmp_path / "out-crlf").rglob("*") if p.is_file()}
    assert tree == other


def test_crlf_errors_keep_their_line_numbers(tmp_path: Path) -> None:
    text = LAB.replace("commonName: lab-1 root CA", "commonName: [oops")
    assert refused(tmp_path, text.replace("\n", "\r\n")) == refused(tmp_path, text)
    text = LAB.replace("renewBefore: 8760h", "renewBefore: 8760h\n            renewBefore: 1h")
    assert refused(tmp_path, text.replace("\n", "\r\n")) == ':18:13: duplicate key "renewBefore"'


def test_tab_indentation_is_located_with_a_hint(tmp_path: Path) -> None:
    text = LAB.replace("\n    - name: lab-1", "\n\t- name: lab-1")
    line = text.splitlines().index("\t- name: lab-1") + 1
    assert refused(tmp_path, text) == (
        f":{line}:1: found character '\\t' that cannot start any token "
        "(YAML indents with spaces; replace the tab)"
    )


@pytest.mark.parametrize(("char", "code"), [("\x00", "0000"), ("\x07", "0007"), ("\x1b", "001B"), ("\ufffe", "FFFE")])
def test_control_characters_are_located(tmp_path: Path, char: str, code: str) -> None:
    text = LAB.replace("lab-1 root CA", f"lab-1 {char}root CA")
    line = next(n for n, ln in enumerate(text.splitlines(), 1) if char in ln)
    column = text.splitlines()[line - 1].index(char) + 1
    assert refused(tmp_path, text) == (
        f":{line}:{column}: character U+{code} is not allowed in YAML "
        "(remove control characters; write them as escapes in a double-quoted string)"
    )


def test_escaped_control_characters_in_values_are_quoted_safely(tmp_path: Path) -> None:
    text = LAB.replace("name: lab-1\n", 'name: "lab\\n1\\u202e\\x1b[31m"\n', 1)
    spec, run, _ = validate(tmp_path, text)
    assert run.code == 1
    for line in run.err.splitlines():
        assert line.startswith(str(spec)), line  # no line break smuggled into the output
        assert "\x1b" not in line and "\u202e" not in line


def test_lone_surrogate_escapes_are_refused(tmp_path: Path) -> None:
    """"\\ud800" is valid YAML syntax but not a Unicode character: no file could hold it."""
    text = LAB.replace("commonName: lab-1 root CA", 'commonName: "lab-1 \\ud800 root"')
    assert refused(tmp_path, text) == ":15:34: found invalid Unicode character escape code"  # libyaml refuses it
    text = LAB.replace("spec:\n", 'spec:\n  "k\\udfff": 1\n', 1)
    assert refused(tmp_path, text) == ":9:7: found invalid Unicode character escape code"


# ---------------------------------------------------------------- tags and keys


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        ("!!python/object:os.system {}", "!!python/object:os.system"),
        ("!!python/object/apply:os.system ['id']", "!!python/object/apply:os.system"),
        ("!!python/name:os.system ''", "!!python/name:os.system"),
        ("!!binary aGVsbG8=", "!!binary"),
        ("!!set {a, b}", "!!set"),
        ("!!omap [a: 1]", "!!omap"),
        ("!!timestamp 2025-01-01", "!!timestamp"),
        ("!local thing", "!local"),
        ("!<tag:example.com,2000:x> 1", "tag:example.com,2000:x"),
    ],
)
def test_yaml_tags_outside_the_core_schema_are_refused(tmp_path: Path, value: str, tag: str) -> None:
    text = LAB.replace("name: lab\n", f"name: {value}\n", 1)
    assert refused(tmp_path, text) == (
        f":7:9: YAML tag {tag!r} is not supported; a spec is plain YAML (mappings, lists, strings, numbers, booleans)"
    )


def test_core_schema_tags_are_accepted(tmp_path: Path) -> None:
    text = LAB.replace("name: lab\n", "name: !!str lab\n", 1).replace("port: 8883", "port: !!int '8883'")
    _, run, _ = validate(tmp_path, text)
    assert run.code == 0, run.err


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("1", "key 1 is not a string"),
        ("~", "key ~ is not a string"),
        ("true", "key true is not a string"),
        ("3.5", "key 3.5 is not a string"),
        ("[a, b]", "a key is a collection, not a string"),
        ("{a: 1}", "a key is a collection, not a string"),
    ],
)
def test_keys_that_are_not_strings_are_located(tmp_path: Path, key: str, expected: str) -> None:
    text = LAB.replace("spec:\n", f"spec:\n  ? {key}\n  : x\n", 1)
    assert refused(tmp_path, text) == f":9:5 spec: {expected} (quote it: keys in a spec are strings)"


def test_a_date_key_is_a_string_under_yaml_1_2(tmp_path: Path) -> None:
    """YAML 1.2's core schema has no timestamps: 2025-01-01 is a string key, and an unknown field."""
    text = LAB.replace("spec:\n", "spec:\n  ? 2025-01-01\n  : x\n", 1)
    assert refused(tmp_path, text) == (
        ":9:5 spec.2025-01-01: unknown field (check its spelling against schemas/topology.schema.json)"
    )


def test_yaml_1_1_booleans_stay_strings(tmp_path: Path) -> None:
    """`NO` is a string in YAML 1.2 (the Norway problem): the name rule sees 'NO', not False."""
    assert refused(tmp_path, LAB.replace("name: lab\n", "name: NO\n", 1)).startswith(
        ":7:9 metadata.name: 'NO' must be a DNS-1123 subdomain"
    )


def test_duplicate_keys_are_refused_at_every_level(tmp_path: Path) -> None:
    assert refused(tmp_path, LAB.replace("kind: Topology\n", "kind: Topology\nkind: Topology\n")) == (
        ':6:1: duplicate key "kind"'
    )
    flow = LAB.replace("san: {dns: [mqtt.lab-1.example], inClusterNames: true}",
                       "san: {dns: [a.example], dns: [b.example]}")
    assert refused(tmp_path, flow).endswith(': duplicate key "dns"')


def test_huge_integer_is_a_located_error(tmp_path: Path) -> None:
    text = LAB.replace("port: 8883", "port: " + "9" * 5000)
    assert refused(tmp_path, text) == ":23:23: cannot read this int value: more than 40 digits"


def test_odd_keys_are_quoted_in_field_paths(tmp_path: Path) -> None:
    text = LAB.replace("spec:\n", 'spec:\n  roots:\n    "bad\\nroot": {certificate: {file: x.pem}, nope: 1}\n', 1)
    spec, run, _ = validate(tmp_path, text)
    assert run.code == 1
    assert f"{spec}:10:47 spec.roots['bad\\nroot'].nope: unknown field" in run.err
    assert all(line.startswith(str(spec)) for line in run.err.splitlines())


# ---------------------------------------------------------------- the same limits on stdin (KRM function)


def krm(stdin: bytes) -> tuple[Run, float]:
    """aiogen with no arguments: a KRM function reading a ResourceList on stdin."""
    from aiogen.cli import main

    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([])
    finally:
        sys.stdin = old_stdin
    return Run(code, out.getvalue(), err.getvalue()), time.perf_counter() - start


def resource_list(config: str) -> bytes:
    return ("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\nfunctionConfig:\n" + config).encode()


def test_krm_function_config_billion_laughs(tmp_path: Path) -> None:
    config = "".join("  " + line + "\n" for line in BILLION_LAUGHS.splitlines())
    run, seconds = krm(resource_list(config))
    assert run.code == 1 and seconds < FAST
    assert "Traceback" not in run.err and "internal error" not in run.err
    assert "values (YAML aliases counted expanded)" in run.err


def test_krm_stdin_deep_nesting(tmp_path: Path) -> None:
    run, seconds = krm(resource_list("  " + "[" * 100_000 + "]" * 100_000 + "\n"))
    assert run.code == 1 and seconds < FAST
    assert "Traceback" not in run.err and "internal error" not in run.err


def test_krm_stdin_not_utf8() -> None:
    run, seconds = krm(b"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: [\xff\xfe]\n")
    assert run.code == 1 and seconds < FAST
    assert "Traceback" not in run.err and "internal error" not in run.err
    assert "UTF-8" in run.err


def test_krm_stdin_python_tag() -> None:
    run, _ = krm(resource_list("  !!python/object/apply:os.system ['echo pwned']\n"))
    assert run.code == 1
    assert "pwned" not in run.out
    assert "Traceback" not in run.err and "internal error" not in run.err


def test_stream_reader_applies_the_byte_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(read, "MAX_BYTES", 100)
    with pytest.raises(AiogenError, match="<stdin> is over 100 bytes"):
        read.read_stream(io.BytesIO(b"a: 1\n" * 100))
    assert read.read_stream(io.BytesIO(b"\xef\xbb\xbfa: 1\n")) == "a: 1\n"


def test_huge_name_is_not_echoed(tmp_path: Path) -> None:
    text = LAB.replace("name: lab\n", "name: " + "x" * 1_000_000 + "\n", 1)
    _, run, _ = validate(tmp_path, text)
    assert run.code == 1
    assert len(run.err) < 1000


def test_every_problem_stays_on_one_line_whatever_the_names(tmp_path: Path) -> None:
    text = LAB.replace("spec:\n", 'spec:\n  roots:\n    "r\\rx\\u2028y": {selfSigned: {commonName: r}}\n', 1)
    start, end = text.index("        root:\n"), text.index("      broker:")
    text = text[:start] + "        root: missing\n" + text[end:]
    spec, run, _ = validate(tmp_path, text)
    assert run.code == 1
    assert "defined: " in run.err
    for line in run.err.splitlines():
        assert line.startswith((f"{spec}:", f"warning: {spec}:")), repr(line)
