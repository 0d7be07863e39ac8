"""YAML text → Topology, with every problem located as ``file:line:col field.path``.

ruamel.yaml (round-trip loader, so every node knows its line and column; duplicate keys are an
error) reads the text, with aiogen's limits built into its scanner, composer and constructor:
size, nesting depth, values with aliases counted expanded (a "billion laughs" document fails in
milliseconds), core-schema tags only. A walk copies the result into plain Python data while
recording where each value stood; pydantic validates the plain data and each of its errors is
mapped back to a line. docs/hardening.md records the limits and why.
"""

from __future__ import annotations

import gc
import os
import re
import stat
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from aiogen.errors import AiogenError, Location, Problem

if TYPE_CHECKING:
    from pydantic import BaseModel

    from aiogen.spec import Topology

# Input limits; docs/hardening.md records what was tried and why these. Amplification (aliases,
# merge keys) and the parser's quadratic corner (deep flow nesting) are cut off in milliseconds;
# beyond that, parsing costs time linear in the input (ruamel's pure-Python parser, ~50-100 µs a
# value), and MAX_NODES caps that at a few seconds: the cost of a ~2,000-cluster fleet.
MAX_BYTES = 4 * 1024 * 1024  # the spec file (or stdin)
MAX_NODES = 100_000  # values (mapping keys not counted), every alias counted expanded
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
    positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)  # where each value starts
    key_positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)  # where each mapping key starts

    def locate(self, path: PathKey, *, key: bool = False) -> Location:
        """Location of the deepest node on ``path`` that exists (its key with ``key=True``)."""
        if key and path in self.key_positions:
            line, column = self.key_positions[path]
            return Location(self.source, line, column)
        for end in range(len(path), -1, -1):
            pos = self.positions.get(path[:end])
            if pos is not None:
                return Location(self.source, pos[0], pos[1])
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

    The parser is bounded before it can be slow: flow nesting is capped in the scanner (whose
    simple-key bookkeeping is quadratic in it), block nesting and the node count (aliases
    expanded) in the composer, so neither a "billion laughs" document nor ``[[[[...`` costs more
    than milliseconds. Tags other than the core schema's are refused, and a scalar the
    constructor cannot turn into a value (a 5,000-digit integer) is a located error.
    """
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    from ruamel.yaml.reader import ReaderError

    if len(text) > MAX_BYTES:
        raise AiogenError.single(f"{source} is {len(text)} characters; a spec may be at most {MAX_BYTES}")
    yaml = _bounded_yaml()
    docs: list[Any] = []
    paused = gc.isenabled()
    gc.disable()  # ruamel allocates many small objects; collections make a large parse superlinear
    try:
        for loaded in yaml.load_all(text):
            if loaded is not None:
                docs.append(loaded)
            if len(docs) > 1:
                break
    except MarkedYAMLError as error:
        raise AiogenError.single(_yaml_message(error), location=_mark_location(error, source),
                                 hint=_yaml_hint(error)) from None
    except ReaderError as error:
        raise AiogenError.single(
            f"character U+{error.character:04X} is not allowed in YAML" if isinstance(error.character, int)
            else "the text is not valid YAML input",
            location=_offset_location(text, error.position, source),
            hint="remove control characters; write them as escapes in a double-quoted string",
        ) from None
    except YAMLError as error:
        raise AiogenError.single(f"invalid YAML: {_one_line(str(error))}", location=Location(source)) from None
    except RecursionError:
        raise AiogenError.single(f"nesting deeper than {MAX_DEPTH} levels", location=Location(source)) from None
    finally:
        if paused:
            gc.enable()
    if not docs:
        raise AiogenError.single("the file holds no YAML document", location=Location(source))
    if len(docs) > 1:
        raise AiogenError.single(
            "the file holds more than one YAML document; a spec is exactly one", location=Location(source),
            hint="remove the '---' separator or split the file",
        )
    doc = Document(None, source, base_dir)
    budget = [MAX_NODES]
    doc.data = _plain(docs[0], (), doc, budget, 0, (1, 1))
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


def _yaml_message(error: Any) -> str:
    what = _one_line(error.problem or error.context or "invalid YAML")
    if "duplicate key" in str(error):
        return "duplicate key " + _duplicate_key_name(str(error))
    return what


def _yaml_hint(error: Any) -> str | None:
    if "'\\t'" in (error.problem or "") or "'\\t'" in (error.context or ""):
        return "YAML indents with spaces; replace the tab"
    return None


def _duplicate_key_name(message: str) -> str:
    found = re.search(r'found duplicate key "(.*?)"( with value|$)', message, re.MULTILINE)
    if not found:
        return ""
    name = found.group(1)
    if len(name) > MAX_SHOWN:
        name = f"{name[: MAX_SHOWN - 16]}…"
    return '"' + "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in name) + '"'



# The explicit tags a spec may carry: the YAML 1.2 core schema. Anything else (!!python/object,
# !!binary, !!set, local !tags) would be a value pydantic never expects, so it is refused.
_CORE_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "seq", "map")
)
_YAML_FACTORY: Any = None


def _bounded_yaml() -> Any:
    """A ruamel round-trip loader with aiogen's limits built into its scanner, composer and constructor."""
    global _YAML_FACTORY
    if _YAML_FACTORY is None:
        _YAML_FACTORY = _define_bounded_yaml()
    return _YAML_FACTORY()


def _define_bounded_yaml() -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.composer import Composer, ComposerError
    from ruamel.yaml.constructor import ConstructorError, RoundTripConstructor
    from ruamel.yaml.error import YAMLError
    from ruamel.yaml.events import AliasEvent
    from ruamel.yaml.nodes import MappingNode
    from ruamel.yaml.scanner import RoundTripScanner, ScannerError

    class BoundedScanner(RoundTripScanner):
        def fetch_flow_collection_start(self, token_class: Any, to_push: str) -> None:
            if self.flow_level >= MAX_DEPTH:
                raise ScannerError(None, None, f"nesting deeper than {MAX_DEPTH} levels", self.reader.get_mark())
            super().fetch_flow_collection_start(token_class, to_push)

    class BoundedComposer(Composer):
        """Counts nodes with aliases expanded (an alias costs the size of what it names)."""

        def __init__(self, loader: Any = None) -> None:
            super().__init__(loader=loader)
            self.aiogen_nodes = 0
            self.aiogen_depth = 0
            self.aiogen_sizes: dict[int, int] = {}

        def compose_document(self) -> Any:
            self.aiogen_sizes = {}
            return super().compose_document()

        def _count(self, size: int, mark: Any) -> None:
            self.aiogen_nodes += size
            if self.aiogen_nodes > MAX_NODES:
                raise ComposerError(
                    None, None,
                    f"the document holds more than {MAX_NODES} values (YAML aliases counted expanded)",
                    mark,
                )

        def compose_node(self, parent: Any, index: Any) -> Any:
            event = self.parser.peek_event()
            if isinstance(event, AliasEvent):
                node = super().compose_node(parent, index)
                size = self.aiogen_sizes.get(id(node))
                if size is None:
                    raise ComposerError(
                        None, None, f"alias *{event.anchor} refers to a collection that contains it", event.start_mark
                    )
                self._count(size, event.start_mark)
                return node
            tag = getattr(event, "ctag", None)
            if tag is not None and str(tag) != "!" and str(tag) not in _CORE_TAGS:
                spelled = f"{tag.handle}{tag.suffix}" if tag.handle else str(tag)
                raise ComposerError(
                    None, None,
                    f"YAML tag {shown(spelled)} is not supported; a spec is plain YAML "
                    "(mappings, lists, strings, numbers, booleans)",
                    event.start_mark,
                )
            self.aiogen_depth += 1
            if self.aiogen_depth > MAX_DEPTH:
                raise ComposerError(None, None, f"nesting deeper than {MAX_DEPTH} levels", event.start_mark)
            before = self.aiogen_nodes
            if index is not None or not isinstance(parent, MappingNode):  # a value, not a mapping key
                self._count(1, event.start_mark)
            node = super().compose_node(parent, index)
            self.aiogen_depth -= 1
            if event.anchor is not None:
                self.aiogen_sizes[id(node)] = self.aiogen_nodes - before
            return node

    class BoundedConstructor(RoundTripConstructor):
        def construct_non_recursive_object(self, node: Any, tag: Any = None) -> Any:
            try:
                return super().construct_non_recursive_object(node, tag)
            except YAMLError:
                raise
            except (ValueError, TypeError, OverflowError, ArithmeticError) as error:
                kind = str(node.tag).rsplit(":", 1)[-1]
                reason = _one_line(str(error))
                if "Exceeds the limit" in reason:  # Python's int_max_str_digits
                    reason = f"more than {sys.get_int_max_str_digits()} digits"
                raise ConstructorError(
                    None, None, f"cannot read this {kind} value: {reason[: MAX_SHOWN * 2]}", node.start_mark
                ) from None

    def factory() -> Any:
        yaml = YAML(typ="rt", pure=True)
        yaml.allow_duplicate_keys = False
        yaml.Scanner = BoundedScanner
        yaml.Composer = BoundedComposer
        yaml.Constructor = BoundedConstructor
        return yaml

    return factory


def _plain(node: Any, path: PathKey, doc: Document, budget: list[int], depth: int, pos: tuple[int, int]) -> Any:
    """Copy ruamel's data into plain dicts, lists and scalars, recording where each value stood.

    The composer has already bounded depth and size; the walk checks both again because it follows
    what the constructor built (merge keys included), not the text.
    """
    from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
    from ruamel.yaml.scalarbool import ScalarBoolean

    budget[0] -= 1
    if budget[0] < 0:
        raise AiogenError.single(
            f"the document expands to more than {MAX_NODES} values (YAML aliases?)",
            location=doc.locate(path),
            hint="aiogen bounds alias expansion; write the values out",
        )
    if depth > MAX_DEPTH:
        raise AiogenError.single(f"nesting deeper than {MAX_DEPTH} levels", location=doc.locate(path))
    doc.positions.setdefault(path, pos)
    if isinstance(node, CommentedMap):
        out: dict[str, Any] = {}
        for key, value in node.items():
            kpos = _key_pos(node, key, pos)
            if not isinstance(key, str):
                raise AiogenError.single(
                    f"key {shown(key)} is not a string",
                    location=Location(doc.source, *kpos),
                    path=format_path(path),
                    hint="quote it: keys in a spec are strings",
                )
            key = str(key)  # drop ruamel's scalar subclasses
            if _SURROGATE.search(key):
                raise AiogenError.single(
                    f"key {shown(key)} holds a lone surrogate (an escape such as \\ud800), which is not Unicode",
                    location=Location(doc.source, *kpos), path=format_path(path),
                )
            vpos = _value_pos(node, key, kpos)
            doc.key_positions.setdefault((*path, key), kpos)
            out[key] = _plain(value, (*path, key), doc, budget, depth + 1, vpos)
        return out
    if isinstance(node, CommentedSeq):
        items: list[Any] = []
        for index, value in enumerate(node):
            ipos = _item_pos(node, index, pos)
            items.append(_plain(value, (*path, index), doc, budget, depth + 1, ipos))
        return items
    if isinstance(node, Mapping | list | tuple | set):  # only a tag could make one; the composer refuses those
        raise AiogenError.single("unsupported YAML collection", location=doc.locate(path), path=format_path(path))
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, ScalarBoolean):  # an anchored boolean: ruamel keeps it as an int subclass
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, datetime | date):
        return node
    if isinstance(node, TaggedScalar) and str(node.tag) == "tag:yaml.org,2002:str":  # `!!str 8883`
        node = node.value
    if isinstance(node, str):
        if _SURROGATE.search(node):
            raise AiogenError.single(
                "holds a lone surrogate (an escape such as \\ud800), which is not Unicode",
                location=doc.locate(path), path=format_path(path),
            )
        return str(node)
    raise AiogenError.single(
        f"unsupported YAML value of type {type(node).__name__}", location=doc.locate(path), path=format_path(path)
    )


def _key_pos(node: Any, key: Any, fallback: tuple[int, int]) -> tuple[int, int]:
    try:
        line, col = node.lc.key(key)
        return line + 1, col + 1
    except Exception:
        return fallback


def _value_pos(node: Any, key: Any, fallback: tuple[int, int]) -> tuple[int, int]:
    try:
        line, col = node.lc.value(key)
        return line + 1, col + 1
    except Exception:
        return fallback


def _item_pos(node: Any, index: int, fallback: tuple[int, int]) -> tuple[int, int]:
    try:
        line, col = node.lc.item(index)
        return line + 1, col + 1
    except Exception:
        return fallback


def validate_model(model: type[M], doc: Document, *, root: PathKey = ()) -> M:
    """Validate ``doc.data`` (or the part at ``root``) against a pydantic model, located errors."""
    from pydantic import ValidationError

    data = doc.data
    for part in root:
        data = data[part]
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = list(_problems(error, doc, data, root))
        raise AiogenError(tuple(problems)) from None


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
