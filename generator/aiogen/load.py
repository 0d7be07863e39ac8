"""YAML text → Topology, with every problem located as ``file:line:col field.path``.

libyaml's event parser (through PyYAML, so every event knows its line and column) reads the text,
and one pass turns the events into plain Python data with aiogen's limits built in: size, nesting
depth, values with aliases counted expanded (a "billion laughs" document fails at its first
over-budget alias), core-schema tags only, duplicate keys refused, plain scalars resolved by the
YAML 1.2 core schema. The pass records where each value stood; pydantic validates the plain data
and each of its errors is mapped back to a line. docs/hardening.md records the limits and why.
(ruamel.yaml, ten to twenty times slower on large fleets, is kept for round-trip editing of specs
by `aiogen rollout advance`.)
"""

from __future__ import annotations

import gc
import os
import re
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from aiogen.errors import AiogenError, Location, Problem

if TYPE_CHECKING:
    from pydantic import BaseModel

    from aiogen.spec import Topology

# Input limits; docs/hardening.md records what was tried and why these. Amplification (aliases)
# and nesting are cut off at the first event over the limit; beyond that, parsing costs time
# linear in the input (libyaml's parser plus one Python step per event, ~3 µs a value), so the
# largest accepted spec (MAX_BYTES, ~10,000 clusters) parses in a few seconds.
MAX_BYTES = 16 * 1024 * 1024  # the spec file (or stdin): about 10,000 clusters written out in full
MAX_NODES = 1_000_000  # values (mapping keys not counted), every alias counted expanded
MAX_DEPTH = 64  # nesting of mappings and sequences (a spec needs fewer than 15)
MAX_SHOWN = 80  # characters of a user's value quoted back in a message

PathKey = tuple[str | int, ...]
M = TypeVar("M", bound="BaseModel")

_SURROGATE = re.compile("[\ud800-\udfff]")  # only a YAML escape can make one; no encoder can write it
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_][-A-Za-z0-9_./@+]*")


def format_path(path: PathKey) -> str:
    """``spec.clusters[1].broker``; a key that is not a plain word is quoted (``roots["a b"]``)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part) and "." not in part[:1] and len(part) <= MAX_SHOWN:
            out += f".{part}" if out else part
        else:
            out += f"[{shown(part)}]"
    return out


def shown(value: Any, limit: int = MAX_SHOWN) -> str:
    """A user's value quoted for a message: repr (one line, control characters escaped), bounded."""
    text = value.isoformat() if isinstance(value, date) else repr(value)
    if len(text) > limit:
        text = f"{text[: limit - 16]}… ({len(text)} chars)"
    return text


@dataclass
class Document:
    """Plain data of one YAML document, and where each of its values stood."""

    data: Any
    source: str  # file name as the user gave it (or "<stdin>")
    base_dir: Path
    # where each value (and each mapping key) starts, packed as line << 24 | column (see `pack`):
    # a 5,000-cluster fleet holds ~700,000 of them, so they are ints, not tuples
    positions: dict[PathKey, int] = field(default_factory=dict)
    key_positions: dict[PathKey, int] = field(default_factory=dict)

    def locate(self, path: PathKey, *, key: bool = False) -> Location:
        """Location of the deepest node on ``path`` that exists (its key with ``key=True``)."""
        if key and path in self.key_positions:
            return Location(self.source, *unpack(self.key_positions[path]))
        for end in range(len(path), -1, -1):
            pos = self.positions.get(path[:end])
            if pos is not None:
                return Location(self.source, *unpack(pos))
        return Location(self.source)

    def problem(self, path: PathKey, message: str, *, hint: str | None = None, warning: bool = False,
                at_key: bool = False) -> Problem:
        return Problem(
            message,
            format_path(path),
            self.locate(path, key=at_key),
            "warning" if warning else "error",
            hint,
        )


