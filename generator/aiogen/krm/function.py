"""aiogen as a KRM function (kustomize, kpt) and as a legacy kustomize exec plugin.

This module only adapts I/O: it reads a ResourceList (or kustomize's legacy plugin config file),
turns the function config into a spec and a list of clusters, and makes the same calls
`aiogen render` makes (`aiogen.pipeline`, `aiogen.render`, `aiogen.emit`). There is no second
way of rendering.

Function config forms (docs/kustomize.md):

* ``kind: Topology`` (apiVersion aiogen.io/v1alpha1): the spec itself. Its ``metadata.annotations``
  and ``labels`` are KRM plumbing and are ignored; ``aiogen.io/clusters: "a,b"`` names the clusters
  to render (optional when the spec has exactly one) and ``aiogen.io/allow-outside-files: "true"``
  lets PEM paths leave the base directory. PEM paths resolve against the base directory.
* ``kind: RenderConfig`` (apiVersion aiogen.io/v1alpha1): ``spec: {topology: PATH, clusters: [..],
  allowOutsideFiles: false}``. PATH resolves against the base directory; the spec's own PEM paths
  resolve against the spec file's directory, exactly as for ``aiogen render PATH``.
* ``kind: ConfigMap`` (what ``kpt fn eval --exec aiogen -- topology=PATH clusters=a,b`` passes):
  ``data`` holds the RenderConfig fields, clusters comma-separated.

The base directory is where the tool says the config lives: the kustomization directory under
kustomize (it runs functions there, and passes it to legacy plugins as
``KUSTOMIZE_PLUGIN_CONFIG_ROOT``), the package directory under ``kpt fn render`` (the
``internal.config.kubernetes.io/package-path`` annotation), and the current directory under
``kpt fn eval``, which says nothing about where the config came from.

Contract with the orchestrators (reference/kustomize-krm.md §0, §2.2, §4, §7):

* New resources only: kustomize hands a generator a copy of its own config as the only item,
  and echoing it back costs a comment-copy pass (~100 ms) and adds nothing, so it is dropped.
  Every other item is returned: kpt deletes what a mutator does not return.
* Items at the path aiogen gives a resource of a rendered cluster (``<cluster>/<ns>/<kind>-<name>.yaml``,
  as in the ``aiogen render`` tree) are aiogen's output from an earlier ``kpt fn render`` and are
  replaced, so re-rendering a package is idempotent and drops resources the spec no longer makes.
* Every problem goes to ``results`` (severity, message, field.path, file.path, resourceRef) for
  kpt, and also to stderr with its location, because kustomize ignores ``results``. Any error
  exits 1; a result of severity error never comes with exit status 0.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiogen.model.problems import EXIT_INVALID, EXIT_OK, EXIT_USAGE, AiogenError, Location, Problem, report_internal

if TYPE_CHECKING:
    import yaml

    from aiogen.model.plan import Plan
    from aiogen.render import RenderedCluster
    from aiogen.yamlio.document import Document

API_VERSION = "aiogen.io/v1alpha1"
CLUSTERS_ANNOTATION = "aiogen.io/clusters"
OUTSIDE_FILES_ANNOTATION = "aiogen.io/allow-outside-files"
PATH_ANNOTATIONS = ("internal.config.kubernetes.io/path", "config.kubernetes.io/path")
INDEX_ANNOTATIONS = ("internal.config.kubernetes.io/index", "config.kubernetes.io/index")
PACKAGE_PATH_ANNOTATION = "internal.config.kubernetes.io/package-path"  # set by `kpt fn render`
RESOURCE_LIST_VERSIONS = ("config.kubernetes.io/v1", "config.kubernetes.io/v1beta1", "config.kubernetes.io/v1alpha1")
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
MAX_INPUT_BYTES = 256 * 1024 * 1024
RENDER_CONFIG_FIELDS = {"topology": str, "clusters": list, "allowOutsideFiles": bool}

USAGE = """\
aiogen: with no subcommand, aiogen runs as a KRM function: it reads a ResourceList on stdin.
  kustomize build --enable-alpha-plugins --enable-exec DIR   (config: exec: {path: aiogen})
  kpt fn eval DIR --exec aiogen --fn-config aiogen.yaml
