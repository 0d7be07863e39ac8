"""The ResourceList: what a KRM function reads and writes (https://github.com/kubernetes-sigs/kustomize/blob/master/cmd/config/docs/api-conventions/functions-spec.md).

Reading is bounded as a spec is (docs/kustomize.md, "Input limits"): at most `MAX_INPUT_BYTES`
of UTF-8 and `MAX_ITEMS` items. libyaml composes the envelope (it never expands aliases when
composing); only the few fields aiogen looks at are constructed, each on its own, so a value
PyYAML cannot construct (``2025-02-30``, a 5,000-digit integer) in an item it does not own leaves
that item untouched, and one in the function config is a located error. Items are echoed from
their composed nodes.
"""

from __future__ import annotations

import contextlib
import functools
import gc
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aiogen.model.problems import AiogenError, Location
from aiogen.model.record import field, record
from aiogen.yamlio.document import shown

if TYPE_CHECKING:
    import yaml

RESOURCE_LIST_VERSIONS = ("config.kubernetes.io/v1", "config.kubernetes.io/v1beta1", "config.kubernetes.io/v1alpha1")
PATH_ANNOTATIONS = ("internal.config.kubernetes.io/path", "config.kubernetes.io/path")
# Input limits (docs/kustomize.md, "Input limits", has the measurements): a kpt package or a
# kustomize transformer's input of a few thousand resources, or a bundle of large CRDs, is far
# inside them; at any of them reading costs a few seconds and a few hundred MB at most.
MAX_INPUT_BYTES = 32 * 1024 * 1024
MAX_ITEMS = 10_000
MAX_VALUES = 500_000  # scalars and collections, mapping keys not counted
STDIN = "<stdin>"


@record
class Item:
    """One input item: its YAML node (echoed as is) and the few fields aiogen looks at."""

    node: yaml.Node
    api_version: str
    kind: str
    namespace: str | None
    name: str
    annotations: Mapping[str, Any]

    @property
    def path(self) -> str | None:
        return next((str(self.annotations[a]) for a in PATH_ANNOTATIONS if a in self.annotations), None)

    def document(self) -> str:
        import yaml

        dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
        text: str = yaml.serialize(self.node, Dumper=dumper, allow_unicode=True, width=1 << 20)
        return text


@record
class Generated:
    """An item the function made: its YAML document, as written."""

    text: str

    def document(self) -> str:
        return self.text


@record(frozen=False)
class ResourceList:
    """items + functionConfig in; items + results out."""

    items: Sequence[Item | Generated] = ()
    function_config: dict[str, Any] | None = None
    results: list[dict[str, Any]] = field(default_factory=list)


# ---------------------------------------------------------------- reading


def read_resource_list(raw: bytes) -> ResourceList:
    """Parse the bytes on stdin; an `AiogenError` locates whatever is wrong."""
    where = Location(STDIN)
    if len(raw) > MAX_INPUT_BYTES:
        raise AiogenError.single(f"the ResourceList on stdin is over {MAX_INPUT_BYTES} bytes", location=where,
                                 hint="docs/kustomize.md lists the input limits")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise AiogenError.single(f"byte {error.start} is not UTF-8", location=where) from None
    if not text.strip():
        raise AiogenError.single("expected a ResourceList on stdin, got nothing", location=where,
                                 hint="aiogen with no subcommand is a KRM function; see aiogen --help")
    with _gc_paused():  # composing allocates many small objects; collections would make it superlinear
        _check_size(text)
        root = _compose(text)
        return _envelope(root)