def read_text(path: Path, *, display: str | None = None) -> str:
    """The text of a spec file: a bounded read of a regular file, decoded as UTF-8.

    The file is opened first and checked through its descriptor, so a FIFO or a device (or a
    symlink swapped for one) can neither block the read nor make it endless.
    """
    name = display or str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise AiogenError.single(f"{name}: no such file") from None
    except IsADirectoryError:
        raise AiogenError.single(f"{name}: not a regular file (a directory)") from None
    except OSError as error:
        raise AiogenError.single(f"{name}: cannot read: {error.strerror}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise AiogenError.single(f"{name}: not a regular file (a directory)")
        if not stat.S_ISREG(info.st_mode):
            raise AiogenError.single(f"{name}: not a regular file")
        if info.st_size > MAX_BYTES:
            raise AiogenError.single(f"{name} is {info.st_size} bytes; a spec may be at most {MAX_BYTES}")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            raw = handle.read(MAX_BYTES + 1)  # the size may have grown since fstat
    except OSError as error:
        raise AiogenError.single(f"{name}: cannot read: {error.strerror}") from None
    finally:
        os.close(fd)
    return decode(raw, name)


def read_stream(stream: BinaryIO, name: str = "<stdin>") -> str:
    """The text of a spec (or any YAML input) on a stream, under the same limits as a file."""
    try:
        raw = stream.read(MAX_BYTES + 1)
    except OSError as error:
        raise AiogenError.single(f"{name}: cannot read: {error.strerror}") from None
    if len(raw) > MAX_BYTES:
        raise AiogenError.single(f"{name} is over {MAX_BYTES} bytes; a spec may be at most {MAX_BYTES}")
    return decode(raw, name)


_UTF16_32_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"),
)


def decode(raw: bytes, name: str) -> str:
    """UTF-8 text without its byte order mark; anything else is a located error."""
    if len(raw) > MAX_BYTES:
        raise AiogenError.single(f"{name} is {len(raw)} bytes; a spec may be at most {MAX_BYTES}")
    for bom, encoding in _UTF16_32_BOMS:
        if raw.startswith(bom):
            raise AiogenError.single(
                f"the file is {encoding}, not UTF-8", location=Location(name, 1, 1), hint="save the file as UTF-8"
            )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        column = len(raw[raw.rfind(b"\n", 0, error.start) + 1 : error.start].decode("utf-8", "replace")) + 1
        raise AiogenError.single(
            f"byte {error.start} (0x{raw[error.start]:02x}) is not UTF-8",
            location=Location(name, line, column),
            hint="save the file as UTF-8",
        ) from None
    return text.removeprefix("\ufeff")


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
    doc = Document(None, source, base_dir)
    builder = _Builder(doc)
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


def pack(mark: Any) -> int:
    """A parser mark as one int: 1-based line << 24 | 1-based column (columns capped at 2**24 - 1)."""
    line: int = mark.line + 1
    column: int = min(mark.column + 1, (1 << 24) - 1)
    return line << 24 | column


def unpack(position: int) -> tuple[int, int]:
    return position >> 24, position & ((1 << 24) - 1)


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

    def __init__(self, doc: Document) -> None:
        self.doc = doc
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
        if _SURROGATE.search(value):
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
            self.doc.positions.setdefault(path, pack(mark))
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
        if _SURROGATE.search(key):
            raise self._fail(f"key {shown(key)} holds a lone surrogate (an escape such as \\ud800), which is not "
                             "Unicode", mark, path=frame.path)
        assert isinstance(frame.container, dict)
        if key in frame.container:
            name = key if len(key) <= MAX_SHOWN else f"{key[: MAX_SHOWN - 16]}…"
            printable = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in name)
            raise self._fail(f'duplicate key "{printable}"', mark)
        frame.key = key
        frame.key_path = (*frame.path, key)  # one tuple shared by key_positions, positions and the child
        self.doc.key_positions.setdefault(frame.key_path, pack(mark))
        return False

    def _place(self, value: Any, mark: Any, _unused: None) -> bool:
        if not self.stack:
            self.result = value
            if mark is not None:
                self.doc.positions.setdefault((), pack(mark))
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
        if mark is not None:
            self.doc.positions.setdefault(path, pack(mark))
        return False


