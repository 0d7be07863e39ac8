"""Canonical YAML: block style, key order as given, PEMs as literal blocks, no line folding.

A direct writer produces PyYAML's block layout for the shapes templates make (mappings, lists,
strings, integers, booleans, null); every distinct string's spelling (plain, quoted) is asked of
PyYAML once and remembered. Anything else falls back to PyYAML itself, so the bytes are always
exactly PyYAML's (tests/test_yaml_write.py compares both on every example and on random data).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any


def _dumper() -> Any:
    import yaml

    base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

    class Dumper(base):  # type: ignore[misc, valid-type]
        pass

    def represent_str(dumper: Any, value: str) -> Any:
        if "\n" in value:
            return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
        return dumper.represent_scalar("tag:yaml.org,2002:str", value)

    Dumper.add_representer(str, represent_str)
    return Dumper


_DUMPER: Any = None


def to_yaml(obj: Mapping[str, Any]) -> str:
    """One document, canonical form.

    A direct writer produces PyYAML's block layout for the shapes templates make (mappings, lists,
    strings, integers, booleans, null); every distinct string's spelling (plain, quoted) is asked
    of PyYAML once and remembered. Anything else falls back to PyYAML itself, so the bytes are
    always exactly PyYAML's (tests/test_yamlio_write.py compares both on every example and on random data).
    """
    lines: list[str] = []
    try:
        _write_mapping(obj, 0, lines)
    except _Unsupported:
        return _pyyaml(obj)
    return "".join(lines)


def _pyyaml(obj: Any) -> str:
    import yaml

    global _DUMPER
    if _DUMPER is None:
        _DUMPER = _dumper()
    text: str = yaml.dump(
        obj,
        Dumper=_DUMPER,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 20,
        indent=2,
    )
    return text


class _Unsupported(Exception):
    """A value the direct writer does not handle; PyYAML writes the document instead."""


_SCALARS: dict[str, str] = {}  # string -> its spelling as a block mapping value / list item
_KEYS: dict[str, str] = {}  # string -> its spelling as a mapping key
# Strings PyYAML always writes plain: a letter first, then letters, digits and . _ / -, and not a
# YAML 1.1 boolean or null word (the resolver would read those back as something else).
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9._/-]*")
_NOT_PLAIN = frozenset(
    {"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE"}
    | {"on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL"}
)
_BREAKS = re.compile("[\x85\u2028\u2029]")
_BLOCK_LINE = re.compile(r"[ -~]*[!-~]")  # a literal-block line PyYAML keeps as is: printable ASCII, no trailing space


def _scalar(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if type(value) is int:
        return str(value)
    if type(value) is not str or "\n" in value:
        raise _Unsupported
    spelled = _SCALARS.get(value)
    if spelled is None:
        if _PLAIN.fullmatch(value) and value not in _NOT_PLAIN:
            return value
        text = _pyyaml({"k": value})
        if not text.startswith("k: ") or text.count("\n") != 1 or _BREAKS.search(text):
            raise _Unsupported  # a line break inside a quoted scalar is indented by context
        spelled = _SCALARS[value] = text[3:-1]
    return spelled


def _key(key: Any) -> str:
    if type(key) is not str:
        raise _Unsupported
    spelled = _KEYS.get(key)
    if spelled is None:
        if _PLAIN.fullmatch(key) and key not in _NOT_PLAIN:
            return key
        text = _pyyaml({key: 1})
        if not text.endswith(": 1\n") or text.count("\n") != 1 or _BREAKS.search(text):
            raise _Unsupported
        spelled = _KEYS[key] = text[:-4]
    return spelled


def _literal(value: str, indent: int, lines: list[str]) -> bool:
    """A PEM-like string as PyYAML's literal block (`|`), or False when PyYAML might choose otherwise."""
    if not value.endswith("\n") or value.endswith("\n\n"):
        return False
    body = value[:-1].split("\n")
    if body[0].startswith(" ") or not all(_BLOCK_LINE.fullmatch(line) for line in body):
        return False  # a leading space needs an indentation indicator; leave that to PyYAML
    pad = " " * indent
    lines.append(" |\n")
    lines.extend(f"{pad}{line}\n" for line in body)
    return True


def _write_mapping(obj: Any, indent: int, lines: list[str], first_prefix: str | None = None) -> None:
    if type(obj) is not dict or not obj:
        raise _Unsupported
    pad = " " * indent
    first = True
    for key, value in obj.items():
        head = (first_prefix if first and first_prefix is not None else pad) + _key(key) + ":"
        first = False
        _write_value(head, value, indent, lines)


def _write_value(head: str, value: Any, indent: int, lines: list[str]) -> None:
    kind = type(value)
    if kind is dict:
        if not value:
            lines.append(head + " {}\n")
            return
        lines.append(head + "\n")
        _write_mapping(value, indent + 2, lines)
    elif kind is list:
        if not value:
            lines.append(head + " []\n")
            return
        lines.append(head + "\n")
        _write_sequence(value, indent, lines)  # PyYAML writes a mapping's list without indenting it
    elif kind is str and "\n" in value:
        lines.append(head)
        if not _literal(value, indent + 2, lines):
            raise _Unsupported
    else:
        lines.append(f"{head} {_scalar(value)}\n")


def _write_sequence(items: list[Any], indent: int, lines: list[str]) -> None:
    pad = " " * indent
    for item in items:
        kind = type(item)
        if kind is dict and item:
            _write_mapping(item, indent + 2, lines, first_prefix=pad + "- ")
        elif kind is dict or kind is list:
            raise _Unsupported  # empty collections and nested lists as items: PyYAML's business
        else:
            lines.append(f"{pad}- {_scalar(item)}\n")
