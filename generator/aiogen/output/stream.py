"""Every resource as one multi-document YAML stream (what `aiogen render -o -` prints)."""

from __future__ import annotations

from collections.abc import Iterable

from aiogen.output.keyscan import assert_no_private_key
from aiogen.output.layout import resource_path, sorted_resources
from aiogen.render import RenderedCluster
from aiogen.yamlio.write import to_yaml


def stream(rendered: Iterable[RenderedCluster]) -> str:
    """All resources as one multi-document YAML stream (what `-o -` prints)."""
    parts: list[str] = []
    for cluster in rendered:
        for resource in sorted_resources(cluster.resources):
            parts.append(f"---\n# aiogen: {cluster.name}/{resource_path(resource)}\n{to_yaml(resource.obj)}")
    text = "".join(parts)
    assert_no_private_key("the output stream", text)
    return text
