"""What every rule of one resolution shares: the spec, its PEM inputs, the fleet-wide roots, and
for a cluster's rules, where that cluster stands (its path, namespaces, issuer, rotations)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiogen.model.plan import ClientRoot, IssuerRef, Namespaces, RootCA, RotationState
from aiogen.model.record import field, record
from aiogen.resolve.context import Context
from aiogen.resolve.inputs import PemInputs
from aiogen.yamlio.document import PathKey

if TYPE_CHECKING:  # the Topology's classes, for annotations: resolve never builds one
    from aiogen.model import spec

S: PathKey = ("spec",)


@record(frozen=False)
class Fleet:
    """The Topology being resolved, and what is resolved once for every cluster."""

    topology: spec.Topology
    ctx: Context
    inputs: PemInputs
    roots: dict[str, RootCA | None] = field(default_factory=dict)  # pinned roots of spec.roots
    client_roots: dict[str, ClientRoot | None] = field(default_factory=dict)

    @property
    def spec(self) -> spec.TopologySpec:
        return self.topology.spec

    @property
    def organization(self) -> str:
        """Subject O= of in-cluster CAs."""
        return self.spec.defaults.organization or self.topology.metadata.name


@record(frozen=False)
class ClusterScope:
    """One cluster being resolved: its spec, where it stands in the file, its namespaces and issuer."""

    fleet: Fleet
    cluster: spec.Cluster
    path: PathKey
    rotations: tuple[RotationState, ...]
    ns: Namespaces
    issuer: IssuerRef

    @property
    def ctx(self) -> Context:
        return self.fleet.ctx

    @property
    def ca_namespace(self) -> str:
        """Where the CA Secrets live: cert-manager's cluster resource namespace for a ClusterIssuer."""
        return self.ns.cluster_resource if self.issuer.kind == "ClusterIssuer" else self.ns.aio
