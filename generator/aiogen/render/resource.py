"""A rendered Kubernetes object, and one cluster's rendered output."""

from __future__ import annotations

from typing import Any

from aiogen.model.record import record


@record
class Resource:
    """One rendered Kubernetes object (a mapping, in the key order its template wrote)."""

    obj: dict[str, Any]

    @property
    def api_version(self) -> str:
        return str(self.obj["apiVersion"])

    @property
    def kind(self) -> str:
        return str(self.obj["kind"])

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])

    @property
    def namespace(self) -> str | None:
        ns = self.obj["metadata"].get("namespace")
        return str(ns) if ns is not None else None


@record
class RenderedCluster:
    name: str
    resources: tuple[Resource, ...]
    extra_files: tuple[tuple[str, str], ...]  # (path, text): trust settings, INSTALL.md, ca-bundle.pem, ARM template
