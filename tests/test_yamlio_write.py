"""The direct YAML writer gives exactly PyYAML's bytes, on every example and on random data."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from aiogen.yamlio import write as yaml_write
from tests.helpers import EXAMPLE_SPECS
from tests.regen_golden import rendered_tree

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**12), max_value=10**12),
    st.text(max_size=20),
    st.from_regex(r"[A-Za-z][A-Za-z0-9._/-]{0,6}", fullmatch=True),
    st.sampled_from(["yes", "no", "on", "NO", "1.0", "0x1F", "~", "null", "true", "2026-01-01", "a: b", "#x", "- x",
                     "'q'", '"q"', " lead", "trail ", "*alias", "&anchor", "!tag", "%", "@", "`", "{a}", "[a]",
                     "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "a\nb", "a\n\n", "\n",
                     "ü-ß", "\u2028", "\x85", "tab\there"]),
)
keys = st.one_of(st.text(max_size=12), st.from_regex(r"[A-Za-z][A-Za-z0-9._/-]{0,4}", fullmatch=True), st.sampled_from(["apiVersion", "yes", "1", "a b", "-x", "? q", "key:"]))
values: Any = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)), max_leaves=20)


@settings(max_examples=600, deadline=None, derandomize=True)
@given(st.dictionaries(keys, values, min_size=1, max_size=5))
def test_direct_writer_matches_pyyaml(obj: dict[str, Any]) -> None:
    assert yaml_write.to_yaml(obj) == yaml_write._pyyaml(obj)


def test_plain_fast_path_agrees_with_pyyaml_on_every_short_word() -> None:
    """Every 1-2 letter word and the YAML 1.1 special words: the fast path's spelling is PyYAML's."""
    import itertools
    import string

    words = [*string.ascii_letters, *("".join(p) for p in itertools.product(string.ascii_letters, repeat=2)),
             *yaml_write._NOT_PLAIN, "Yes", "oN", "nO", "NULL", "Off", "inf", "nan", "e1", "x1.5", "a/b", "a.b", "a-b_c"]
    for word in words:
        assert yaml_write.to_yaml({word: word}) == yaml_write._pyyaml({word: word}), word


def test_examples_use_the_direct_writer_and_match_pyyaml() -> None:
    import yaml

    for spec in EXAMPLE_SPECS:
        for path, text in rendered_tree(spec).items():
            if not path.endswith(".yaml"):
                continue
            obj = yaml.safe_load(text)
            lines: list[str] = []
            yaml_write._write_mapping(obj, 0, lines)  # the fast path handles every rendered shape
            assert "".join(lines) == yaml_write._pyyaml(obj), path
