"""What does a spec field mean? Its documentation, read from the shipped JSON Schema.

``spec.clusters.broker.listeners`` names a field the way ``kubectl explain`` does: list items and
map values are implicit (``spec.clusters[0]`` and ``spec.roots.<name>`` work too), ``$ref``s are
followed, and a name that does not exist is refused with the closest field it may have meant.
The schema is `schemas/topology.schema.json` (generated from the models by `aiogen schema`).
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from aiogen.model.problems import AiogenError

Schema = dict[str, Any]
_INDEX = re.compile(r"\[[^\]]*\]")
_NO_DEFAULT = object()


@dataclass(frozen=True)
class Child:
    name: str
    type: str
    required: bool
    summary: str  # the first sentence of its description


@dataclass(frozen=True)
class FieldDoc:
    path: str
    type: str
    required: bool
    default: object  # _NO_DEFAULT when the schema names none
    allowed: tuple[str, ...]
    constraints: tuple[str, ...]
    description: str
    children: tuple[Child, ...]

    @property
    def has_default(self) -> bool:
        return self.default is not _NO_DEFAULT


def load_schema() -> Schema:
    text = resources.files("aiogen").joinpath("schemas/topology.schema.json").read_text(encoding="utf-8")
    schema: Schema = json.loads(text)
    return schema


def explain(schema: Schema, path: str) -> FieldDoc:
    """The documentation of the field at ``path`` (``""``: the whole spec)."""
    segments = [s for s in _INDEX.sub("", path.strip()).split(".") if s]
    node, required = schema, True
    walked: list[str] = []
    for segment in segments:
        container = _container(schema, node)
        properties = container.get("properties", {})
        if segment in properties:
            node = properties[segment]
            required = segment in container.get("required", ())
        elif _is_map(schema, node):  # a map key such as spec.roots.<name>
            node = _target(schema, node)["additionalProperties"]
            required = False
        else:
            raise _unknown(walked, segment, container)
        walked.append(segment)
    return _document(schema, ".".join(walked), node, required)


def field_paths(schema: Schema) -> list[str]:
    """Every field path `explain` accepts, list items and map values implicit, in schema order
    (what shell completion offers after ``aiogen explain``)."""
    paths: list[str] = []

    def walk(node: Schema, prefix: str, seen: frozenset[int]) -> None:
        container = _container(schema, node)
        if id(container) in seen:  # a recursive definition: its fields are listed once, above
            return
        for name, child in container.get("properties", {}).items():
            path = f"{prefix}.{name}" if prefix else name
            paths.append(path)
            walk(child, path, seen | {id(container)})

    walk(schema, "", frozenset())
    return paths


def _unknown(walked: list[str], segment: str, container: Schema) -> AiogenError:
    names = list(container.get("properties", {}))
    where = ".".join(walked) or "the spec"
    if not names:
        return AiogenError.single(f"{'.'.join([*walked, segment])}: {where} has no fields (it is a "
                                  f"{_type_name(container)})", hint="see `aiogen explain " + ".".join(walked) + "`")
    close = difflib.get_close_matches(segment, names, n=1, cutoff=0.5) or [
        n for n in names if n.lower() == segment.lower()]
    hint = f"did you mean {'.'.join([*walked, close[0]])}?" if close else f"fields of {where}: {', '.join(names)}"
    return AiogenError.single(f"{'.'.join([*walked, segment])}: no such field in {where}", hint=hint)


def _deref(schema: Schema, node: Schema) -> Schema:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = schema["$defs"][name]
    return node


def _target(schema: Schema, node: Schema) -> Schema:
    """The schema a value must match, with ``$ref`` followed and ``anyOf [X, null]`` read as X."""
    node = _deref(schema, node)
    branches = [b for b in node.get("anyOf", ()) if _deref(schema, b).get("type") != "null"]
    if len(branches) == 1:
        return _deref(schema, branches[0])
    return node


def _is_map(schema: Schema, node: Schema) -> bool:
    return isinstance(_target(schema, node).get("additionalProperties"), dict)


def _container(schema: Schema, node: Schema) -> Schema:
    """The object whose fields come next: list items and map values are implicit."""
    target = _target(schema, node)
    while True:
        if target.get("type") == "array" and "items" in target:
            target = _target(schema, target["items"])
        elif isinstance(target.get("additionalProperties"), dict) and not target.get("properties"):
            target = _target(schema, target["additionalProperties"])
        else:
            return target


def _type_name(node: Schema, schema: Schema | None = None) -> str:
    if "$ref" in node:
        return str(node["$ref"].rsplit("/", 1)[-1])
    if "anyOf" in node:
        names = [_type_name(b, schema) for b in node["anyOf"] if b.get("type") != "null"]
        nullable = any(b.get("type") == "null" for b in node["anyOf"])
        return " | ".join(names) + (" (or null)" if nullable else "")
    kind = node.get("type")
    if kind == "array":
        return "[]" + _type_name(node.get("items", {}), schema)
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        return "map[string]" + _type_name(node["additionalProperties"], schema)
    if kind == "object":
        return str(node.get("title", "object"))
    return str(kind or "any")


def _allowed(schema: Schema, node: Schema) -> tuple[str, ...]:
    for candidate in (node, _target(schema, node)):
        if "enum" in candidate:
            return tuple(str(v) for v in candidate["enum"])
        if "const" in candidate:
            return (str(candidate["const"]),)
    return ()


_BOUNDS = (("minimum", "at least {}"), ("maximum", "at most {}"), ("minLength", "at least {} characters"),
           ("maxLength", "at most {} characters"), ("minItems", "at least {} item(s)"), ("pattern", "matches {}"))


def _constraints(schema: Schema, node: Schema) -> tuple[str, ...]:
    target = _target(schema, node)
    sources = [node, target, *(b for b in node.get("anyOf", ()) if b.get("type") != "null")]
    found: dict[str, str] = {}
    for source in sources:
        for key, text in _BOUNDS:
            if key in source and key not in found:
                found[key] = text.format(source[key])
    return tuple(found.values())


def _description(schema: Schema, node: Schema) -> str:
    return str(node.get("description") or _target(schema, node).get("description") or "")


def _summary(text: str) -> str:
    first = " ".join(text.split())
    end = first.find(". ")
    return first if end < 0 else first[: end + 1]


def _document(schema: Schema, path: str, node: Schema, required: bool) -> FieldDoc:
    container = _container(schema, node)
    required_children = set(container.get("required", ()))
    children = tuple(
        Child(name, _type_name(child, schema), name in required_children, _summary(_description(schema, child)))
        for name, child in container.get("properties", {}).items())
    return FieldDoc(
        path=path or "(the spec)", type=_type_name(node, schema) if path else "Topology", required=required,
        default=node.get("default", _NO_DEFAULT), allowed=_allowed(schema, node),
        constraints=_constraints(schema, node), description=_description(schema, node), children=children)


def format_field(doc: FieldDoc) -> str:
    """The text `aiogen explain` prints, laid out as `kubectl explain` does."""
    lines = [f"FIELD:    {doc.path} <{doc.type}>{' -required-' if doc.required and doc.path != '(the spec)' else ''}"]
    if doc.has_default:
        lines.append(f"DEFAULT:  {json.dumps(doc.default, separators=(', ', ': '))}")
    if doc.allowed:
        lines.append(f"ALLOWED:  {', '.join(doc.allowed)}")
    if doc.constraints:
        lines.append(f"MUST BE:  {'; '.join(doc.constraints)}")
    lines += ["", "DESCRIPTION:"]
    lines += [f"    {line}" for line in (doc.description or "(no description)").splitlines()]
    if doc.children:
        lines += ["", "FIELDS:"]
        for child in doc.children:
            lines.append(f"  {child.name}\t<{child.type}>{' -required-' if child.required else ''}")
            if child.summary:
                lines.append(f"    {child.summary}")
    return "\n".join(lines) + "\n"
