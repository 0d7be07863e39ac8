"""YAML text → Topology, with every problem located as ``file:line:col field.path``.

ruamel.yaml (round-trip loader, so every node knows its line and column; duplicate keys are an
error) reads the text; a bounded walk copies it into plain Python data while recording where each
value stood (aliases are expanded under a node budget, so a "billion laughs" document fails fast);
pydantic validates the plain data and each of its errors is mapped back to a line.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from aiogen.errors import AiogenError, Location, Problem

if TYPE_CHECKING:
    from pydantic import BaseModel

    from aiogen.spec import Topology

MAX_BYTES = 4 * 1024 * 1024
MAX_NODES = 200_000  # after alias expansion
MAX_DEPTH = 64

PathKey = tuple[str | int, ...]
M = TypeVar("M", bound="BaseModel")


def format_path(path: PathKey) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


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
    name = display or str(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise AiogenError.single(f"{name}: no such file") from None
    except OSError as error:
        raise AiogenError.single(f"{name}: cannot read: {error.strerror}") from None
    if not path.is_file():
        raise AiogenError.single(f"{name}: not a regular file")
    if size > MAX_BYTES:
        raise AiogenError.single(f"{name} is {size} bytes; a spec may be at most {MAX_BYTES}")
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise AiogenError.single(f"{name}: cannot read: {error.strerror}") from None
    return decode(raw, name)


def decode(raw: bytes, name: str) -> str:
    if len(raw) > MAX_BYTES:
        raise AiogenError.single(f"{name} is {len(raw)} bytes; a spec may be at most {MAX_BYTES}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise AiogenError.single(
            f"byte {error.start} is not UTF-8", location=Location(name, line), hint="save the file as UTF-8"
        ) from None
    return text.removeprefix("\ufeff")


def parse_yaml(text: str, *, source: str, base_dir: Path) -> Document:
    """Parse one YAML document into a `Document`. Raises `AiogenError` with a location."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="rt", pure=True)
    yaml.allow_duplicate_keys = False
    try:
        docs = list(yaml.load_all(text))
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        loc = Location(source, mark.line + 1, mark.column + 1) if mark else Location(source)
        what = (error.problem or error.context or "invalid YAML").strip()
        if "duplicate key" in str(error):
            what = "duplicate key " + _duplicate_key_name(str(error))
        raise AiogenError.single(what, location=loc) from None
    except YAMLError as error:
        raise AiogenError.single(f"invalid YAML: {error}", location=Location(source)) from None
    except RecursionError:
        raise AiogenError.single(f"nesting deeper than {MAX_DEPTH} levels", location=Location(source)) from None
    docs = [d for d in docs if d is not None]
    if not docs:
        raise AiogenError.single("the file holds no YAML document", location=Location(source))
    if len(docs) > 1:
        raise AiogenError.single(
            f"the file holds {len(docs)} YAML documents; a spec is exactly one", location=Location(source)
        )
    doc = Document(None, source, base_dir)
    budget = [MAX_NODES]
    doc.data = _plain(docs[0], (), doc, budget, 0, (1, 1))
    return doc


def _duplicate_key_name(message: str) -> str:
    for line in message.splitlines():
        if "found duplicate key" in line:
            start = line.find('"')
            end = line.find('"', start + 1)
            if start >= 0 and end > start:
                return line[start : end + 1]
    return ""


def _plain(node: Any, path: PathKey, doc: Document, budget: list[int], depth: int, pos: tuple[int, int]) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

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
                    f"key {key!r} is not a string", location=Location(doc.source, *kpos), path=format_path(path)
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
    if isinstance(node, Mapping):
        return {str(k): _plain(v, (*path, str(k)), doc, budget, depth + 1, pos) for k, v in node.items()}
    if isinstance(node, bool | int | float) or node is None:
        return node
    if isinstance(node, datetime | date):
        return node
    if isinstance(node, str):
        return str(node)  # drop ruamel's scalar subclasses
    return str(node)


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
        return f"{item.get('input')!r} is not allowed; expected {expected}"
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
