"""Where a function config came from: its own file, found again so that messages carry file:line:col.

kustomize and kpt pass the config object without its text. aiogen looks for it where the tool
says it is (kpt fn render's path annotation) or where the kustomization lists it (its
``generators:``/``transformers:`` entries), and parses that file with the spec parser. Files that
cannot be read, parsed or constructed are passed over: finding the source is best effort. Only
files inside the base directory are candidates: an annotation or entry naming ``../`` or an
absolute path could otherwise make another file's object the config.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiogen.krm.resourcelist import PATH_ANNOTATIONS, UnreadableValue, loader
from aiogen.model.problems import AiogenError

if TYPE_CHECKING:
    from aiogen.krm.config import Ref
    from aiogen.yamlio.document import Document

INDEX_ANNOTATIONS = ("internal.config.kubernetes.io/index", "config.kubernetes.io/index")
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_MAX_INDEX_DIGITS = 6  # a document index in one file


def config_document(config: Mapping[str, Any], ref: Ref, base_dir: Path, hints: Sequence[Path]) -> Document:
    """The config as a located `Document`: parsed from its own file when that can be found (so
    messages carry file:line:col), else from the object the orchestrator passed (file only)."""
    from aiogen.yamlio.parse import parse_yaml

    found = _find_source(config, ref, base_dir, hints)
    if found is not None:
        display, text = found
        return parse_yaml(text, source=display, base_dir=base_dir)
    import yaml

    text = yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True)
    source = f"functionConfig {ref.kind}/{ref.name}" if ref.name else "functionConfig"
    doc = parse_yaml(text, source=source, base_dir=base_dir)
    doc.positions.clear()  # they would point into text the user never saw
    return doc


def mapping(value: Any, key: str) -> Mapping[str, Any]:
    """value[key] when both are mappings, else an empty mapping."""
    inner = value.get(key) if isinstance(value, Mapping) else None
    return inner if isinstance(inner, Mapping) else {}


def _find_source(config: Mapping[str, Any], ref: Ref, base_dir: Path,
                 hints: Sequence[Path]) -> tuple[str, str] | None:
    annotations = mapping(mapping(config, "metadata"), "annotations")
    candidates: list[tuple[Path, str, int | None]] = []
    relative = next((annotations[a] for a in PATH_ANNOTATIONS if isinstance(annotations.get(a), str)), None)
    if relative:  # kpt fn render: the config's file inside the package
        index = next((annotations[a] for a in INDEX_ANNOTATIONS if isinstance(annotations.get(a), str)), None)
        candidates.append((base_dir / relative, relative, _index(index)))
    for kustomization in hints:  # kustomize: the generators/transformers entries of the kustomization
        candidates.extend((base_dir / entry, entry, None) for entry in _function_entries(kustomization))
    for path, display, number in candidates:
        if not _inside(path, base_dir):
            continue  # `../x.yaml` or `/etc/x` in an annotation or entry: never read, never the config
        text = read_small(path)
        if text is None:
            continue
        for position, (start, segment) in enumerate(_documents(text)):
            if number is not None and position != number:
                continue
            if _same_object(segment, ref):
                return display, "\n" * start + segment  # padding keeps line numbers true
    return None


def _inside(path: Path, base_dir: Path) -> bool:
    """Is ``path`` (links resolved) inside ``base_dir``? The config's file is: kpt names it relative
    to the package, and kustomize loads generator files from under the kustomization's root."""
    try:
        return path.resolve().is_relative_to(base_dir.resolve())
    except (OSError, ValueError, RuntimeError):
        return False


def _index(index: str | None) -> int | None:
    """kpt's document index annotation; anything but a small decimal number is ignored."""
    if index and index.isascii() and index.isdigit() and len(index) <= _MAX_INDEX_DIGITS:
        return int(index)
    return None


def kustomization(directory: Path) -> list[Path]:
    return [directory / name for name in KUSTOMIZATION_FILES if (directory / name).is_file()][:1]


def _function_entries(kustomization: Path) -> Iterator[str]:
    """The kustomization's generators and transformers, read by the spec parser (YAML 1.2 core:
    an odd value elsewhere in the file, such as ``2025-02-30``, stays a string)."""
    from aiogen.yamlio.parse import parse_yaml

    text = read_small(kustomization)
    try:
        data = parse_yaml(text, source=str(kustomization), base_dir=kustomization.parent).data if text else None
    except AiogenError:
        return
    if not isinstance(data, Mapping):
        return
    for key in ("generators", "transformers"):
        entries = data.get(key)
        for entry in entries if isinstance(entries, list) else ():
            if isinstance(entry, str) and "\n" not in entry and "://" not in entry:
                yield entry


def read_small(path: Path) -> str | None:
    """A file's text when it is a regular file of at most a spec's size, else None."""
    from aiogen.yamlio.document import MAX_BYTES

    try:
        if not path.is_file() or path.stat().st_size > MAX_BYTES:
            return None
        return path.read_text(encoding="utf-8").removeprefix("\ufeff")
    except (OSError, UnicodeDecodeError):
        return None


def load_small(path: Path) -> Any:
    """A small YAML file as plain data; None when it cannot be read, parsed or constructed."""
    text = read_small(path)
    return load_text(text) if text is not None else None


def load_text(text: str) -> Any:
    """YAML text as plain data (PyYAML's safe loader); None when it cannot be parsed or constructed."""
    import yaml

    try:
        return yaml.load(text, Loader=loader())
    except (yaml.YAMLError, UnreadableValue):
        return None


_DOCUMENT_START = re.compile(r"^---[ \t]*(#.*)?$")


def _documents(text: str) -> Iterator[tuple[int, str]]:
    """(first line index, text) of each YAML document, split at bare ``---`` lines."""
    lines = text.splitlines(keepends=True)
    start = 0
    for number, line in enumerate(lines):
        if _DOCUMENT_START.match(line.rstrip("\r\n")):
            if number > start:
                yield start, "".join(lines[start:number])
            start = number + 1
    if start < len(lines):
        yield start, "".join(lines[start:])


def _same_object(segment: str, ref: Ref) -> bool:
    data = load_text(segment)
    if not isinstance(data, Mapping):
        return False
    metadata = data.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return (data.get("apiVersion"), data.get("kind"), str(name or "")) == (ref.api_version, ref.kind, ref.name)