To render a spec yourself: aiogen render SPEC -o DIR|-   (aiogen --help lists every command)
"""


def main(argv: list[str]) -> int:
    """Entry point: no arguments = KRM function; argv[0] an existing file = legacy exec plugin."""
    try:
        if argv:
            return _legacy_plugin(argv)
        if sys.stdin is None or sys.stdin.isatty():
            sys.stderr.write(USAGE)
            return EXIT_USAGE
        return _function()
    except Exception as error:  # a bug in aiogen, not in the input: say so, as the CLI does
        if os.environ.get("AIOGEN_DEBUG"):
            raise
        return report_internal(error)


# ---------------------------------------------------------------- what to render


@dataclass(frozen=True)
class Ref:
    """resourceRef of a result: the object a field path belongs to."""

    api_version: str
    kind: str
    name: str

    def as_result(self) -> dict[str, str]:
        return {"apiVersion": self.api_version, "kind": self.kind, "name": self.name}


@dataclass
class Request:
    """A function config, resolved: which spec, which clusters, where its messages point."""

    config_ref: Ref
    doc: Document  # the config object (for the Topology form: the spec itself)
    topology_path: Path | None = None  # RenderConfig/ConfigMap forms
    topology_display: str = ""
    clusters: tuple[str, ...] | None = None  # None: the spec must hold exactly one cluster
    clusters_field: tuple[str | int, ...] = ()
    settings_at: str = "spec"  # RenderConfig: spec; ConfigMap: data
    allow_outside_files: bool = False
    spec_ref: Ref | None = None  # the Topology, once known


@dataclass
class Outcome:
    """What one invocation produced."""

    rendered: list[RenderedCluster] = field(default_factory=list)
    warnings: tuple[Problem, ...] = ()


def _render(request: Request) -> Outcome:
    """The same calls `aiogen render` makes: spec → Plan → rendered clusters."""
    from aiogen.render import render

    plan = _plan(request)
    return Outcome(render(plan, _clusters(request, plan)), plan.warnings)


def _ref(config: Mapping[str, Any]) -> Ref:
    name = _mapping(config, "metadata").get("name")
    return Ref(str(config.get("apiVersion") or ""), str(config.get("kind") or ""), str(name or ""))


def _request(config: Mapping[str, Any], base_dir: Path, hints: Sequence[Path]) -> Request:
    api_version, kind = config.get("apiVersion"), config.get("kind")
    ref = _ref(config)
    if (api_version, kind) == (API_VERSION, "Topology"):
        return _topology_request(config, ref, base_dir, hints)
    if (api_version, kind) == (API_VERSION, "RenderConfig"):
        doc = _config_document(config, ref, base_dir, hints)
        return _render_config_request(doc, ref, base_dir, doc.data.get("spec"), ("spec",))
    if (api_version, kind) == ("v1", "ConfigMap"):
        doc = _config_document(config, ref, base_dir, hints)
        return _render_config_request(doc, ref, base_dir, _config_map_spec(doc), ("data",))
    what = f"{api_version}/{kind}" if api_version or kind else "an object without apiVersion and kind"
    raise AiogenError.single(
        f"the function config is {what}; aiogen takes a Topology or a RenderConfig (apiVersion {API_VERSION})",
        hint="see docs/kustomize.md for both forms",
    )


def _topology_request(config: Mapping[str, Any], ref: Ref, base_dir: Path, hints: Sequence[Path]) -> Request:
    doc = _config_document(config, ref, base_dir, hints)
    annotations = _mapping(doc.data.get("metadata"), "annotations")
    request = Request(ref, doc, spec_ref=ref)
    path = ("metadata", "annotations", CLUSTERS_ANNOTATION)
    raw = annotations.get(CLUSTERS_ANNOTATION)
    if raw is not None:
        if not isinstance(raw, str):
            raise AiogenError((doc.problem(path, "must be a string: cluster names separated by commas"),))
        request.clusters = _split_names(raw)
        request.clusters_field = path
    outside = annotations.get(OUTSIDE_FILES_ANNOTATION)
    if outside is not None:
        if outside not in ("true", "false"):
            raise AiogenError((doc.problem(("metadata", "annotations", OUTSIDE_FILES_ANNOTATION),
                                           'must be "true" or "false"'),))
        request.allow_outside_files = outside == "true"
    # KRM plumbing (the function annotation, kustomize's and kpt's bookkeeping) is not spec.
    metadata = doc.data.get("metadata")
    if isinstance(metadata, dict):
        doc.data["metadata"] = {k: v for k, v in metadata.items() if k not in ("annotations", "labels")}
    return request


def _render_config_request(doc: Document, ref: Ref, base_dir: Path, spec: Any,
                           at: tuple[str | int, ...]) -> Request:
    if spec is None:
        raise AiogenError((doc.problem(at, "required field is missing: it names the topology spec to render"),))
    if not isinstance(spec, Mapping):
        raise AiogenError((doc.problem(at, "must be a mapping with topology (and clusters)"),))
    problems = [doc.problem((*at, key), "unknown field; expected topology, clusters, allowOutsideFiles")
                for key in spec if key not in RENDER_CONFIG_FIELDS]
    for key, kind in RENDER_CONFIG_FIELDS.items():
        if key in spec and not isinstance(spec[key], kind):
            problems.append(doc.problem((*at, key), f"must be {_KIND_NAMES[kind]}"))
    topology = spec.get("topology")
    if topology is None:
        problems.append(doc.problem((*at, "topology"), "required field is missing: the path of the topology spec"))
    elif isinstance(topology, str) and not topology.strip():
        problems.append(doc.problem((*at, "topology"), "must name a file"))
    clusters = spec.get("clusters")
    if isinstance(clusters, list):
        for index, item in enumerate(clusters):
            if not isinstance(item, str) or not item:
                problems.append(doc.problem((*at, "clusters", index), "must be a cluster name"))
    if problems:
        raise AiogenError(tuple(problems))
    assert isinstance(topology, str)
    request = Request(ref, doc, topology_path=base_dir / topology, topology_display=topology,
                      settings_at=str(at[0]), allow_outside_files=bool(spec.get("allowOutsideFiles", False)))
    if isinstance(clusters, list):
        request.clusters = tuple(clusters)
        request.clusters_field = (*at, "clusters")
    return request


_KIND_NAMES = {str: "a string", list: "a list of cluster names", bool: "true or false"}


def _config_map_spec(doc: Document) -> dict[str, Any]:
    """`kpt fn eval ... -- topology=fleet.yaml clusters=a,b`: every value is a string."""
    data = doc.data.get("data")
    if not isinstance(data, Mapping):
        raise AiogenError((doc.problem(("data",), "must hold topology=PATH (and clusters=a,b)"),))
    spec: dict[str, Any] = dict(data)
    if isinstance(spec.get("clusters"), str):
        spec["clusters"] = list(_split_names(spec["clusters"]))
    outside = spec.get("allowOutsideFiles")
    if isinstance(outside, str):
        if outside not in ("true", "false"):
            raise AiogenError((doc.problem(("data", "allowOutsideFiles"), 'must be "true" or "false"'),))
        spec["allowOutsideFiles"] = outside == "true"
    return spec


def _split_names(text: str) -> tuple[str, ...]:
    return tuple(n for n in (part.strip() for part in text.split(",")) if n)


def _mapping(value: Any, key: str) -> Mapping[str, Any]:
    """value[key] when both are mappings, else an empty mapping."""
    inner = value.get(key) if isinstance(value, Mapping) else None
    return inner if isinstance(inner, Mapping) else {}


def _plan(request: Request) -> Plan:
    from aiogen.pipeline import load_plan, topology_from_document
    from aiogen.resolve import resolve

    if request.topology_path is None:  # the Topology form: the config is the spec
        return resolve(topology_from_document(request.doc), request.doc,
                       allow_outside_files=request.allow_outside_files)
    if not request.topology_path.is_file():
        what = "is not a file" if request.topology_path.exists() else "does not exist"
        raise AiogenError((request.doc.problem(
            (request.settings_at, "topology"), f"{request.topology_display!r} {what}",
            hint=f"the path is relative to {request.doc.base_dir}, the directory holding the config"),))
    plan = load_plan(request.topology_path, display=request.topology_display,
                     allow_outside_files=request.allow_outside_files)
    request.spec_ref = Ref(API_VERSION, "Topology", plan.name)
    return plan


def _clusters(request: Request, plan: Plan) -> list[str]:
    known = [c.name for c in plan.clusters]
    if request.clusters is None:
        if len(known) == 1:
            return known
        if request.topology_path is None:
            at: tuple[str | int, ...] = ("metadata",)
            where = f"the annotation {CLUSTERS_ANNOTATION}: \"{known[0]}\""
        else:
            at = (request.settings_at,)
            where = f"{request.settings_at}.clusters"
        raise AiogenError((request.doc.problem(
            at, f"the spec holds {len(known)} clusters ({', '.join(known)}); name the ones to render in {where}",
            hint="one kustomization per cluster keeps resource names from colliding"),))
    if not request.clusters:
        raise AiogenError((request.doc.problem(request.clusters_field, "names no cluster"),))
    missing = [n for n in request.clusters if n not in known]
    if missing:
        raise AiogenError((request.doc.problem(
            request.clusters_field, f"no cluster named {', '.join(repr(m) for m in missing)} in the spec",
            hint=f"clusters: {', '.join(known)}"),))
    return list(request.clusters)


# ---------------------------------------------------------------- where the config came from


def _config_document(config: Mapping[str, Any], ref: Ref, base_dir: Path, hints: Sequence[Path]) -> Document:
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


def _find_source(config: Mapping[str, Any], ref: Ref, base_dir: Path,
                 hints: Sequence[Path]) -> tuple[str, str] | None:
    annotations = _mapping(_mapping(config, "metadata"), "annotations")
    candidates: list[tuple[Path, str, int | None]] = []
    relative = next((annotations[a] for a in PATH_ANNOTATIONS if isinstance(annotations.get(a), str)), None)
    if relative:  # kpt fn render: the config's file inside the package
        index = next((annotations[a] for a in INDEX_ANNOTATIONS if isinstance(annotations.get(a), str)), None)
        candidates.append((base_dir / relative, relative, int(index) if index and index.isdigit() else None))
    for kustomization in hints:  # kustomize: the generators/transformers entries of the kustomization
        candidates.extend((base_dir / entry, entry, None) for entry in _function_entries(kustomization))
    for path, display, index in candidates:
        text = _read_small(path)
        if text is None:
            continue
        for number, (start, segment) in enumerate(_documents(text)):
            if index is not None and number != index:
                continue
            if _same_object(segment, ref):
                return display, "\n" * start + segment  # padding keeps line numbers true
    return None


def _kustomization(directory: Path) -> list[Path]:
    return [directory / name for name in KUSTOMIZATION_FILES if (directory / name).is_file()][:1]


def _function_entries(kustomization: Path) -> Iterator[str]:
    import yaml

    text = _read_small(kustomization)
    if text is None:
        return
    try:
        data = yaml.load(text, Loader=_loader())
    except yaml.YAMLError:
        return
    if not isinstance(data, Mapping):
        return
    for key in ("generators", "transformers"):
        entries = data.get(key)
        for entry in entries if isinstance(entries, list) else ():
            if isinstance(entry, str) and "\n" not in entry and "://" not in entry:
                yield entry


def _read_small(path: Path) -> str | None:
    from aiogen.yamlio.document import MAX_BYTES

    try:
        if not path.is_file() or path.stat().st_size > MAX_BYTES:
            return None
        return path.read_text(encoding="utf-8").removeprefix("\ufeff")
    except (OSError, UnicodeDecodeError):
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
    import yaml

    try:
        data = yaml.load(segment, Loader=_loader())
    except yaml.YAMLError:
        return False
    if not isinstance(data, Mapping):
        return False
    metadata = data.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return (data.get("apiVersion"), data.get("kind"), str(name or "")) == (ref.api_version, ref.kind, ref.name)


def _loader() -> Any:
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# ---------------------------------------------------------------- KRM function (stdin → stdout)


@dataclass
class _Item:
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


def _function() -> int:
    items: list[_Item] = []
    request: Request | None = None
    config_ref: Ref | None = None
    raw = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
    try:
        items, config = _read_resource_list(raw)
        config_ref = _ref(config)
        base_dir = _base_dir(config)
        hints = _kustomization(base_dir)
        request = _request(config, base_dir, hints)
        outcome = _render(request)
        kept = _keep(items, config, outcome.rendered)
    except AiogenError as error:
        problems = (*error.warnings, *error.problems)
        _print_problems(problems)
        results = _results(problems, request, config_ref)
        _write(sys.stdout, _resource_list([item.node for item in items], [], results))
        return error.exit_code
    warnings = "".join(f"aiogen: {problem.format()}\n" for problem in outcome.warnings)
    _write(sys.stderr, warnings)
    text = _resource_list([item.node for item in kept], outcome.rendered,
                          _results(outcome.warnings, request, config_ref))
    _write(sys.stdout, text)
    return EXIT_OK


def _read_resource_list(raw: bytes) -> tuple[list[_Item], dict[str, Any]]:
    import yaml

    where = Location("<stdin>")
    if len(raw) > MAX_INPUT_BYTES:
        raise AiogenError.single(f"the ResourceList on stdin is over {MAX_INPUT_BYTES} bytes", location=where)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise AiogenError.single(f"byte {error.start} is not UTF-8", location=where) from None
    if not text.strip():
        raise AiogenError.single("expected a ResourceList on stdin, got nothing", location=where,
                                 hint="aiogen with no subcommand is a KRM function; see aiogen --help")
    try:
        root = yaml.compose(text, Loader=_loader())
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        loc = Location("<stdin>", mark.line + 1, mark.column + 1) if mark else where
        what = f"the ResourceList is not valid YAML: {error.problem or error.context}"
        if "another document" in str(error.problem):
            what = "stdin holds more than one YAML document; a ResourceList is one"
        raise AiogenError.single(what, location=loc) from None
    except yaml.YAMLError as error:  # e.g. several documents
        raise AiogenError.single(f"the ResourceList is not valid YAML: {error}", location=where) from None
    if not isinstance(root, yaml.MappingNode):
        raise AiogenError.single("expected a ResourceList on stdin, not a YAML "
                                 f"{'list' if isinstance(root, yaml.SequenceNode) else 'scalar'}", location=where)
    fields = {key.value: value for key, value in root.value if isinstance(key, yaml.ScalarNode)}
    head = {k: _construct(fields[k]) for k in ("apiVersion", "kind") if k in fields}
    if head.get("kind") != "ResourceList" or head.get("apiVersion") not in RESOURCE_LIST_VERSIONS:
        got = f"{head.get('apiVersion')}/{head.get('kind')}" if head else "a mapping without apiVersion and kind"
        raise AiogenError.single(f"expected a ResourceList (apiVersion config.kubernetes.io/v1) on stdin, got {got}",
                                 location=where)
    items_node = fields.get("items")
    items: list[_Item] = []
    if items_node is not None and not (isinstance(items_node, yaml.ScalarNode) and items_node.tag.endswith(":null")):
        if not isinstance(items_node, yaml.SequenceNode):
            raise AiogenError.single("must be a list", path="items", location=_node_location(items_node))
        for number, node in enumerate(items_node.value):
            items.append(_item(node, number))
    config = _construct(fields["functionConfig"]) if "functionConfig" in fields else None
    if config is None:
        raise AiogenError.single(
            "the ResourceList has no functionConfig", location=where,
            hint="kustomize passes the generator's config object; with kpt use --fn-config FILE or -- topology=PATH",
        )
    if not isinstance(config, dict):
        raise AiogenError.single("must be a mapping (a Topology or a RenderConfig)", path="functionConfig",
                                 location=_node_location(fields["functionConfig"]))
    return items, config


def _item(node: yaml.Node, number: int) -> _Item:
    import yaml

    if not isinstance(node, yaml.MappingNode):
        raise AiogenError.single("must be a mapping (a Kubernetes object)", path=f"items[{number}]",
                                 location=_node_location(node))
    fields = {key.value: value for key, value in node.value if isinstance(key, yaml.ScalarNode)}
    head = {k: _construct(fields[k]) for k in ("apiVersion", "kind", "metadata") if k in fields}
    metadata = _mapping(head, "metadata")
    namespace = metadata.get("namespace")
    return _Item(node, str(head.get("apiVersion") or ""), str(head.get("kind") or ""),
                 str(namespace) if namespace else None, str(metadata.get("name") or ""),
                 _mapping(metadata, "annotations"))


def _construct(node: yaml.Node) -> Any:
    import yaml

    loader = _loader()("")
    try:
        return loader.construct_document(node)
    except yaml.YAMLError as error:
        raise AiogenError.single(f"cannot read the value: {error}", location=_node_location(node)) from None
    finally:
        loader.dispose()


def _node_location(node: yaml.Node) -> Location:
    mark = node.start_mark
    return Location("<stdin>", mark.line + 1, mark.column + 1)


def _base_dir(config: Mapping[str, Any]) -> Path:
    """kpt fn render names the package; kustomize runs functions in the kustomization directory."""
    package = _mapping(_mapping(config, "metadata"), "annotations").get(PACKAGE_PATH_ANNOTATION)
    if isinstance(package, str) and os.path.isabs(package) and os.path.isdir(package):
        return Path(package)
    return Path.cwd()


def _keep(items: Sequence[_Item], config: Mapping[str, Any], rendered: Sequence[RenderedCluster]) -> list[_Item]:
    """The input items to return: all but kustomize's copy of the config and aiogen's own earlier output."""
    from aiogen.output.layout import resource_path
    from aiogen.render import Resource

    config_id = (config.get("apiVersion"), config.get("kind"), str(_mapping(config, "metadata").get("name") or ""))
    ours = {(c.name, _identity(r.api_version, r.kind, r.namespace, r.name)) for c in rendered for r in c.resources}
    generated = {identity: cluster for cluster, identity in ours}
    kept: list[_Item] = []
    conflicts: list[Problem] = []
    for item in items:
        if item.path is None and (item.api_version, item.kind, item.name) == config_id:
            continue  # kustomize's copy of the generator's own config (local-config, never output)
        identity = _identity(item.api_version, item.kind, item.namespace, item.name)
        cluster = generated.get(identity)
        if item.path is not None and item.kind and item.name:
            at = resource_path(Resource({"kind": item.kind, "metadata": {"name": item.name,
                                                                         "namespace": item.namespace}}))
            if item.path in {f"{c.name}/{at}" for c in rendered}:
                continue  # aiogen wrote it on an earlier run: replaced (or dropped when no longer rendered)
        if cluster is not None:
            conflicts.append(Problem(
                f"{item.kind} {item.namespace + '/' if item.namespace else ''}{item.name} "
                f"is already in the input{' at ' + item.path if item.path else ''}; aiogen renders it for "
                f"cluster {cluster!r}",
                hint="remove the hand-written copy, or patch the rendered one in an overlay"))
            continue
        kept.append(item)
    if conflicts:
        raise AiogenError(tuple(conflicts))
    return kept


def _identity(api_version: str, kind: str, namespace: str | None, name: str) -> tuple[str, str, str, str]:
    return (api_version.split("/")[0] if "/" in api_version else "", kind, namespace or "", name)


def _resource_list(echo: Iterable[yaml.Node], rendered: Iterable[RenderedCluster],
                   results: Sequence[Mapping[str, Any]]) -> str:
    from aiogen.output import layout
    from aiogen.yamlio import write as yaml_write

    parts = ["apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:"]
    count = 0
    for node in echo:
        parts.append(_as_item(_serialize(node)))
        count += 1
    for cluster in rendered:
        for resource in layout.sorted_resources(cluster.resources):
            path = f"{cluster.name}/{layout.resource_path(resource)}"
            obj = dict(resource.obj)
            metadata = dict(obj["metadata"])
            # where kpt writes the resource in a package: the layout of `aiogen render -o DIR`.
            # kustomize strips these annotations from its output.
            metadata["annotations"] = {**(metadata.get("annotations") or {}),
                                       PATH_ANNOTATIONS[0]: path, PATH_ANNOTATIONS[1]: path}
            obj["metadata"] = metadata
            parts.append(_as_item(layout.HEADER + yaml_write.to_yaml(obj)))
            count += 1
    if not count:
        parts[0] += " []"
    text = "\n".join(parts) + "\n"
    if results:
        text += yaml_write.to_yaml({"results": list(results)})
    return text


def _as_item(document: str) -> str:
    """A document as an element of a block sequence: every line shifted by the same two columns."""
    lines = document.rstrip("\n").split("\n")
    return "\n".join(("- " if i == 0 else "  ") + line if line else line for i, line in enumerate(lines))


def _serialize(node: yaml.Node) -> str:
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    text: str = yaml.serialize(node, Dumper=dumper, allow_unicode=True, width=1 << 20)
    return text


def _results(problems: Iterable[Problem], request: Request | None, config_ref: Ref | None) -> list[dict[str, Any]]:
    return [_result(problem, request, config_ref) for problem in problems]


def _result(problem: Problem, request: Request | None, config_ref: Ref | None) -> dict[str, Any]:
    message = f"{problem.message} ({problem.hint})" if problem.hint else problem.message
    result: dict[str, Any] = {"message": message, "severity": problem.severity}
    ref = _ref_for(problem, request) or (config_ref if config_ref is not None and config_ref.kind else None)
    if ref is not None:
        result["resourceRef"] = ref.as_result()
        if problem.path:
            result["field"] = {"path": problem.path}
    loc = problem.location
    if loc is not None and loc.file and not loc.file.startswith(("<", "functionConfig")) \
            and not os.path.isabs(loc.file):
        result["file"] = {"path": loc.file.replace(os.sep, "/")}
        if loc.line is not None:
            result["tags"] = {"line": str(loc.line), **({"column": str(loc.column)} if loc.column else {})}
    return result


def _ref_for(problem: Problem, request: Request | None) -> Ref | None:
    if request is None:
        return None
    in_spec = request.topology_path is not None and problem.location is not None \
        and problem.location.file == request.topology_display
    if in_spec:
        return request.spec_ref or Ref(API_VERSION, "Topology", _spec_name(request.topology_path))
    return request.config_ref


def _spec_name(path: Path | None) -> str:
    """metadata.name of a spec that failed to load (best effort, for resourceRef only)."""
    import yaml

    text = _read_small(path) if path is not None else None
    try:
        data = yaml.load(text, Loader=_loader()) if text else None
    except yaml.YAMLError:
        return ""
    metadata = data.get("metadata") if isinstance(data, Mapping) else None
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return str(name) if isinstance(name, str) else ""


def _print_problems(problems: Iterable[Problem]) -> None:
    for problem in problems:
        print(f"aiogen: {problem.format()}", file=sys.stderr)


def _write(stream: Any, text: str) -> None:
    try:
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        pass


# ---------------------------------------------------------------- legacy exec plugin


def _legacy_plugin(argv: Sequence[str]) -> int:
    """kustomize's legacy exec plugin: argv[0] is a temporary copy of the config, stdout plain YAML.

    A generator gets empty stdin; a transformer gets every resource as YAML and must return them.
    """
    root = os.environ.get("KUSTOMIZE_PLUGIN_CONFIG_ROOT")
    if root is None:
        print(f"aiogen: {argv[0]} is not a subcommand. To render a spec: aiogen render {argv[0]} -o DIR|-",
              file=sys.stderr)
        return EXIT_USAGE
    if len(argv) > 1:
        print("aiogen: the exec plugin takes no arguments (remove argsOneLiner/argsFromFile); "
              "put settings in the config object", file=sys.stderr)
        return EXIT_INVALID
    stdin = b"" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.buffer.read(MAX_INPUT_BYTES)
    try:
        config = _read_legacy_config(Path(argv[0]))
        base_dir = Path(root)
        outcome = _render(_request(config, base_dir, _kustomization(base_dir)))
    except AiogenError as error:
        _print_problems((*error.warnings, *error.problems))
        return error.exit_code
    _print_problems(outcome.warnings)
    from aiogen.output import stream as stream_output

    text = stdin.decode("utf-8", errors="replace")
    if text.strip() and not text.endswith("\n"):
        text += "\n"
    _write(sys.stdout, (text if text.strip() else "") + stream_output.stream(outcome.rendered))
    return EXIT_OK


def _read_legacy_config(path: Path) -> dict[str, Any]:
    import yaml

    text = _read_small(path)
    if text is None:
        raise AiogenError.single(f"cannot read the plugin config {path}")
    try:
        data = yaml.load(text, Loader=_loader())
    except yaml.YAMLError as error:
        raise AiogenError.single(f"the plugin config is not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise AiogenError.single("the plugin config is not a mapping (a Topology or a RenderConfig)")
    return data
