"""Plain data of a `Document` → a pydantic model, every validation error located in the file.

The Topology is validated by the validator built ahead of time when it is current
(`aiogen.model.spec_compiled`: pydantic is not imported); a spec it refuses, or any spec when it
is not current, is validated by the pydantic models, whose errors are the ones reported.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from aiogen.model.problems import AiogenError, Problem
from aiogen.yamlio.document import Document, PathKey, shown

if TYPE_CHECKING:
    from pydantic import BaseModel

    from aiogen.model.spec import Topology

    M = TypeVar("M", bound=BaseModel)
else:
    M = TypeVar("M")  # the bound is for the type checker: at run time a string one compiles code (typing.ForwardRef)


def validate_topology(doc: Document) -> Topology:
    """The Topology of ``doc``: plain spec objects from the compiled validator when it is current and
    the spec valid; otherwise the pydantic models (located errors, as `validate_model`)."""
    from aiogen.model.spec_compiled import load

    compiled = load()
    if compiled is not None:
        try:
            topology: Topology = compiled.validate(doc.data)
        except compiled.error:
            pass  # the models say what is wrong, every message and location as they always have
        else:
            return topology
    from aiogen.model.spec import Topology

    return validate_model(Topology, doc)


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


def refuse_private_keys(doc: Document) -> None:
    """A spec names key material (Key Vault, a Secret), never holds it: refuse a private key in any
    value or key of the document, located, without quoting it."""
    from aiogen.output.keyscan import der_private_key_kind, find_private_key

    texts = [text for text in _texts(doc.data) if len(text) >= _SHORTEST_KEY_MARKER]
    # one scan of every value at once (NUL-separated: no match spans two values), then the culprits;
    # a DER key is recognised only at the start of its value, so those are looked at one by one
    if not find_private_key("\0".join(texts)) and not any(
        text[:1] == "0" and der_private_key_kind(text.encode("utf-8", "surrogateescape")) for text in texts
    ):
        return
    problems: list[Problem] = []
    for path, text, is_key in _strings(doc.data, ()):
        found = find_private_key(text) if len(text) >= _SHORTEST_KEY_MARKER else None
        if found:
            problems.append(doc.problem(
                path, f"holds a {found}; a spec names key material (keyVault, secret), never holds it",
                hint="remove it, and keep the key in Azure Key Vault or a Kubernetes Secret", at_key=is_key,
            ))
    if problems:
        raise AiogenError(tuple(problems))


# the shortest text `find_private_key` can match: base64 of "PRIVATE KEY-----" (21 characters)
_SHORTEST_KEY_MARKER = 16


def _texts(data: Any) -> list[str]:
    """Every string value and mapping key of ``data`` (no paths: the fast first pass)."""
    out: list[str] = []
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, dict):
            out.extend(key for key in node if isinstance(key, str))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return out


def _strings(node: Any, path: PathKey) -> Iterator[tuple[PathKey, str, bool]]:
    if isinstance(node, str):
        yield path, node, False
    elif isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str):
                yield (*path, key), key, True
            yield from _strings(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, (*path, index))
