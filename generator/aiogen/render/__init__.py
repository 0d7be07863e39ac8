"""Plan → resources: one Jinja2 template per kind, fed only by the Plan.

The same function serves `aiogen render`, the KRM function and every test.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from aiogen.model.plan import Cluster, Plan
from aiogen.model.problems import AiogenError
from aiogen.render.files import extra_files
from aiogen.render.resource import RenderedCluster, Resource
from aiogen.render.resources import broker_objects, resources

__all__ = ["RenderedCluster", "Resource", "iter_render", "render", "render_cluster", "select"]


def render(plan: Plan, clusters: Sequence[str] | None = None) -> list[RenderedCluster]:
    """Render the named clusters (all when None), in spec order."""
    return list(iter_render(plan, clusters))


def iter_render(plan: Plan, clusters: Sequence[str] | None = None) -> Iterator[RenderedCluster]:
    """`render`, one cluster at a time, so a large fleet never holds every resource at once.

    Unknown cluster names are refused before the first cluster is rendered.
    """
    for cluster in select(plan, clusters):
        yield render_cluster(plan, cluster)


def select(plan: Plan, clusters: Sequence[str] | None) -> list[Cluster]:
    """The Plan's clusters named on the command line (all when None), in spec order."""
    if not clusters:
        return list(plan.clusters)
    known = {c.name for c in plan.clusters}
    missing = [n for n in clusters if n not in known]
    if missing:
        raise AiogenError.single(
            f"no cluster named {', '.join(repr(m) for m in missing)} in the spec",
            hint=f"clusters: {', '.join(c.name for c in plan.clusters)}",
        )
    chosen = set(clusters)
    return [c for c in plan.clusters if c.name in chosen]


def render_cluster(plan: Plan, cluster: Cluster) -> RenderedCluster:
    made = list(resources(cluster))
    _check_unique(cluster, [*made, *_azure_objects(cluster)])
    return RenderedCluster(cluster.name, tuple(made), extra_files(plan, cluster))


def _azure_objects(cluster: Cluster) -> list[Resource]:
    """The broker objects a cluster deploys through ARM instead of Kubernetes (none in Kubernetes mode)."""
    return list(broker_objects(cluster)) if cluster.broker_resources == "azure" else []


def _check_unique(cluster: Cluster, resources: list[Resource]) -> None:
    seen: set[tuple[str, str, str | None, str]] = set()
    for r in resources:
        key = (r.api_version.split("/")[0], r.kind, r.namespace, r.name)
        if key in seen:
            where = f"namespace {r.namespace!r}" if r.namespace else "cluster scope"
            raise AiogenError.single(
                f"cluster {cluster.name!r}: two {r.kind} objects named {r.name!r} in {where}",
                hint="rename one of them in the spec (issuer, Bundle, ConfigMap or Secret names)",
            )
        seen.add(key)