def _check_size(text: str) -> None:
    """Count items and values in one pass over libyaml's events, stopping at the first over a limit,
    before anything is composed: a ResourceList of 100,000 items fails in a fraction of a second.
    A YAML error stops the count; composing reports it."""
    import yaml

    events = loader()(text)
    stack: list[list[Any]] = []  # per open collection: [is a mapping, expecting a key, key]
    items = nodes = 0
    try:
        while (event := events.get_event()) is not None:
            if isinstance(event, yaml.CollectionEndEvent):
                stack.pop()
                continue
            if not isinstance(event, yaml.NodeEvent):
                continue
            frame = stack[-1] if stack else None
            if frame is not None and frame[0] and frame[1]:  # a mapping key
                frame[1], frame[2] = False, getattr(event, "value", None)
                if not isinstance(event, yaml.CollectionStartEvent):
                    continue
            elif frame is not None and frame[0]:
                frame[1] = True
            nodes += 1
            if len(stack) == 2 and stack[0][2] == "items" and not stack[1][0]:
                items += 1
                if items > MAX_ITEMS:
                    raise _too_large(f"the ResourceList holds more than {MAX_ITEMS} items", event)
            if nodes > MAX_VALUES:
                raise _too_large(f"the ResourceList holds more than {MAX_VALUES} values", event)
            if isinstance(event, yaml.CollectionStartEvent):
                stack.append([isinstance(event, yaml.MappingStartEvent), True, None])
    except yaml.YAMLError:
        return
    finally:
        events.dispose()


def _too_large(message: str, event: Any) -> AiogenError:
    mark = event.start_mark
    return AiogenError.single(message, location=Location(STDIN, mark.line + 1, mark.column + 1),
                              hint="docs/kustomize.md lists the input limits")


def _envelope(root: yaml.Node | None) -> ResourceList:
    import yaml

    where = Location(STDIN)
    if not isinstance(root, yaml.MappingNode):
        raise AiogenError.single("expected a ResourceList on stdin, not a YAML "
                                 f"{'list' if isinstance(root, yaml.SequenceNode) else 'scalar'}", location=where)
    fields = {key.value: value for key, value in root.value if isinstance(key, yaml.ScalarNode)}
    head = {k: construct(fields[k]) for k in ("apiVersion", "kind") if k in fields}
    if head.get("kind") != "ResourceList" or head.get("apiVersion") not in RESOURCE_LIST_VERSIONS:
        got = f"{head.get('apiVersion')}/{head.get('kind')}" if head else "a mapping without apiVersion and kind"
        raise AiogenError.single(f"expected a ResourceList (apiVersion config.kubernetes.io/v1) on stdin, got {got}",
                                 location=where)
    items = _items(fields.get("items"))
    config = construct(fields["functionConfig"]) if "functionConfig" in fields else None
    if config is None:
        raise AiogenError.single(
            "the ResourceList has no functionConfig", location=where,
            hint="kustomize passes the generator's config object; with kpt use --fn-config FILE or -- topology=PATH",
        )
    if not isinstance(config, dict):
        raise AiogenError.single("must be a mapping (a Topology or a RenderConfig)", path="functionConfig",
                                 location=node_location(fields["functionConfig"]))
    return ResourceList(items, config)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _compose(text: str) -> yaml.Node | None:
    import yaml

    try:
        return yaml.compose(text, Loader=loader())
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        loc = Location(STDIN, mark.line + 1, mark.column + 1) if mark else Location(STDIN)
        what = f"the ResourceList is not valid YAML: {error.problem or error.context}"
        if "another document" in str(error.problem):
            what = "stdin holds more than one YAML document; a ResourceList is one"
        raise AiogenError.single(what, location=loc) from None
    except yaml.YAMLError as error:  # e.g. several documents
        raise AiogenError.single(f"the ResourceList is not valid YAML: {error}", location=Location(STDIN)) from None


def _items(items_node: yaml.Node | None) -> list[Item]:
    import yaml

    if items_node is None or (isinstance(items_node, yaml.ScalarNode) and items_node.tag.endswith(":null")):
        return []
    if not isinstance(items_node, yaml.SequenceNode):
        raise AiogenError.single("must be a list", path="items", location=node_location(items_node))
    return [_item(node, number) for number, node in enumerate(items_node.value)]


