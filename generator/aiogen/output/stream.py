"""Every resource as one multi-document YAML stream (what `aiogen render -o -` prints)."""

from __future__ import annotations

from collections.abc import Iterable

from aiogen.output.keyscan import assert_no_private_key
from aiogen.output.layout import BROKER, cluster_path, sorted_resources
from aiogen.render import RenderedCluster
from aiogen.yamlio.write import to_yaml


def stream(rendered: Iterable[RenderedCluster]) -> str:
    """All resources as one multi-document YAML stream (what `-o -` prints).

    One stream even though a directory splits into stages: each document's comment names the file
    it would be written to, stage included. Files that are no Kubernetes objects (INSTALL.md, the
    trust settings, an ARM template) are not part of the stream.
    """
    parts: list[str] = []
    for cluster in rendered:
        for resource in sorted_resources(cluster.resources):
            parts.append(f"---\n# aiogen: {cluster.name}/{cluster_path(resource)}\n{to_yaml(resource.obj)}")
        for path, _ in cluster.extra_files:
            if path.startswith(f"{BROKER}/"):  # brokers managed from Azure: say where the listeners went
                parts.append(f"# aiogen note: {cluster.name}/{path} holds this cluster's broker resources as an "
                             "ARM template, which is not part of this stream (render to a directory: -o DIR)\n")
    text = "".join(parts)
    assert_no_private_key("the output stream", text)
    return text
