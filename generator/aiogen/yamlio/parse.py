"""YAML text → `Document`: libyaml's events in one bounded pass.

libyaml's event parser (through PyYAML, so every event knows its line and column) reads the text,
and one pass turns the events into plain Python data with aiogen's limits built in: size, nesting
depth, values with aliases counted expanded (a "billion laughs" document fails at its first
over-budget alias), core-schema tags only, duplicate keys refused, plain scalars resolved by the
YAML 1.2 core schema. The pass records where each value stood. docs/hardening.md records the
limits and why. (ruamel.yaml, ten to twenty times slower on large fleets, is kept for round-trip
editing of specs by `aiogen rollout advance`.)
"""

from __future__ import annotations

import gc
import re
from functools import cache
from pathlib import Path
from typing import Any

from aiogen.model.problems import AiogenError, Location
from aiogen.yamlio.document import (
    MAX_BYTES,
    MAX_DEPTH,
    MAX_NODES,
    MAX_SHOWN,
    Document,
    PathKey,
    format_path,
    pack,
    shown,
)


def _has_surrogate(text: str) -> bool:
    """Does ``text`` hold a lone surrogate? Only a YAML escape can make one; no encoder can write it.
    (An ASCII string, as almost every one in a spec, holds none: no pattern is compiled for it.)"""
    return not text.isascii() and _surrogate().search(text) is not None


@cache
def _surrogate() -> re.Pattern[str]:
    return re.compile("[\ud800-\udfff]")


def parse_yaml(text: str, *, source: str, base_dir: Path) -> Document:
    """Parse one YAML document into a `Document`. Raises `AiogenError` with a location.

    libyaml's event parser (C, an explicit state stack: no recursion) reads the text and
    `_Builder` turns its events into plain data in one pass, bounded as it goes: nesting depth,
    values with aliases counted expanded (a "billion laughs" document fails at its first
    over-budget alias, in microseconds), core-schema tags only, duplicate keys refused. Plain
    scalars are resolved by the YAML 1.2 core schema (`yes`, `on` and `NO` stay strings).
    """
    import yaml

    if len(text) > MAX_BYTES:
        raise AiogenError.single(f"{source} is {len(text)} characters; a spec may be at most {MAX_BYTES}")
    doc = Document(None, source, base_dir, text)
    builder = _Builder(doc, record=False)
    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = loader_class(text)
    paused = gc.isenabled()
    gc.disable()  # the parse allocates many small objects; collections would make a large parse superlinear
    try:
        while True:
            event = loader.get_event()
            if event is None or builder.feed(event):
                break
    except yaml.MarkedYAMLError as error:
        raise AiogenError.single(_yaml_message(error, text), location=_mark_location(error, source),
                                 hint=_yaml_hint(error, text)) from None
    except yaml.reader.ReaderError as error:
        raise AiogenError.single(
            f"character U+{error.character:04X} is not allowed in YAML" if isinstance(error.character, int)
            else "the text is not valid YAML input",
            location=_offset_location(text, error.position, source),
            hint="remove control characters; write them as escapes in a double-quoted string",
        ) from None
    except yaml.YAMLError as error:
        raise AiogenError.single(f"invalid YAML: {_one_line(str(error))}", location=Location(source)) from None
    except UnicodeEncodeError as error:
        raise AiogenError.single("the text holds a lone surrogate, which is not Unicode",
                                 location=_offset_location(text, error.start, source)) from None
    finally:
        loader.dispose()
        if paused:
            gc.enable()
    if not builder.documents:
        raise AiogenError.single("the file holds no YAML document", location=Location(source))
    doc.data = builder.result
    return doc


