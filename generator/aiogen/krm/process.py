"""The KRM function itself: a ResourceList in, a ResourceList out, nothing read from stdin or written
to stdout (as kustomize's kyaml framework separates a processor from its I/O).

`process` makes the same calls `aiogen render` makes (`aiogen.pipeline`, `aiogen.render`); there
is no second way of rendering. Contract with the orchestrators (docs/kustomize.md):

* New resources only: kustomize hands a generator a copy of its own config as the only item,
  and echoing it back costs a comment-copy pass (~100 ms) and adds nothing, so it is dropped.
  Every other item is returned: kpt deletes what a mutator does not return.
* Items at the path aiogen gives a resource of a rendered cluster (``<cluster>/<ns>/<kind>-<name>.yaml``,
  as in the ``aiogen render`` tree) are aiogen's output from an earlier ``kpt fn render`` and are
  replaced, so re-rendering a package is idempotent and drops resources the spec no longer makes.
* Every problem goes to ``results`` (severity, message, field.path, file.path, resourceRef) for
  kpt; the caller also prints it, because kustomize ignores ``results``. Any error ends with a
  non-zero exit code; a result of severity error never comes with exit status 0.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiogen.krm.config import API_VERSION, Ref, Request, base_dir_of, ref_of, request_for, topology_file
from aiogen.krm.resourcelist import PATH_ANNOTATIONS, Generated, Item, ResourceList
from aiogen.krm.results import results
from aiogen.krm.source import kustomization, mapping
from aiogen.model.problems import EXIT_OK, AiogenError, Problem
from aiogen.model.record import field, record, replace

if TYPE_CHECKING:
    from aiogen.model.plan import Plan
    from aiogen.render import RenderedCluster


@record(frozen=False)
class Outcome:
    """What one render request produced."""

    rendered: list[RenderedCluster] = field(default_factory=list)
    warnings: tuple[Problem, ...] = ()


@record(frozen=False)
class Processed:
    """The ResourceList to return, the problems behind its results (for stderr), the exit code."""

    resource_list: ResourceList
    problems: tuple[Problem, ...]
    exit_code: int


def process(resource_list: ResourceList, *, cwd: Path) -> Processed:
    """Render what the function config asks for; return the kept items, the new ones, and results.

    ``cwd`` is the base directory unless the config names its package (`base_dir_of`).
    """
    config = resource_list.function_config or {}
    items = [item for item in resource_list.items if isinstance(item, Item)]
    config_ref = ref_of(config)
    request: Request | None = None
    try:
        base_dir = base_dir_of(config, cwd)
        request = request_for(config, base_dir, kustomization(base_dir))
        outcome = render_request(request)
        kept = _keep(items, config, outcome.rendered, request.stage)
    except AiogenError as error:
        problems = (*error.warnings, *error.problems)
        return Processed(ResourceList(items, config, results(problems, request, config_ref)),
                         problems, error.exit_code)
    out = ResourceList([*kept, *_generated(outcome.rendered)], config,
                       results(outcome.warnings, request, config_ref))
    return Processed(out, outcome.warnings, EXIT_OK)


def render_request(request: Request) -> Outcome:
    """The same calls `aiogen render` makes: spec → Plan → rendered clusters (of the stage asked for)."""
    from aiogen.output.layout import stage_of
    from aiogen.render import render

    plan = _plan(request)
    names = _clusters(request, plan)
    rendered = render(plan, names)
    if request.stage is not None:
        rendered = [replace(c, resources=tuple(r for r in c.resources if stage_of(r) == request.stage))
                    for c in rendered]
    warnings = list(plan.warnings)
    if request.stage in (None, "broker"):
        warnings += [Problem(f"cluster {c.name!r} manages its broker listeners and authentications from Azure "
                             "(brokerResources: azure): the function renders no broker objects for it",
                             severity="warning",
                             hint="deploy the ARM template that `aiogen render` writes to broker/azuredeploy.json")
                     for c in plan.clusters if c.name in names and c.broker_resources == "azure"]
    return Outcome(rendered, tuple(warnings))


def _plan(request: Request) -> Plan:
    from aiogen.pipeline import plan_from_document

    if request.topology_path is None:  # the Topology form: the config is the spec
        return plan_from_document(request.doc, allow_outside_files=request.allow_outside_files)
    doc = _spec_document(topology_file(request), request.topology_display)
    plan = plan_from_document(doc, allow_outside_files=request.allow_outside_files)
    request.spec_ref = Ref(API_VERSION, "Topology", plan.name)
    return plan


# A spec says what it is in its first lines; a file that does not is never quoted back.
_SPEC_HEAD = re.compile(r"^(kind:[ \t]*['\"]?Topology|apiVersion:[ \t]*['\"]?aiogen\.io/)", re.MULTILINE)


def _spec_document(path: Path, display: str) -> Any:
    """The spec file, read and parsed as `aiogen render` does (`aiogen.pipeline.load_topology`).

    A RenderConfig may name any file; one that is not a Topology (``/etc/shadow``) gets one line
    saying so, and none of its content is echoed in a message.
    """
    from aiogen.yamlio.parse import parse_yaml
    from aiogen.yamlio.read import read_text

    text = read_text(path, display=display)
    not_a_spec = AiogenError.single(
        f"{display} is not a topology spec (a YAML mapping with apiVersion: {API_VERSION} and kind: Topology)")
    try:
        doc = parse_yaml(text, source=display, base_dir=path.resolve().parent)
    except AiogenError:
        if _SPEC_HEAD.search(text) is None:
            raise not_a_spec from None
        raise
    data = doc.data
    if not isinstance(data, dict) or (data.get("kind") != "Topology" and data.get("apiVersion") != API_VERSION):
        raise not_a_spec  # a spec with a misspelt kind or apiVersion still gets its located errors
    return doc


def _clusters(request: Request, plan: Plan) -> list[str]:
    known = [c.name for c in plan.clusters]
    if request.clusters is None:
        if len(known) == 1:
            return known
        if request.topology_path is None:
            at: tuple[str | int, ...] = ("metadata",)
            where = f"the annotation aiogen.io/clusters: \"{known[0]}\""
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


def _keep(items: Sequence[Item], config: Mapping[str, Any], rendered: Sequence[RenderedCluster],
          stage: str | None) -> list[Item]:
    """The input items to return: all but kustomize's copy of the config and aiogen's own earlier
    output (of the stage rendered: a pipeline may render each stage with its own function)."""
    from aiogen.output.layout import cluster_path, resource_path, stage_of
    from aiogen.render import Resource

    config_id = (config.get("apiVersion"), config.get("kind"), str(mapping(config, "metadata").get("name") or ""))
    generated = {_identity(r.api_version, r.kind, r.namespace, r.name): c.name
                 for c in rendered for r in c.resources}
    cluster_names = {c.name for c in rendered}
    kept: list[Item] = []
    conflicts: list[Problem] = []
    for item in items:
        if item.path is None and (item.api_version, item.kind, item.name) == config_id:
            continue  # kustomize's copy of the generator's own config (local-config, never output)
        identity = _identity(item.api_version, item.kind, item.namespace, item.name)
        cluster = generated.get(identity)
        if item.path is not None and item.kind and item.name and item.path.split("/", 1)[0] in cluster_names:
            resource = Resource({"kind": item.kind, "metadata": {"name": item.name, "namespace": item.namespace}})
            # where aiogen wrote it on an earlier run (before install stages: without the stage folder)
            places = (cluster_path(resource), resource_path(resource))
            ours = {f"{name}/{at}" for name in cluster_names for at in places}
            if item.path in ours and stage in (None, stage_of(resource)):
                continue  # replaced (or dropped when no longer rendered)
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


def _generated(rendered: Sequence[RenderedCluster]) -> list[Generated]:
    """Rendered resources as items, each annotated with the file `aiogen render -o DIR` writes it to
    (kpt writes it there in a package; kustomize strips these annotations from its output)."""
    from aiogen.output import layout
    from aiogen.yamlio import write as yaml_write

    out: list[Generated] = []
    for cluster in rendered:
        for resource in layout.sorted_resources(cluster.resources):
            path = f"{cluster.name}/{layout.cluster_path(resource)}"
            obj = dict(resource.obj)
            metadata = dict(obj["metadata"])
            metadata["annotations"] = {**(metadata.get("annotations") or {}),
                                       PATH_ANNOTATIONS[0]: path, PATH_ANNOTATIONS[1]: path}
            obj["metadata"] = metadata
            out.append(Generated(layout.HEADER + yaml_write.to_yaml(obj)))
    return out
