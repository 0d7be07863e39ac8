"""A function config, in any of its three forms, as a render request (docs/kustomize.md).

* ``kind: Topology`` (apiVersion aiogen.io/v1alpha1): the spec itself. Its ``metadata.annotations``
  and ``labels`` are KRM plumbing and are ignored; ``aiogen.io/clusters: "a,b"`` names the clusters
  to render (optional when the spec has exactly one), ``aiogen.io/stage`` the install stage, and
  ``aiogen.io/allow-outside-files: "true"`` lets PEM paths leave the base directory. PEM paths
  resolve against the base directory.
* ``kind: RenderConfig`` (apiVersion aiogen.io/v1alpha1): ``spec: {topology: PATH, clusters: [..],
  stage: all, allowOutsideFiles: false}`` (schemas/renderconfig.schema.json). PATH is relative to
  the base directory and stays inside it unless ``allowOutsideFiles``; the spec's own PEM paths
  resolve against the spec file's directory, exactly as for ``aiogen render PATH``.
* ``kind: ConfigMap`` (what ``kpt fn eval --exec aiogen -- topology=PATH clusters=a,b`` passes):
  ``data`` holds the RenderConfig fields as strings, clusters comma-separated.

The base directory is where the tool says the config lives: the kustomization directory under
kustomize (it runs functions there, and passes it to legacy plugins as
``KUSTOMIZE_PLUGIN_CONFIG_ROOT``), the package directory under ``kpt fn render`` (the
``internal.config.kubernetes.io/package-path`` annotation), and the current directory under
``kpt fn eval``, which says nothing about where the config came from.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiogen.krm.source import config_document, mapping
from aiogen.model.problems import AiogenError
from aiogen.model.record import record
from aiogen.yamlio.document import shown

if TYPE_CHECKING:
    from aiogen.yamlio.document import Document

API_VERSION = "aiogen.io/v1alpha1"
CLUSTERS_ANNOTATION = "aiogen.io/clusters"
STAGE_ANNOTATION = "aiogen.io/stage"
OUTSIDE_FILES_ANNOTATION = "aiogen.io/allow-outside-files"
PACKAGE_PATH_ANNOTATION = "internal.config.kubernetes.io/package-path"  # set by `kpt fn render`
RENDER_CONFIG_FIELDS = {"topology": str, "clusters": list, "allowOutsideFiles": bool, "stage": str}
ALL_STAGES = "all"
STAGE_CHOICES = ("prerequisites", "broker", ALL_STAGES)  # aiogen.output.layout.STAGES, and both


@record
class Ref:
    """resourceRef of a result: the object a field path belongs to."""

    api_version: str
    kind: str
    name: str

    def as_result(self) -> dict[str, str]:
        return {"apiVersion": self.api_version, "kind": self.kind, "name": self.name}


@record(frozen=False)
class Request:
    """A function config, resolved: which spec, which clusters and stage, where its messages point."""

    config_ref: Ref
    doc: Document  # the config object (for the Topology form: the spec itself)
    topology_path: Path | None = None  # RenderConfig/ConfigMap forms
    topology_display: str = ""
    clusters: tuple[str, ...] | None = None  # None: the spec must hold exactly one cluster
    clusters_field: tuple[str | int, ...] = ()
    settings_at: str = "spec"  # RenderConfig: spec; ConfigMap: data
    allow_outside_files: bool = False
    stage: str | None = None  # one install stage (aiogen.output.layout.STAGES); None: both
    spec_ref: Ref | None = None  # the Topology, once known


def ref_of(config: Mapping[str, Any]) -> Ref:
    name = mapping(config, "metadata").get("name")
    return Ref(str(config.get("apiVersion") or ""), str(config.get("kind") or ""), str(name or ""))


def base_dir_of(config: Mapping[str, Any], cwd: Path) -> Path:
    """kpt fn render names the package; kustomize runs functions in the kustomization directory.

    The annotation is text in the config, which anyone may write (kustomize passes it through):
    it is taken only when it names a kpt package, a directory holding a Kptfile (`kpt fn render`
    needs one). ``package-path: /etc`` with ``topology: shadow`` would otherwise move the base
    directory, and the rule that the spec stays inside it, anywhere on the machine.
    """
    package = mapping(mapping(config, "metadata"), "annotations").get(PACKAGE_PATH_ANNOTATION)
    if isinstance(package, str) and os.path.isabs(package) and _is_kpt_package(package):
        return Path(package)
    return cwd


def _is_kpt_package(directory: str) -> bool:
    try:
        return os.path.isdir(directory) and stat.S_ISREG(os.lstat(os.path.join(directory, "Kptfile")).st_mode)
    except (OSError, ValueError):
        return False


def request_for(config: Mapping[str, Any], base_dir: Path, hints: Sequence[Path]) -> Request:
    """The render request a function config makes; `AiogenError` locates what is wrong with it."""
    api_version, kind = config.get("apiVersion"), config.get("kind")
    ref = ref_of(config)
    if (api_version, kind) == (API_VERSION, "Topology"):
        return _topology_request(config_document(config, ref, base_dir, hints), ref)
    if (api_version, kind) == (API_VERSION, "RenderConfig"):
        doc = config_document(config, ref, base_dir, hints)
        return _render_config_request(doc, ref, base_dir, doc.data.get("spec"), ("spec",))
    if (api_version, kind) == ("v1", "ConfigMap"):
        doc = config_document(config, ref, base_dir, hints)
        return _render_config_request(doc, ref, base_dir, _config_map_spec(doc), ("data",))
    what = f"{api_version}/{kind}" if api_version or kind else "an object without apiVersion and kind"
    raise AiogenError.single(
        f"the function config is {what}; aiogen takes a Topology or a RenderConfig (apiVersion {API_VERSION})",
        hint="see docs/kustomize.md for both forms",
    )


def _topology_request(doc: Document, ref: Ref) -> Request:
    annotations = mapping(doc.data.get("metadata"), "annotations")
    request = Request(ref, doc, spec_ref=ref)
    path = ("metadata", "annotations", CLUSTERS_ANNOTATION)
    raw = annotations.get(CLUSTERS_ANNOTATION)
    if raw is not None:
        if not isinstance(raw, str):
            raise AiogenError((doc.problem(path, "must be a string: cluster names separated by commas"),))
        request.clusters = split_names(raw)
        request.clusters_field = path
    outside = annotations.get(OUTSIDE_FILES_ANNOTATION)
    if outside is not None:
        if outside not in ("true", "false"):
            raise AiogenError((doc.problem(("metadata", "annotations", OUTSIDE_FILES_ANNOTATION),
                                           'must be "true" or "false"'),))
        request.allow_outside_files = outside == "true"
    stage = annotations.get(STAGE_ANNOTATION)
    if stage is not None:
        if stage not in STAGE_CHOICES:
            raise AiogenError((doc.problem(("metadata", "annotations", STAGE_ANNOTATION), _STAGE_MESSAGE),))
        request.stage = _stage(stage)
    # KRM plumbing (the function annotation, kustomize's and kpt's bookkeeping) is not spec.
    metadata = doc.data.get("metadata")
    if isinstance(metadata, dict):
        doc.data["metadata"] = {k: v for k, v in metadata.items() if k not in ("annotations", "labels")}
    return request


_STAGE_MESSAGE = f"must be {', '.join(STAGE_CHOICES[:-1])} or {STAGE_CHOICES[-1]}"
_KIND_NAMES = {str: "a string", list: "a list of cluster names", bool: "true or false"}


def _stage(value: str) -> str | None:
    return None if value == ALL_STAGES else value


def _render_config_request(doc: Document, ref: Ref, base_dir: Path, spec: Any,
                           at: tuple[str | int, ...]) -> Request:
    if spec is None:
        raise AiogenError((doc.problem(at, "required field is missing: it names the topology spec to render"),))
    if not isinstance(spec, Mapping):
        raise AiogenError((doc.problem(at, "must be a mapping with topology (and clusters)"),))
    problems = [doc.problem((*at, key), f"unknown field; expected {', '.join(RENDER_CONFIG_FIELDS)}")
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
    stage = spec.get("stage", ALL_STAGES)
    if isinstance(stage, str) and stage not in STAGE_CHOICES:
        problems.append(doc.problem((*at, "stage"), _STAGE_MESSAGE))
    if problems:
        raise AiogenError(tuple(problems))
    assert isinstance(topology, str)
    request = Request(ref, doc, topology_path=base_dir / topology, topology_display=topology,
                      settings_at=str(at[0]), allow_outside_files=bool(spec.get("allowOutsideFiles", False)),
                      stage=_stage(stage))
    if isinstance(clusters, list):
        request.clusters = tuple(clusters)
        request.clusters_field = (*at, "clusters")
    return request


def _config_map_spec(doc: Document) -> dict[str, Any]:
    """`kpt fn eval ... -- topology=fleet.yaml clusters=a,b`: every value is a string."""
    data = doc.data.get("data")
    if not isinstance(data, Mapping):
        raise AiogenError((doc.problem(("data",), "must hold topology=PATH (and clusters=a,b)"),))
    spec: dict[str, Any] = dict(data)
    if isinstance(spec.get("clusters"), str):
        spec["clusters"] = list(split_names(spec["clusters"]))
    outside = spec.get("allowOutsideFiles")
    if isinstance(outside, str):
        if outside not in ("true", "false"):
            raise AiogenError((doc.problem(("data", "allowOutsideFiles"), 'must be "true" or "false"'),))
        spec["allowOutsideFiles"] = outside == "true"
    return spec


def split_names(text: str) -> tuple[str, ...]:
    return tuple(n for n in (part.strip() for part in text.split(",")) if n)


def topology_file(request: Request) -> Path:
    """The spec file a RenderConfig names: inside the base directory (symlinks resolved) unless
    allowOutsideFiles, as kustomize keeps a kustomization's files under its root by default."""
    assert request.topology_path is not None
    doc, at, display = request.doc, (request.settings_at, "topology"), request.topology_display
    allow = f"or set {request.settings_at}.allowOutsideFiles: true"
    if not request.allow_outside_files:
        if os.path.isabs(display):
            raise AiogenError((doc.problem(at, f"{shown(display)} is an absolute path", hint=(
                f"write it relative to {doc.base_dir}, the directory holding the config, {allow}")),))
        try:
            inside = request.topology_path.resolve().is_relative_to(doc.base_dir.resolve())
        except (OSError, ValueError):
            raise AiogenError((doc.problem(at, f"{shown(display)} is not a usable file name"),)) from None
        if not inside:
            raise AiogenError((doc.problem(at, f"{shown(display)} is outside {doc.base_dir}, the directory "
                                               "holding the config", hint=f"keep the spec under it, {allow}"),))
    if not request.topology_path.is_file():
        what = "is not a file" if request.topology_path.exists() else "does not exist"
        raise AiogenError((doc.problem(
            at, f"{display!r} {what}",
            hint=f"the path is relative to {doc.base_dir}, the directory holding the config"),))
    return request.topology_path