def validate_model(model: type[M], doc: Document, *, root: PathKey = ()) -> M:
    """Validate ``doc.data`` (or the part at ``root``) against a pydantic model, located errors."""
    from pydantic import ValidationError

    data = doc.data
    for part in root:
        data = data[part]
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = sorted(_problems(error, doc, data, root), key=_reading_order)  # as the file reads
        raise AiogenError(tuple(problems)) from None


def _reading_order(problem: Problem) -> tuple[int, int]:
    where = problem.location
    return (where.line or 0, where.column or 0) if where else (0, 0)


def _problems(error: Any, doc: Document, data: Any, root: PathKey) -> Iterator[Problem]:
    seen: set[tuple[PathKey, str]] = set()
    entries = []
    for item in error.errors(include_url=False):
        path, value_kind = _data_path(data, item["loc"])
        entries.append((root + path, item, value_kind))
    # A union (root: name | inline root) reports every branch; keep the branch matching the data.
    paths_with_model_errors = {p for p, it, _ in entries if it["type"] not in {"string_type"}}
    for path, item, value_kind in entries:
        if item["type"] == "string_type" and value_kind in {"dict", "list"} and any(
            p[: len(path)] == path for p in paths_with_model_errors
        ):
            continue
        message = _message(item, value_kind)
        key = (path, message)
        if key in seen:
            continue
        seen.add(key)
        yield doc.problem(path, message, at_key=item["type"] == "extra_forbidden")


def _data_path(data: Any, loc: tuple[Any, ...]) -> tuple[PathKey, str]:
    """Map a pydantic ``loc`` onto real keys/indices of the data, skipping union branch tags."""
    path: list[str | int] = []
    node = data
    for part in loc:
        in_dict = isinstance(node, dict) and isinstance(part, str) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            path.append(part)
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and not _is_branch_tag(part):
            path.append(part)  # a missing or extra field: still name it
            node = None
        # else: a union branch tag such as 'str' or 'InlineRoot', or a function-after tag
    kind = type(node).__name__
    return tuple(path), kind


def _is_branch_tag(part: str) -> bool:
    return part[:1].isupper() or part in {"str", "int", "bool", "float", "list", "dict", "none"} or "[" in part


def _message(item: Mapping[str, Any], value_kind: str) -> str:
    kind = item["type"]
    msg: str = item["msg"]
    if kind == "extra_forbidden":
        return "unknown field (check its spelling against schemas/topology.schema.json)"
    if kind == "missing":
        return "required field is missing"
    if kind == "literal_error":
        expected = item.get("ctx", {}).get("expected", "")
        return f"{shown(item.get('input'))} is not allowed; expected {expected}"
    if kind in {"int_type", "string_type", "bool_type", "dict_type", "list_type", "model_type", "float_type"}:
        wanted = {
            "int_type": "an integer",
            "string_type": "a string",
            "bool_type": "true or false",
            "dict_type": "a mapping",
            "model_type": "a mapping",
            "list_type": "a list",
            "float_type": "a number",
        }[kind]
        got = {"dict": "a mapping", "list": "a list", "str": "a string", "int": "an integer", "bool": "a boolean",
               "NoneType": "empty (null)", "float": "a number"}.get(value_kind, value_kind)
        return f"must be {wanted}, not {got}"
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if kind == "too_short" and "min_length" in item.get("ctx", {}):
        least = item["ctx"]["min_length"]
        return f"must hold at least {least} item{'s' if least != 1 else ''}"
    if kind in {"too_short", "too_long"}:
        return msg.replace("List", "list")
    return msg


def load_topology(path: Path, *, display: str | None = None) -> tuple[Topology, Document]:
    """Read and validate a spec file."""

    name = display or str(path)
    text = read_text(path, display=name)
    doc = parse_yaml(text, source=name, base_dir=path.resolve().parent)
    return topology_from_document(doc), doc


def topology_from_document(doc: Document) -> Topology:
    from aiogen.spec import Topology

    if not isinstance(doc.data, dict):
        raise AiogenError.single("a spec must be a YAML mapping (apiVersion, kind, metadata, spec)",
                                 location=doc.locate(()))
    return validate_model(Topology, doc)