def find_positions(text: str) -> tuple[dict[PathKey, int], dict[PathKey, int]]:
    """Where each value and each mapping key of ``text`` starts (packed, see `pack`): the same events
    `parse_yaml` read, read again. Called when a problem is first located in a parsed document."""
    import yaml

    doc = Document(None, "", Path())
    builder = _Builder(doc, record=True)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    paused = gc.isenabled()
    gc.disable()
    try:
        while True:
            event = loader.get_event()
            if event is None or builder.feed(event):
                break
    finally:
        loader.dispose()
        if paused:
            gc.enable()
    assert builder.positions is not None and builder.key_positions is not None
    return builder.positions, builder.key_positions


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _mark_location(error: Any, source: str) -> Location:
    mark = error.problem_mark or error.context_mark
    return Location(source, mark.line + 1, mark.column + 1) if mark else Location(source)


def _offset_location(text: str, offset: int, source: str) -> Location:
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    return Location(source, line, offset - (text.rfind("\n", 0, offset) + 1) + 1)


def _yaml_message(error: Any, text: str) -> str:
    message = _one_line(error.problem or error.context or "invalid YAML")
    if "maximum nesting depth" in message:  # libyaml's own cap (1000) met while scanning ahead
        return f"nesting deeper than {MAX_DEPTH} levels"
    if _at_tab(error, text):
        return message.replace("found character that", "found character '\\t' that")
    return message


def _at_tab(error: Any, text: str) -> bool:
    mark = error.problem_mark
    if mark is None:
        return False
    line: int = mark.line
    column: int = mark.column
    lines = text.split("\n", line + 1)
    return line < len(lines) and lines[line][column : column + 1] == "\t"


def _yaml_hint(error: Any, text: str) -> str | None:
    if _at_tab(error, text) or "'\\t'" in (error.problem or "") or "'\\t'" in (error.context or ""):
        return "YAML indents with spaces; replace the tab"
    return None


# The explicit tags a spec may carry: the YAML 1.2 core schema. Anything else (!!python/object,
# !!binary, !!set, local !tags) would be a value pydantic never expects, so it is refused.
_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(f"{_TAG}{name}" for name in ("str", "int", "float", "bool", "null"))
_COLLECTION_TAGS = frozenset({f"{_TAG}seq", f"{_TAG}map", "!"})
# YAML 1.2 core schema resolution of plain scalars (https://yaml.org/spec/1.2.2/#1032-tag-resolution)
_NULL = re.compile(r"(?:~|null|Null|NULL|)")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT10 = re.compile(r"[-+]?[0-9]+")
_INT8 = re.compile(r"0o[0-7]+")
_INT16 = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_INF = re.compile(r"[-+]?\.(?:inf|Inf|INF)")
_NAN = re.compile(r"\.(?:nan|NaN|NAN)")
_MAX_INT_DIGITS = 40  # far beyond any port, size or count a spec holds
_ALIAS_BUDGET = 50_000  # values aliases may add beyond those written out (or as many as are written)


def _short(value: str) -> str:
    """A plain scalar as written, bounded and on one line."""
    text = value if len(value) <= MAX_SHOWN else f"{value[: MAX_SHOWN - 16]}… ({len(value)} chars)"
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


class _Frame:
    __slots__ = ("anchor", "container", "key", "key_path", "path", "start")

    def __init__(self, container: dict[str, Any] | list[Any], path: PathKey, start: int, anchor: str | None) -> None:
        self.container = container
        self.key: str | None = None
        self.key_path: PathKey | None = None
        self.path = path
        self.start = start
        self.anchor = anchor