def _item(node: yaml.Node, number: int) -> Item:
    """The fields aiogen looks at; one it cannot read (an invalid date, a huge integer) counts as absent."""
    import yaml

    if not isinstance(node, yaml.MappingNode):
        raise AiogenError.single("must be a mapping (a Kubernetes object)", path=f"items[{number}]",
                                 location=node_location(node))
    fields = _fields(node)
    metadata = _fields(fields.get("metadata"))
    annotations = {key: value for key, value in
                   ((key, _scalar(value)) for key, value in _fields(metadata.get("annotations")).items())
                   if value is not None}
    namespace = _scalar(metadata.get("namespace"))
    return Item(node, str(_scalar(fields.get("apiVersion")) or ""), str(_scalar(fields.get("kind")) or ""),
                str(namespace) if namespace else None, str(_scalar(metadata.get("name")) or ""), annotations)


def _fields(node: yaml.Node | None) -> dict[str, yaml.Node]:
    """The string-keyed entries of a mapping node (empty for anything else)."""
    import yaml

    if not isinstance(node, yaml.MappingNode):
        return {}
    return {key.value: value for key, value in node.value if isinstance(key, yaml.ScalarNode)}


def _scalar(node: yaml.Node | None) -> Any:
    """A scalar's value, or None when it is absent, not a scalar, or cannot be constructed."""
    import yaml

    if not isinstance(node, yaml.ScalarNode):
        return None
    if node.tag == "tag:yaml.org,2002:str":  # most values: nothing to construct
        return node.value
    try:
        return construct(node)
    except AiogenError:
        return None


def construct(node: yaml.Node) -> Any:
    """A node as plain data; a value PyYAML cannot construct is a located error, never a crash."""
    import yaml

    constructor = loader()("")
    try:
        return constructor.construct_document(node)
    except UnreadableValue as error:
        raise AiogenError.single(error.message, location=Location(STDIN, error.line, error.column)) from None
    except yaml.YAMLError as error:
        raise AiogenError.single(f"cannot read the value: {error}", location=node_location(node)) from None
    finally:
        constructor.dispose()


def node_location(node: yaml.Node) -> Location:
    mark = node.start_mark
    return Location(STDIN, mark.line + 1, mark.column + 1)


class UnreadableValue(Exception):
    """A scalar PyYAML resolved to a date or a number it cannot construct."""

    def __init__(self, message: str, node: yaml.Node) -> None:
        super().__init__(message)
        self.message = message
        self.line = node.start_mark.line + 1
        self.column = node.start_mark.column + 1


@functools.cache
def loader() -> Any:
    """PyYAML's safe loader (libyaml's when present) whose constructors raise nothing but YAML errors
    and `UnreadableValue`: an invalid date or an over-long integer is a located problem, not a crash."""
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[valid-type,misc]
        pass

    def guarded(tag: str, what: str) -> None:
        construct_value = base.yaml_constructors[tag]

        def construct_guarded(self: Any, node: yaml.Node) -> Any:
            try:
                return construct_value(self, node)
            except (ValueError, OverflowError) as error:
                reason = f"too many digits ({len(node.value)})" if what == "an integer" else str(error)
                raise UnreadableValue(f"cannot read {shown(node.value)} as {what}: {reason}", node) from None

        Loader.add_constructor(tag, construct_guarded)

    guarded("tag:yaml.org,2002:timestamp", "a date")
    guarded("tag:yaml.org,2002:int", "an integer")
    guarded("tag:yaml.org,2002:float", "a number")
    return Loader


# ---------------------------------------------------------------- writing


def write_resource_list(resource_list: ResourceList) -> str:
    """The ResourceList as YAML: items in order (echoed items re-serialized), then results."""
    from aiogen.yamlio import write as yaml_write

    parts = ["apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:"]
    with _gc_paused():
        parts.extend(_as_item(item.document()) for item in resource_list.items)
    if len(parts) == 1:
        parts[0] += " []"
    text = "\n".join(parts) + "\n"
    if resource_list.results:
        text += yaml_write.to_yaml({"results": list(resource_list.results)})
    return text


def _as_item(document: str) -> str:
    """A document as an element of a block sequence: every line shifted by the same two columns."""
    lines = document.rstrip("\n").split("\n")
    return "\n".join(("- " if i == 0 else "  ") + line if line else line for i, line in enumerate(lines))