class _Builder:
    """libyaml events → plain dicts, lists and scalars, recording where each value stood."""

    def __init__(self, doc: Document, *, record: bool) -> None:
        self.doc = doc
        # where values and keys stood, only when asked for (`find_positions`)
        self.positions: dict[PathKey, int] | None = {} if record else None
        self.key_positions: dict[PathKey, int] | None = {} if record else None
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int]] = {}  # anchor -> (value, size in values)
        self.open_anchors: set[str] = set()
        self.values = 0  # values written out
        self.expanded = 0  # values added by aliases
        self.documents = 0
        self.result: Any = None

    # -- helpers

    def _fail(self, message: str, mark: Any, hint: str | None = None, path: PathKey | None = None) -> AiogenError:
        location = Location(self.doc.source, mark.line + 1, mark.column + 1) if mark is not None else None
        return AiogenError.single(message, location=location, path=format_path(path) if path else "", hint=hint)

    def _count(self, size: int, mark: Any, *, alias: bool) -> None:
        if alias:
            self.expanded += size
            allowed = max(_ALIAS_BUDGET, self.values)
            if self.expanded > allowed:
                raise self._fail(f"the document holds more than {self.values + allowed} values (YAML aliases "
                                 "counted expanded)", mark, "aiogen bounds alias expansion; write the values out")
        else:
            self.values += 1
        if self.values + self.expanded > MAX_NODES:
            raise self._fail(f"the document holds more than {MAX_NODES} values (YAML aliases counted expanded)",
                             mark)

    def _check_tag(self, tag: str | None, allowed: frozenset[str], mark: Any) -> None:
        if tag is not None and tag not in allowed:
            spelled = "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag
            raise self._fail(f"YAML tag {shown(spelled)} is not supported; a spec is plain YAML "
                             "(mappings, lists, strings, numbers, booleans)", mark)

    def _scalar(self, event: Any) -> Any:
        value: str = event.value
        tag = event.tag
        self._check_tag(tag, _SCALAR_TAGS | {"!"}, event.start_mark)
        if _has_surrogate(value):
            raise self._fail("holds a lone surrogate (an escape such as \\ud800), which is not Unicode",
                             event.start_mark)
        plain = not event.style  # libyaml: '' (C) or None (pure Python) for a plain scalar
        if (tag is None and not plain) or tag == "!" or tag == f"{_TAG}str":
            return value
        if tag is None:  # a plain scalar: YAML 1.2 core schema
            if _NULL.fullmatch(value):
                return None
            if value in _BOOL:
                return _BOOL[value]
            if _INT10.fullmatch(value) or _INT8.fullmatch(value) or _INT16.fullmatch(value):
                return self._int(value, event.start_mark)
            if _FLOAT.fullmatch(value):
                return float(value)
            if _INF.fullmatch(value):
                return float("-inf") if value.startswith("-") else float("inf")
            if _NAN.fullmatch(value):
                return float("nan")
            return value
        kind = tag[len(_TAG):]
        try:
            if kind == "null":
                if not _NULL.fullmatch(value):
                    raise ValueError(value)
                return None
            if kind == "bool":
                return _BOOL[value]
            if kind == "int":
                return self._int(value, event.start_mark)
            return float(value)
        except (KeyError, ValueError):
            raise self._fail(f"cannot read {shown(value)} as a {kind}", event.start_mark) from None

    def _int(self, value: str, mark: Any) -> int:
        if len(value) > _MAX_INT_DIGITS:
            raise self._fail(f"cannot read this int value: more than {_MAX_INT_DIGITS} digits", mark)
        if value.startswith("0o"):
            return int(value[2:], 8)
        if value.startswith("0x"):
            return int(value[2:], 16)
        return int(value)

    # -- one event

    def feed(self, event: Any) -> bool:
        """Take one event; True when the first document is complete."""
        import yaml

        mark = event.start_mark
        if isinstance(event, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise self._fail("the file holds more than one YAML document; a spec is exactly one", mark,
                                 "remove the '---' separator or split the file")
            return False
        if isinstance(event, yaml.DocumentEndEvent):
            return False
        if isinstance(event, yaml.StreamStartEvent):
            return False
        if isinstance(event, yaml.StreamEndEvent):
            return True
        if isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            frame = self.stack.pop()
            if frame.anchor is not None:
                self.anchors[frame.anchor] = (frame.container, self.values + self.expanded - frame.start)
                self.open_anchors.discard(frame.anchor)
            return self._place(frame.container, None, None)
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self.open_anchors:
                raise self._fail(f"alias *{shown(event.anchor)[1:-1]} refers to a collection that contains it", mark)
            if event.anchor not in self.anchors:
                raise self._fail(f"found undefined alias *{shown(event.anchor)[1:-1]}", mark,
                                 "define its &anchor before the alias")
            value, size = self.anchors[event.anchor]
            if self._expecting_key():
                raise self._fail("a mapping key may not be an alias", mark, "write the key out")
            self._count(size, mark, alias=True)
            return self._place(value, mark, None)
        if isinstance(event, yaml.ScalarEvent):
            if self._expecting_key():
                return self._key(event)
            value = self._scalar(event)
            self._count(1, mark, alias=False)
            if event.anchor is not None:
                self.anchors[event.anchor] = (value, 1)
            return self._place(value, mark, None)
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            if self._expecting_key():
                raise self._fail("a key is a collection, not a string", mark, "quote it: keys in a spec are strings",
                                 path=self.stack[-1].path)
            is_map = isinstance(event, yaml.MappingStartEvent)
            self._check_tag(event.tag, _COLLECTION_TAGS | {f"{_TAG}{'map' if is_map else 'seq'}"}, mark)
            if len(self.stack) >= MAX_DEPTH:
                raise self._fail(f"nesting deeper than {MAX_DEPTH} levels", mark)
            self._count(1, mark, alias=False)
            path = self._child_path()
            if self.positions is not None:
                self.positions.setdefault(path, pack(mark))
            container: dict[str, Any] | list[Any] = {} if is_map else []
            self.stack.append(_Frame(container, path, self.values + self.expanded - 1, event.anchor))
            if event.anchor is not None:
                self.open_anchors.add(event.anchor)
            return False
        raise self._fail(f"unexpected YAML event {type(event).__name__}", mark)

    def _expecting_key(self) -> bool:
        return bool(self.stack) and isinstance(self.stack[-1].container, dict) and self.stack[-1].key is None

    def _child_path(self) -> PathKey:
        if not self.stack:
            return ()
        frame = self.stack[-1]
        if isinstance(frame.container, dict):
            assert frame.key_path is not None
            return frame.key_path
        return (*frame.path, len(frame.container))

    def _key(self, event: Any) -> bool:
        frame = self.stack[-1]
        mark = event.start_mark
        if event.tag not in (None, "!", f"{_TAG}str") or (not event.style and event.tag is None and (
                _NULL.fullmatch(event.value) or event.value in _BOOL or _INT10.fullmatch(event.value)
                or _FLOAT.fullmatch(event.value))):
            raise self._fail(f"key {_short(event.value)} is not a string", mark,
                             "quote it: keys in a spec are strings", path=frame.path)
        key: str = event.value
        if _has_surrogate(key):
            raise self._fail(f"key {shown(key)} holds a lone surrogate (an escape such as \\ud800), which is not "
                             "Unicode", mark, path=frame.path)
        assert isinstance(frame.container, dict)
        if key in frame.container:
            name = key if len(key) <= MAX_SHOWN else f"{key[: MAX_SHOWN - 16]}…"
            printable = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in name)
            raise self._fail(f'duplicate key "{printable}"', mark)
        frame.key = key
        frame.key_path = (*frame.path, key)  # one tuple shared by key_positions, positions and the child
        if self.key_positions is not None:
            self.key_positions.setdefault(frame.key_path, pack(mark))
        return False

    def _place(self, value: Any, mark: Any, _unused: None) -> bool:
        if not self.stack:
            self.result = value
            if mark is not None and self.positions is not None:
                self.positions.setdefault((), pack(mark))
            return False
        frame = self.stack[-1]
        if isinstance(frame.container, dict):
            assert frame.key is not None and frame.key_path is not None
            path: PathKey = frame.key_path
            frame.container[frame.key] = value
            frame.key = None
            frame.key_path = None
        else:
            path = (*frame.path, len(frame.container))
            frame.container.append(value)
        if mark is not None and self.positions is not None:
            self.positions.setdefault(path, pack(mark))
        return False
