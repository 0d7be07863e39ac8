"""Topology → Plan: every default applied, every name derived, every cross-object rule checked.

The Plan is the one resolved model that render, lint, rollout check and simulate consume; nothing
downstream re-derives a name or re-reads the spec. Resolution collects every problem (errors and
warnings) before raising, so `aiogen validate` can print them all at once.

Rules and their sources: reference/cert-manager.md (§1.3 webhook rules, §2.2 chain contents, §2.3
namespaces, §6.4 trust namespace, §7 rollover pitfalls) and reference/aio.md (§2.4 listener
constraints, §3 X.509 authentication, §4 trust settings).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING

from pydantic.alias_generators import to_camel

from aiogen.model import names, spec
from aiogen.model.durations import describe
from aiogen.model.phases import PHASES
from aiogen.model.plan import (
    SELF_SIGNED_ISSUER,
    AutomaticTls,
    Bundle,
    ClientAuth,
    ClientRoot,
    Cluster,
    InClusterCA,
    IssuerRef,
    KeyVaultSync,
    LabelSelector,
    Listener,
    ListenerPort,
    ManualTls,
    Namespaces,
    Plan,
    RootCA,
    RotationState,
    Signer,
    TrustSettings,
)
from aiogen.model.problems import AiogenError
from aiogen.resolve.chain_rules import check_chains
from aiogen.resolve.context import Context
from aiogen.yamlio.document import Document, PathKey

if TYPE_CHECKING:
    from aiogen.pki.pem import CertSummary

ReservedPort = 18883  # the default listener's port (reference/aio.md §2.4)
MIN_DURATION = timedelta(hours=1)  # cert-manager MinimumCertificateDuration
MIN_RENEW_BEFORE = timedelta(minutes=5)  # cert-manager MinimumRenewBefore
# Key Vault secret names (1-127 of [0-9a-zA-Z-]) that also match SecretSync's sourcePath pattern.
_KV_SECRET = re.compile(r"[A-Za-z0-9](?:[-A-Za-z0-9]{0,125}[A-Za-z0-9])?")


# ---------------------------------------------------------------- resolution


def resolve(
    topology: spec.Topology,
    doc: Document | None = None,
    *,
    now: datetime | None = None,
    allow_outside_files: bool = False,
) -> Plan:
    """Resolve a Topology into a Plan, or raise `AiogenError` listing every problem."""
    from aiogen.pki.pem import now_utc

    ctx = Context(doc, now or now_utc(), allow_outside_files)
    resolver = _Resolver(topology, ctx)
    plan = resolver.run()
    if ctx.errors:
        raise AiogenError(tuple(ctx.errors), warnings=tuple(ctx.warnings))
    assert plan is not None
    return Plan(plan.name, plan.clusters, plan.rotations, tuple(ctx.warnings))


S = ("spec",)


class _Resolver:
    def __init__(self, topology: spec.Topology, ctx: Context) -> None:
        self.t = topology
        self.s = topology.spec
        self.ctx = ctx
        self.roots: dict[str, RootCA | None] = {}
        self.client_roots: dict[str, ClientRoot | None] = {}
        self.organization = self.s.defaults.organization or topology.metadata.name

    # -- top level

    def run(self) -> Plan | None:
        ctx = self.ctx
        ctx.check_name(("metadata", "name"), self.t.metadata.name, "subdomain")
        for name, root in self.s.roots.items():
            path: PathKey = (*S, "roots", name)
            ctx.check_name(path, name, "label")
            if root.self_signed is None:
                self.roots[name] = self._pinned_root(path, name, root)
        for name, client_root in self.s.client_roots.items():
            path = (*S, "clientRoots", name)
            ctx.check_name(path, name, "label")
            self.client_roots[name] = self._client_root(path, name, client_root)
        rotations = self._rotations()
        seen: dict[str, int] = {}
        clusters: list[Cluster] = []
        for index, cluster in enumerate(self.s.clusters):
            path = (*S, "clusters", index)
            if cluster.name in seen:
                ctx.error(
                    (*path, "name"), f"cluster {cluster.name!r} is already defined at clusters[{seen[cluster.name]}]"
                )
                continue
            seen[cluster.name] = index
            ctx.check_name((*path, "name"), cluster.name, "label")
            mine = tuple(r for r in rotations if cluster.name in r.clusters)
            resolved = _ClusterResolver(self, cluster, path, mine).run()
            if resolved is not None:
                clusters.append(resolved)
        self._unused_roots(clusters)
        return Plan(self.t.metadata.name, tuple(clusters), tuple(rotations))

    def _pinned_root(self, path: PathKey, name: str, root: spec.Root) -> RootCA | None:
        assert root.certificate is not None
        certs = self.ctx.read_pem((*path, "certificate", "file"), root.certificate.file)
        if certs is None:
            return None
        fpath = (*path, "certificate", "file")
        if len(certs) != 1:
            self.ctx.error(fpath, f"holds {len(certs)} certificates; a root file holds exactly one")
            return None
        cert = certs[0]
        if not cert.self_signed:
            self.ctx.error(
                fpath,
                f"{cert.subject!r} is not self-signed (issued by {cert.issuer!r}); a root must be",
                "list intermediates under a cluster's pki.intermediate.certificate instead",
            )
            return None
        if not cert.is_ca:
            self.ctx.error(fpath, f"{cert.subject!r} is not a CA certificate (BasicConstraints CA:TRUE missing)")
            return None
        self._check_validity(fpath, cert, root.allow_expired)
        return RootCA(name, cert, None)

    def _client_root(self, path: PathKey, name: str, root: spec.ClientRoot) -> ClientRoot | None:
        fpath = (*path, "certificate", "file")
        certs = self.ctx.read_pem(fpath, root.certificate.file)
        if certs is None:
            return None
        if len(certs) != 1:
            self.ctx.error(fpath, f"holds {len(certs)} certificates; a client root file holds exactly one")
            return None
        cert = certs[0]
        if not cert.is_ca:
            self.ctx.error(fpath, f"{cert.subject!r} is not a CA certificate; the broker trusts CAs only")
            return None
        if not cert.self_signed:
            self.ctx.warn(fpath, f"{cert.subject!r} is not self-signed; clients must then send the chain above it")
        self._check_validity(fpath, cert, root.allow_expired)
        return ClientRoot(name, cert, root.max_leaf_lifetime)

    def _check_validity(self, path: PathKey, cert: CertSummary, allow_expired: bool) -> None:
        now = self.ctx.now
        if cert.not_after <= now and not allow_expired:
            self.ctx.error(
                path,
                f"{cert.subject!r} expired on {cert.not_after.date().isoformat()}",
                "replace it, or set allowExpired: true if you know why",
            )
        elif cert.not_before > now:
            self.ctx.warn(path, f"{cert.subject!r} is not valid before {cert.not_before.isoformat()}")

    def root_for(
        self, path: PathKey, ref: str | spec.InlineRoot, cluster: str, namespace: str, taken_default: bool
    ) -> RootCA | None:
        """The RootCA a cluster's pki (or next chain) names; in-cluster roots are per cluster."""
        if isinstance(ref, str):
            if ref not in self.s.roots:
                known = ", ".join(sorted(self.s.roots)) or "none"
                self.ctx.error(path, f"root {ref!r} is not defined in spec.roots (defined: {known})")
                return None
            definition: spec.Root = self.s.roots[ref]
            if definition.self_signed is None:
                return self.roots.get(ref)
            return self._in_cluster_root(path, ref, definition.self_signed, namespace)
        name = ref.name or (f"{cluster}-root" if not taken_default else None)
        if name is None:
            self.ctx.error(
                (*path, "name"), "an inline root in pki.next needs a `name` different from the current root's"
            )
            return None
        self.ctx.check_name((*path, "name"), name, "label")
        if ref.self_signed is None:
            return self._pinned_root(path, name, ref)
        return self._in_cluster_root(path, name, ref.self_signed, namespace)

    def _in_cluster_root(self, path: PathKey, name: str, ca: spec.InClusterCA, namespace: str) -> RootCA:
        plan = _in_cluster_ca(
            self.ctx,
            (*path, "selfSigned"),
            ca,
            name,
            name,
            namespace,
            IssuerRef(SELF_SIGNED_ISSUER, "Issuer"),
            self.organization,
            is_root=True,
        )
        return RootCA(name, None, plan)

    # -- rotations

    def _rotations(self) -> list[RotationState]:
        ctx = self.ctx
        out: list[RotationState] = []
        names_seen: set[str] = set()
        for index, rotation in enumerate(self.s.rotations):
            path = (*S, "rotations", index)
            ctx.check_name((*path, "name"), rotation.name, "label")
            if rotation.name in names_seen:
                ctx.error((*path, "name"), f"rotation {rotation.name!r} is defined twice")
            names_seen.add(rotation.name)
            self._check_started(path, rotation)
            clusters = self._rotation_clusters(path, rotation)
            retiring = self.s.client_roots.get(rotation.from_ or "") if rotation.kind == "clientRoot" else None
            out.append(
                RotationState(
                    rotation.name,
                    rotation.kind,
                    rotation.from_,
                    rotation.to,
                    rotation.phase,
                    tuple((p, rotation.started[p]) for p in PHASES if p in rotation.started),
                    rotation.min_dwell,
                    clusters,
                    retiring.max_leaf_lifetime if retiring else None,
                )
            )
        return out

    def _check_started(self, path: PathKey, rotation: spec.Rotation) -> None:
        upto = PHASES[: PHASES.index(rotation.phase) + 1]
        missing = [p for p in upto if p not in rotation.started]
        extra = [p for p in rotation.started if p not in upto]
        if missing:
            self.ctx.error(
                (*path, "started"),
                f"phase {rotation.phase!r} needs the date each phase began; missing: {', '.join(missing)}",
            )
        if extra:
            self.ctx.error(
                (*path, "started"), f"records {', '.join(extra)}, which come after the current phase {rotation.phase!r}"
            )
        dates = [(p, rotation.started[p]) for p in PHASES if p in rotation.started]
        for (p1, d1), (p2, d2) in pairwise(dates):
            if d2 < d1:
                self.ctx.error((*path, "started", p2), f"{p2} began {d2.isoformat()}, before {p1} ({d1.isoformat()})")

    def _rotation_clusters(self, path: PathKey, rotation: spec.Rotation) -> tuple[str, ...]:
        ctx = self.ctx
        all_names = [c.name for c in self.s.clusters]
        if rotation.clusters is not None:
            for i, name in enumerate(rotation.clusters):
                if name not in all_names:
                    ctx.error((*path, "clusters", i), f"cluster {name!r} is not defined")
        scope = [c for c in self.s.clusters if rotation.clusters is None or c.name in rotation.clusters]
        if rotation.kind == "intermediate":
            if rotation.from_ is not None or rotation.to is not None:
                ctx.error(
                    path,
                    "an intermediate rotation names no roots; drop from/to",
                    "the new intermediate is each cluster's pki.next.intermediate",
                )
            if rotation.clusters is None:
                ctx.error((*path, "clusters"), "an intermediate rotation must list the clusters it moves")
                return ()
            affected = [c.name for c in scope]
        else:
            if rotation.from_ is None or rotation.to is None:
                ctx.error(path, f"a {rotation.kind} rotation needs both `from` and `to`")
                return ()
            if rotation.from_ == rotation.to:
                ctx.error((*path, "to"), "`to` must differ from `from`")
            registry = self.s.roots if rotation.kind == "serverRoot" else self.s.client_roots
            kind_name = "spec.roots" if rotation.kind == "serverRoot" else "spec.clientRoots"
            inline = {self._inline_name(c, c.pki.root) for c in self.s.clusters} | {
                self._inline_name(c, c.pki.next.root) for c in self.s.clusters if c.pki.next
            }
            for key in ("from", "to"):
                value = rotation.from_ if key == "from" else rotation.to
                if value not in registry and (rotation.kind == "clientRoot" or value not in inline):
                    ctx.error((*path, key), f"{value!r} is not defined in {kind_name}")
            if rotation.kind == "serverRoot":
                affected = [c.name for c in scope if self._inline_name(c, c.pki.root) == rotation.from_]
            else:
                affected = [
                    c.name
                    for c in scope
                    if c.broker.authentication.x509 is not None
                    and rotation.from_ in c.broker.authentication.x509.trusted_client_roots
                ]
        if not affected:
            ctx.error(
                path,
                f"rotation {rotation.name!r} moves no cluster",
                "when a rotation is finished, remove it from spec.rotations",
            )
        return tuple(affected)

    @staticmethod
    def _inline_name(cluster: spec.Cluster, ref: str | spec.InlineRoot) -> str:
        if isinstance(ref, str):
            return ref
        return ref.name or f"{cluster.name}-root"

    def _unused_roots(self, clusters: Iterable[Cluster]) -> None:
        used = {s.root.name for c in clusters for s in c.signers}
        # a rotation in retire still names its old root; that root goes with the finished rotation
        used |= {r.from_ for r in self.s.rotations if r.kind == "serverRoot" and r.from_}
        for name in self.s.roots:
            if name not in used and self.roots.get(name, True) is not None:
                self.ctx.warn((*S, "roots", name), f"root {name!r} is not used by any cluster")


def _in_cluster_ca(
    ctx: Context,
    path: PathKey,
    ca: spec.InClusterCA,
    certificate_name: str,
    secret_name: str,
    namespace: str,
    issuer_ref: IssuerRef,
    organization: str,
    *,
    is_root: bool,
) -> InClusterCA:
    """An in-cluster CA Certificate, checked against cert-manager's webhook rules (§1.3)."""
    if not ca.common_name.strip():
        ctx.error((*path, "commonName"), "a CA needs a non-empty commonName (cert-manager requires a CN or SAN)")
    if len(ca.common_name) > 64:
        ctx.error((*path, "commonName"), f"is {len(ca.common_name)} characters; cert-manager allows at most 64")
    _check_lifetime(ctx, path, ca.duration, ca.renew_before)
    if is_root and ca.private_key.rotation_policy == "Always":
        ctx.warn(
            (*path, "privateKey", "rotationPolicy"),
            "Always gives the root a new key at every renewal; leaves signed by the old key stop verifying "
            "(reference/cert-manager.md §7.5)",
            "use Never and roll the root over with a rotation",
        )
    ctx.check_name(path, secret_name, "subdomain")
    return InClusterCA(
        certificate_name,
        secret_name,
        namespace,
        ca.common_name,
        ca.organization or organization,
        ca.duration,
        ca.renew_before,
        ca.private_key.algorithm,
        ca.private_key.rotation_policy,
        issuer_ref,
    )


def _check_lifetime(ctx: Context, path: PathKey, duration: timedelta, renew_before: timedelta) -> None:
    if duration < MIN_DURATION:
        ctx.error((*path, "duration"), f"{describe(duration)} is shorter than cert-manager's minimum of 1h")
    if renew_before < MIN_RENEW_BEFORE:
        ctx.error((*path, "renewBefore"), f"{describe(renew_before)} is shorter than cert-manager's minimum of 5m")
    if renew_before >= duration:
        ctx.error(
            (*path, "renewBefore"),
            f"{describe(renew_before)} must be shorter than duration {describe(duration)}",
            "cert-manager rejects renewBefore >= duration",
        )


def _pick(override: bool | None, default: bool) -> bool:
    return default if override is None else override


def _family(algorithm: str | None) -> str | None:
    if algorithm is None:
        return None
    return "EC" if algorithm.startswith("Ec") else "RSA" if algorithm.startswith("Rsa") else algorithm


class _ClusterResolver:
    def __init__(self, top: _Resolver, cluster: spec.Cluster, path: PathKey, rotations: tuple[RotationState, ...]):
        self.top = top
        self.ctx = top.ctx
        self.c = cluster
        self.path = path
        self.rotations = rotations

    def run(self) -> Cluster | None:
        ctx, c, path = self.ctx, self.c, self.path
        errors_before = len(ctx.errors)
        d = self.top.s.defaults
        o = c.namespaces or spec.NamespacesOverride()
        ns = Namespaces(
            o.aio or d.namespaces.aio,
            o.trust or d.namespaces.trust,
            o.cluster_resource or d.namespaces.cluster_resource,
        )
        for field_name, value in (("aio", ns.aio), ("trust", ns.trust), ("clusterResource", ns.cluster_resource)):
            problem = names.label_problem(value)
            if problem:
                where = (
                    (*path, "namespaces", field_name) if c.namespaces else (*S, "defaults", "namespaces", field_name)
                )
                ctx.error(where, f"namespace {value!r} {problem}")
        io = c.pki.issuer or spec.IssuerOverride()
        issuer = IssuerRef(io.name or d.issuer.name, io.kind or d.issuer.kind)
        ctx.check_name(
            (*path, "pki", "issuer", "name") if io.name else (*S, "defaults", "issuer", "name"),
            issuer.name,
            "subdomain",
        )
        ca_namespace = ns.cluster_resource if issuer.kind == "ClusterIssuer" else ns.aio
        self.ns, self.issuer, self.ca_namespace = ns, issuer, ca_namespace

        server_rotation = next((r for r in self.rotations if r.kind in ("serverRoot", "intermediate")), None)
        extra = [r for r in self.rotations if r.kind in ("serverRoot", "intermediate")][1:]
        for r in extra:
            ctx.error(
                (*path, "name"),
                f"cluster {c.name!r} is moved by two rotations at once "
                f"({server_rotation.name if server_rotation else ''}, {r.name})",
                "finish one before starting the next",
            )
        current = self._chain((*path, "pki"), c.pki.root, c.pki.intermediate, next_chain=False)
        nxt = None
        if c.pki.next is not None:
            nxt = self._chain((*path, "pki", "next"), c.pki.next.root, c.pki.next.intermediate, next_chain=True)
            if server_rotation is None:
                ctx.error(
                    (*path, "pki", "next"),
                    "pki.next is set but no rotation moves this cluster",
                    "add a rotation to spec.rotations, or remove pki.next",
                )
        elif server_rotation is not None:
            ctx.error(
                (*path, "pki"),
                f"rotation {server_rotation.name!r} moves this cluster, but pki.next "
                "(the chain it moves to) is not set",
            )
        if current is None or (c.pki.next is not None and nxt is None) or len(ctx.errors) > errors_before:
            self._listeners_and_auth(None, None)  # still report listener problems
            return None
        if server_rotation is not None and nxt is not None:
            self._check_rotation_target(server_rotation, current, nxt)
        signer, signers, server_roots = self._phase(server_rotation, current, nxt)
        self._check_signer_namespaces(signers)
        trust = c.trust or d.trust
        pinned_cm, aio_bundle, client_bundles = self._trust(trust, ns)
        for signer_ in signers:
            root = signer_.root
            if root.in_cluster is not None and signer_.namespace != ns.trust:
                ctx.error(
                    (*path, "pki"),
                    f"in-cluster root {root.name!r} would live in namespace "
                    f"{signer_.namespace!r}, but trust-manager reads Bundle sources only from the trust "
                    f"namespace {ns.trust!r} (reference/cert-manager.md §6.4)",
                    "use a ClusterIssuer with clusterResource == trust namespace, or bring a root by its PEM",
                )
        client_auth = self._client_auth(ns)
        listeners = self._listeners_and_auth(signers, client_auth)
        if len(ctx.errors) > errors_before or listeners is None:
            return None
        self._check_lifetimes(signers, listeners)
        check_chains(ctx, path, signers, listeners, client_auth)
        return Cluster(
            c.name,
            c.pki.mode,
            ns,
            issuer,
            ns.aio if issuer.kind == "Issuer" else None,
            ca_namespace,
            signer,
            signers,
            server_roots,
            pinned_cm,
            aio_bundle,
            client_bundles,
            client_auth,
            listeners,
            TrustSettings(aio_bundle.name, aio_bundle.key, issuer.kind, issuer.name),
            self.rotations,
            (ns.aio,) if _pick(o.create, d.namespaces.create) else (),
            c.broker.resources or d.broker_resources,
        )

    # -- CA chains

    def _chain(
        self,
        path: PathKey,
        root_ref: str | spec.InlineRoot,
        intermediate: spec.Intermediate | None,
        *,
        next_chain: bool,
    ) -> Signer | None:
        ctx, c = self.ctx, self.c
        root = self.top.root_for((*path, "root"), root_ref, c.name, self.ca_namespace, taken_default=next_chain)
        if c.pki.mode == "single-root":
            if intermediate is not None:
                ctx.error(
                    (*path, "intermediate"),
                    "single-root mode signs with the root itself; "
                    "use mode: intermediate for a per-cluster intermediate",
                )
                return None
            if root is None:
                return None
            return self._root_signer(path, root_ref, root)
        if intermediate is None:
            ctx.error(
                (*path, "intermediate"),
                "intermediate mode needs the cluster's intermediate CA (keyVault, secret or inCluster)",
            )
            return None
        if root is None:
            return None
        return self._intermediate_signer((*path, "intermediate"), root, intermediate)

    def _root_signer(self, path: PathKey, root_ref: str | spec.InlineRoot, root: RootCA) -> Signer | None:
        definition = self.top.s.roots[root_ref] if isinstance(root_ref, str) else root_ref
        if root.in_cluster is not None:
            return Signer(root.name, "root", "in-cluster", root, root.in_cluster.secret_name, self.ca_namespace)
        rpath = (*S, "roots", root_ref) if isinstance(root_ref, str) else (*path, "root")
        if definition.key_vault is not None:
            kv = self._key_vault((*rpath, "keyVault"), definition.key_vault)
            return Signer(
                root.name,
                "root",
                "key-vault",
                root,
                kv.secret_name,
                self.ca_namespace,
                key_vault=kv,
                chain=(root.certificate,) if root.certificate else (),
            )
        if definition.secret is not None:
            self.ctx.check_name((*rpath, "secret", "name"), definition.secret.name, "subdomain")
            return Signer(
                root.name,
                "root",
                "secret",
                root,
                definition.secret.name,
                self.ca_namespace,
                chain=(root.certificate,) if root.certificate else (),
            )
        self.ctx.error(
            (*path, "root"),
            f"single-root mode signs with root {root.name!r}, but its keypair has no source",
            f"give spec.roots.{root.name} a keyVault or secret, or use selfSigned",
        )
        return None

    def _intermediate_signer(self, path: PathKey, root: RootCA, source: spec.Intermediate) -> Signer | None:
        ctx = self.ctx
        chain: tuple[CertSummary, ...] = ()
        if source.certificate is not None:
            chain = self._intermediate_chain((*path, "certificate", "file"), source.certificate.file, root) or ()
        if source.key_vault is not None:
            kv = self._key_vault((*path, "keyVault"), source.key_vault)
            return Signer(
                kv.secret_name,
                "intermediate",
                "key-vault",
                root,
                kv.secret_name,
                self.ca_namespace,
                key_vault=kv,
                chain=chain,
            )
        if source.secret is not None:
            ctx.check_name((*path, "secret", "name"), source.secret.name, "subdomain")
            return Signer(
                source.secret.name, "intermediate", "secret", root, source.secret.name, self.ca_namespace, chain=chain
            )
        assert source.in_cluster is not None
        if root.in_cluster is None:
            ctx.error(
                (*path, "inCluster"),
                f"an in-cluster intermediate needs an in-cluster root to sign it; root "
                f"{root.name!r} is known only by its certificate",
                "bring the intermediate through keyVault or secret (sign it offline with `aiogen ca intermediate`)",
            )
            return None
        name = source.name or f"{self.issuer.name}-{root.name}"
        ca = _in_cluster_ca(
            ctx,
            (*path, "inCluster"),
            source.in_cluster,
            name,
            name,
            self.ca_namespace,
            IssuerRef(f"{root.name}-ca", "Issuer"),
            self.top.organization,
            is_root=False,
        )
        return Signer(name, "intermediate", "in-cluster", root, name, self.ca_namespace, in_cluster=ca)

    def _intermediate_chain(self, path: PathKey, relative: str, root: RootCA) -> tuple[CertSummary, ...] | None:
        from aiogen.pki import pem

        certs = self.ctx.read_pem(path, relative)
        if not certs:
            return None
        ctx = self.ctx
        for index, cert in enumerate(certs):
            if cert.self_signed:
                ctx.error(
                    path,
                    f"certificate {index + 1} ({cert.subject!r}) is a self-signed root; the intermediate "
                    "chain must exclude the root (reference/cert-manager.md §2.2)",
                    "remove the root from the file",
                )
                return None
            if not cert.is_ca:
                ctx.error(path, f"certificate {index + 1} ({cert.subject!r}) is not a CA")
                return None
        x509s = [_load(c.pem) for c in certs]
        for index in range(len(certs) - 1):
            if not pem.signed_by(x509s[index], x509s[index + 1]):
                ctx.error(
                    path,
                    f"certificate {index + 1} ({certs[index].subject!r}) is not signed by certificate "
                    f"{index + 2} ({certs[index + 1].subject!r})",
                    "order the chain child first, then its issuer",
                )
                return None
        if root.certificate is not None and not pem.signed_by(x509s[-1], _load(root.certificate.pem)):
            ctx.error(
                path,
                f"{certs[-1].subject!r} is not signed by root {root.name!r} ({root.certificate.subject!r})",
                "the intermediate must chain to the cluster's root",
            )
            return None
        for cert in certs:
            self.top._check_validity(path, cert, False)
            if root.certificate is not None and cert.not_after > root.certificate.not_after:
                ctx.error(
                    path,
                    f"{cert.subject!r} expires {cert.not_after.date()} after its root "
                    f"{root.name!r} ({root.certificate.not_after.date()})",
                    "a child must not outlive its issuer",
                )
        return certs

    def _key_vault(self, path: PathKey, kv: spec.KeyVault) -> KeyVaultSync:
        secret = kv.secret_name or kv.certificate_secret
        problem = names.subdomain_problem(secret)
        if problem:
            self.ctx.error(
                (*path, "secretName") if kv.secret_name else (*path, "certificateSecret"),
                f"Secret name {secret!r} {problem}",
                "set keyVault.secretName",
            )
        self.ctx.check_name((*path, "serviceAccount"), kv.service_account, "subdomain")
        for key, value in (("vault", kv.vault), ("clientID", kv.client_id), ("tenantID", kv.tenant_id)):
            if not value.strip():
                self.ctx.error((*path, key), "must not be empty")
        for key, value in (("certificateSecret", kv.certificate_secret), ("keySecret", kv.key_secret)):
            if not _KV_SECRET.fullmatch(value):
                self.ctx.error(
                    (*path, key),
                    f"{value!r} is not a Key Vault secret name usable as a SecretSync "
                    "sourcePath: 1-127 letters, digits and '-', starting and ending alphanumeric",
                )
        if kv.certificate_secret == kv.key_secret:
            self.ctx.error(
                (*path, "keySecret"), "the key and the certificate chain must be two different Key Vault secrets"
            )
        return KeyVaultSync(
            self.ca_namespace,
            kv.service_account,
            f"{secret}-kv",
            secret,
            kv.vault,
            kv.certificate_secret,
            kv.key_secret,
            kv.client_id,
            kv.tenant_id,
        )

    def _check_rotation_target(self, rotation: RotationState, current: Signer, nxt: Signer) -> None:
        path = (*self.path, "pki", "next")
        if rotation.kind == "serverRoot":
            if nxt.root.name != rotation.to:
                self.ctx.error(
                    (*path, "root"),
                    f"rotation {rotation.name!r} moves to root {rotation.to!r}, but pki.next.root is {nxt.root.name!r}",
                )
        elif rotation.kind == "intermediate":
            if nxt.root.name != current.root.name:
                self.ctx.error(
                    (*path, "root"),
                    f"intermediate rotation {rotation.name!r} keeps the root; pki.next.root "
                    f"is {nxt.root.name!r}, pki.root is {current.root.name!r}",
                    "use a serverRoot rotation to change roots",
                )
            if self.c.pki.mode != "intermediate":
                self.ctx.error((*self.path, "pki", "mode"), "an intermediate rotation needs mode: intermediate")
        if nxt.generation == current.generation or nxt.secret_name == current.secret_name:
            self.ctx.error(
                path,
                f"the new chain uses the same Secret {nxt.secret_name!r} as the current one",
                "give the new CA material its own name (keyVault.secretName, secret.name or name)",
            )

    def _phase(
        self, rotation: RotationState | None, current: Signer, nxt: Signer | None
    ) -> tuple[Signer, tuple[Signer, ...], tuple[RootCA, ...]]:
        """The phase table of DESIGN.md: who signs, which material exists, which roots are trusted."""
        if rotation is None or nxt is None:
            return current, (current,), (current.root,)
        phase = rotation.phase
        signer = current if phase in ("prepare", "distribute") else nxt
        signers = (nxt,) if phase == "retire" else (current, nxt)
        if rotation.kind == "intermediate":
            roots: tuple[RootCA, ...] = (current.root,)
        elif phase == "prepare":
            roots = (current.root,)
        elif phase == "retire":
            roots = (nxt.root,)
        else:
            roots = (current.root, nxt.root)
        return signer, signers, tuple(sorted(roots, key=lambda r: r.name))

    def _check_signer_namespaces(self, signers: tuple[Signer, ...]) -> None:
        seen: dict[str, str] = {}
        for signer in signers:
            if signer.secret_name in seen and seen[signer.secret_name] != signer.generation:
                self.ctx.error((*self.path, "pki"), f"two CA generations would share the Secret {signer.secret_name!r}")
            seen[signer.secret_name] = signer.generation

    # -- trust

    def _trust(self, trust: spec.Trust, ns: Namespaces) -> tuple[str, Bundle, tuple[Bundle, ...]]:
        ctx = self.ctx
        tpath = (*self.path, "trust") if self.c.trust else (*S, "defaults", "trust")
        ctx.check_name((*tpath, "pinnedRootsConfigMap"), trust.pinned_roots_config_map, "subdomain")
        ctx.check_name((*tpath, "aio", "name"), trust.aio.name, "subdomain")
        self._check_key((*tpath, "aio", "key"), trust.aio.key)
        aio = Bundle(
            trust.aio.name,
            trust.aio.key,
            LabelSelector((), (("kubernetes.io/metadata.name", "In", (ns.aio,)),)),
            f"the AIO namespace {ns.aio!r}",
        )
        bundles: list[Bundle] = []
        seen = {trust.aio.name: (*tpath, "aio", "name")}
        for index, client in enumerate(trust.clients):
            cpath = (*tpath, "clients", index)
            ctx.check_name((*cpath, "name"), client.name, "subdomain")
            self._check_key((*cpath, "key"), client.key)
            if client.name in seen:
                ctx.error(
                    (*cpath, "name"),
                    f"Bundle {client.name!r} is already defined; Bundles are cluster-scoped "
                    "and their target ConfigMaps take the Bundle's name",
                )
            seen[client.name] = (*cpath, "name")
            sel = client.namespace_selector
            if not sel.match_labels and not sel.match_expressions:
                ctx.error(
                    (*cpath, "namespaceSelector"),
                    "an empty selector targets every namespace (and a future trust-manager only its own)",
                    "give matchLabels or matchExpressions",
                )
            for i, expr in enumerate(sel.match_expressions):
                if expr.operator in ("In", "NotIn") and not expr.values:
                    ctx.error(
                        (*cpath, "namespaceSelector", "matchExpressions", i, "values"),
                        f"operator {expr.operator} needs values",
                    )
                if expr.operator in ("Exists", "DoesNotExist") and expr.values:
                    ctx.error(
                        (*cpath, "namespaceSelector", "matchExpressions", i, "values"),
                        f"operator {expr.operator} takes no values",
                    )
            selector = LabelSelector(
                tuple(sorted(sel.match_labels.items())),
                tuple((e.key, e.operator, tuple(e.values)) for e in sel.match_expressions),
            )
            bundles.append(Bundle(client.name, client.key, selector, _describe_selector(selector)))
        if trust.pinned_roots_config_map in seen:
            ctx.error(
                (*tpath, "pinnedRootsConfigMap"),
                f"{trust.pinned_roots_config_map!r} is also a Bundle name; "
                "trust-manager would write the Bundle's target over the pinned roots in the trust namespace",
            )
        return trust.pinned_roots_config_map, aio, tuple(bundles)

    def _check_key(self, path: PathKey, key: str) -> None:
        problem = names.configmap_key_problem(key)
        if problem:
            self.ctx.error(path, f"{key!r} {problem}")

    # -- client authentication

    def _client_auth(self, ns: Namespaces) -> ClientAuth | None:
        x509 = self.c.broker.authentication.x509
        if x509 is None:
            return None
        ctx = self.ctx
        path = (*self.path, "broker", "authentication", "x509")
        ctx.check_name((*path, "name"), x509.name, "subdomain")
        ctx.check_name((*path, "clientCaConfigMap"), x509.client_ca_config_map, "subdomain")
        trust = self.c.trust or self.top.s.defaults.trust
        if x509.client_ca_config_map == trust.aio.name or x509.client_ca_config_map in {b.name for b in trust.clients}:
            ctx.error(
                (*path, "clientCaConfigMap"),
                f"{x509.client_ca_config_map!r} is also a trust Bundle's name; "
                "trust-manager would overwrite the client CAs in the AIO namespace",
            )
        names_: list[str] = []
        for index, name in enumerate(x509.trusted_client_roots):
            if name not in self.top.s.client_roots:
                known = ", ".join(sorted(self.top.s.client_roots)) or "none"
                ctx.error(
                    (*path, "trustedClientRoots", index),
                    f"client root {name!r} is not defined in spec.clientRoots (defined: {known})",
                )
            elif name in names_:
                ctx.error((*path, "trustedClientRoots", index), f"client root {name!r} is listed twice")
            else:
                names_.append(name)
        trusted = set(names_)
        for rotation in self.rotations:
            if rotation.kind != "clientRoot" or rotation.from_ not in trusted or rotation.to is None:
                continue
            if rotation.to not in self.top.s.client_roots:
                continue
            if rotation.phase in ("distribute", "switch"):
                trusted.add(rotation.to)
            elif rotation.phase == "retire":
                trusted.discard(rotation.from_)
                trusted.add(rotation.to)
        roots = [self.top.client_roots.get(n) for n in sorted(trusted)]
        families = {r.certificate.key_family for r in roots if r is not None}
        if len(families) > 1:
            ctx.warn(
                (*path, "trustedClientRoots"),
                f"client roots mix key families ({', '.join(sorted(families))}); "
                "AIO X.509 authentication needs one family per chain (reference/aio.md §3)",
            )
        attributes = tuple(
            (key, attr.subject, tuple(sorted(attr.attributes.items())))
            for key, attr in x509.authorization_attributes.items()
        )
        return ClientAuth(
            x509.name,
            ns.aio,
            x509.client_ca_config_map,
            "client_ca.pem",
            tuple(r for r in roots if r is not None),
            attributes,
            x509.service_account_token_fallback,
        )

    # -- listeners

    def _listeners_and_auth(
        self, signers: tuple[Signer, ...] | None, client_auth: ClientAuth | None
    ) -> tuple[Listener, ...] | None:
        ctx, c = self.ctx, self.c
        bpath = (*self.path, "broker")
        d = self.top.s.defaults
        lo = c.leaf or spec.LeafOverride()
        leaf_duration = lo.duration or d.leaf.duration
        leaf_renew = lo.renew_before or d.leaf.renew_before
        leaf_key = lo.private_key or d.leaf.private_key
        ports_seen: dict[int, str] = {ReservedPort: "the default listener"}
        types_seen: dict[str, str] = {"ClusterIp": "the default listener"}
        names_seen: dict[str, str] = {"default": "AIO's default listener"}
        services_seen: dict[str, str] = {"aio-broker": "AIO's default listener"}
        out: list[Listener] = []
        ns = getattr(self, "ns", None)
        aio_ns = ns.aio if ns else "azure-iot-operations"
        for li, listener in enumerate(c.broker.listeners):
            lpath = (*bpath, "listeners", li)
            if listener.name in names_seen:
                ctx.error((*lpath, "name"), f"listener name {listener.name!r} is taken by {names_seen[listener.name]}")
            names_seen.setdefault(listener.name, f"listeners[{li}]")
            if len(listener.name) < 3 or names.label_problem(listener.name):
                ctx.error(
                    (*lpath, "name"),
                    f"{listener.name!r} must be 3-63 characters of lowercase letters, digits "
                    "and '-', starting and ending alphanumeric (AIO resource name rule)",
                )
            service = listener.service_name or listener.name
            if names.label_problem(service):
                ctx.error((*lpath, "serviceName"), f"Service name {service!r} {names.label_problem(service)}")
            if service in services_seen:
                ctx.error(
                    (*lpath, "serviceName") if listener.service_name else (*lpath, "name"),
                    f"Service {service!r} is taken by {services_seen[service]}",
                )
            services_seen.setdefault(service, f"listener {listener.name!r}")
            if listener.service_type in types_seen:
                hint = (
                    "AIO allows one listener per service type; add ports to that listener"
                    if listener.service_type != "ClusterIp"
                    else "in-cluster ports belong on the default listener, which AIO manages; "
                    "use LoadBalancer or NodePort"
                )
                ctx.error(
                    (*lpath, "serviceType"),
                    f"{listener.service_type} is already used by {types_seen[listener.service_type]}",
                    hint,
                )
            types_seen.setdefault(listener.service_type, f"listener {listener.name!r}")
            ports: list[ListenerPort] = []
            for pi, port in enumerate(listener.ports):
                ppath = (*lpath, "ports", pi)
                if port.port in ports_seen:
                    port_hint = "18883 belongs to AIO's default listener" if port.port == ReservedPort else None
                    ctx.error(
                        (*ppath, "port"), f"port {port.port} is already used by {ports_seen[port.port]}", port_hint
                    )
                ports_seen.setdefault(port.port, f"listener {listener.name!r}")
                if port.node_port is not None:
                    if listener.service_type != "NodePort":
                        ctx.error(
                            (*ppath, "nodePort"),
                            f"nodePort needs serviceType NodePort (this listener is {listener.service_type})",
                        )
                    elif not 30000 <= port.node_port <= 32767:
                        ctx.warn(
                            (*ppath, "nodePort"),
                            f"{port.node_port} is outside Kubernetes' default NodePort range 30000-32767",
                        )
                tls = self._tls(ppath, listener, service, aio_ns, port, leaf_duration, leaf_renew, leaf_key)
                auth_ref: str | None = None
                if port.authentication == "x509":
                    if client_auth is None and c.broker.authentication.x509 is None:
                        ctx.error(
                            (*ppath, "authentication"),
                            "x509 needs broker.authentication.x509 (the client roots the broker trusts)",
                        )
                    if port.tls is None:
                        ctx.error((*ppath, "authentication"), "X.509 client authentication needs TLS on the port")
                    x509 = c.broker.authentication.x509
                    auth_ref = x509.name if x509 else None
                elif port.authentication == "serviceAccountToken":
                    auth_ref = "default"
                elif listener.service_type in ("LoadBalancer", "NodePort"):
                    ctx.warn((*ppath, "authentication"), "none: anyone who can reach this port can connect")
                if port.tls is None:
                    ctx.warn((*ppath, "tls"), "plain TCP: credentials and messages cross the network unencrypted")
                ports.append(ListenerPort(port.port, port.node_port, port.protocol, port.authentication, auth_ref, tls))
            out.append(
                Listener(listener.name, aio_ns, c.broker.broker_ref, service, listener.service_type, tuple(ports))
            )
        if c.broker.authentication.x509 is not None and not any(
            p.authentication == "x509" for lst in out for p in lst.ports
        ):
            ctx.warn(
                (*bpath, "authentication", "x509"),
                "no port uses x509 authentication; the BrokerAuthentication is rendered but unused",
            )
        if signers is not None:
            self._check_key_families(signers, out, bpath)
        return tuple(out)

    def _tls(
        self,
        path: PathKey,
        listener: spec.Listener,
        service: str,
        aio_ns: str,
        port: spec.ListenerPort,
        leaf_duration: timedelta,
        leaf_renew: timedelta,
        leaf_key: spec.PrivateKey,
    ) -> AutomaticTls | ManualTls | None:
        ctx = self.ctx
        tls = port.tls
        if tls is None:
            return None
        tpath = (*path, "tls")
        if tls.mode == "Manual":
            for name in ("duration", "renew_before", "private_key", "secret_name"):
                if getattr(tls, name) is not None:
                    ctx.error(tpath, f"Manual TLS uses an existing Secret; {to_camel(name)} applies to Automatic only")
            if tls.san.dns or tls.san.ip or tls.san.in_cluster_names:
                ctx.error(
                    (*tpath, "san"),
                    "Manual TLS uses an existing Secret; its SANs are whatever that certificate holds",
                    "drop san, or use mode: Automatic",
                )
            if not tls.secret_ref:
                ctx.error(
                    (*tpath, "secretRef"),
                    "Manual TLS needs secretRef: a kubernetes.io/tls Secret in the AIO "
                    "namespace holding leaf + intermediates",
                )
                return None
            ctx.check_name((*tpath, "secretRef"), tls.secret_ref, "subdomain")
            return ManualTls(tls.secret_ref)
        if tls.secret_ref is not None:
            ctx.error(
                (*tpath, "secretRef"), "secretRef is for Manual TLS; Automatic TLS gets its certificate from the issuer"
            )
        duration = tls.duration or leaf_duration
        renew = tls.renew_before or leaf_renew
        key = tls.private_key or leaf_key
        _check_lifetime(ctx, tpath, duration, renew)
        dns: list[str] = []
        for i, name in enumerate(tls.san.dns):
            problem = names.dns_name_problem(name)
            if problem:
                ctx.error((*tpath, "san", "dns", i), f"{name!r} {problem}")
            elif name.lower() in dns:
                ctx.error((*tpath, "san", "dns", i), f"{name!r} is listed twice")
            else:
                dns.append(name.lower())
        if tls.san.in_cluster_names:
            for name in (
                service,
                f"{service}.{aio_ns}",
                f"{service}.{aio_ns}.svc",
                f"{service}.{aio_ns}.svc.cluster.local",
            ):
                if name not in dns:
                    dns.append(name)
        ips: list[str] = []
        for i, ip in enumerate(tls.san.ip):
            problem = names.ip_problem(ip)
            if problem:
                ctx.error((*tpath, "san", "ip", i), f"{ip!r} {problem}")
                continue
            canonical = names.canonical_ip(ip)
            if canonical in ips:
                ctx.error((*tpath, "san", "ip", i), f"{ip!r} is listed twice")
            else:
                ips.append(canonical)
        external_names = [n for n in dns if n != service and not n.startswith(f"{service}.{aio_ns}")]
        if not external_names and not ips and listener.service_type in ("LoadBalancer", "NodePort"):
            what = "no SAN" if not dns else "only in-cluster SANs"
            ctx.warn(
                (*tpath, "san"),
                f"{what}: external clients will fail hostname verification",
                "add the DNS name or IP address clients dial",
            )
        secret = tls.secret_name or f"{listener.name}-{port.port}-server"
        ctx.check_name((*tpath, "secretName"), secret, "subdomain")
        return AutomaticTls(
            self.issuer, duration, renew, key.algorithm, key.rotation_policy, secret, tuple(dns), tuple(ips)
        )

    def _check_key_families(self, signers: tuple[Signer, ...], listeners: list[Listener], bpath: PathKey) -> None:
        for li, listener in enumerate(listeners):
            for pi, port in enumerate(listener.ports):
                if not isinstance(port.tls, AutomaticTls):
                    continue
                leaf_family = _family(port.tls.key_algorithm)
                for signer in signers:
                    for what, algorithm in (
                        ("root " + signer.root.name, signer.root.key_algorithm),
                        (f"CA {signer.generation}", signer.key_algorithm),
                    ):
                        family = _family(algorithm)
                        if family is None or family == leaf_family:
                            continue
                        message = (
                            f"leaf key {port.tls.key_algorithm} ({leaf_family}) and {what} ({algorithm}) are "
                            "different key families"
                        )
                        where = (*bpath, "listeners", li, "ports", pi, "tls", "privateKey")
                        if port.authentication == "x509":
                            self.ctx.error(
                                where,
                                message + "; AIO X.509 authentication needs one family per chain",
                                f"use an {family} key algorithm",
                            )
                        else:
                            self.ctx.warn(where, message)

    # -- lifetimes

    def _check_lifetimes(self, signers: tuple[Signer, ...], listeners: tuple[Listener, ...]) -> None:
        """issuer.renewBefore ≥ child.duration at every level (reference/cert-manager.md §7.7)."""
        ctx = self.ctx
        ppath = (*self.path, "pki")
        leaf = max(
            (
                (p.tls.duration, lst.name, p.port)
                for lst in listeners
                for p in lst.ports
                if isinstance(p.tls, AutomaticTls)
            ),
            default=None,
        )
        for signer in signers:
            root = signer.root
            if (
                signer.in_cluster is not None
                and root.in_cluster is not None
                and root.in_cluster.renew_before < signer.in_cluster.duration
            ):
                ctx.error(
                    ppath,
                    f"intermediate {signer.generation!r} lasts {describe(signer.in_cluster.duration)} "
                    f"but root {root.name!r} renews only {describe(root.in_cluster.renew_before)} before it "
                    "expires: an intermediate issued just before the renewal outlives the root",
                    "make the root's renewBefore at least the intermediate's duration",
                )
            if leaf is None:
                continue
            duration, lname, port = leaf
            limit = signer.max_child_duration
            if limit is not None and limit < duration:
                ctx.error(
                    ppath,
                    f"listener {lname}:{port} certificates last {describe(duration)} but CA "
                    f"{signer.generation!r} renews only {describe(limit)} before it expires: a leaf issued "
                    "just before the renewal outlives its CA (cert-manager does not shorten it)",
                    f"make the CA's renewBefore at least {describe(duration)}, or shorten the leaf duration",
                )
            known = signer.chain[0] if signer.chain else (root.certificate if signer.role == "root" else None)
            if known is not None:
                lifetime = known.not_after - known.not_before
                if duration > lifetime:
                    ctx.error(
                        ppath,
                        f"listener {lname}:{port} certificates last {describe(duration)}, longer than CA "
                        f"{known.subject!r} itself ({describe(lifetime)})",
                        "shorten the leaf duration",
                    )
                if duration <= lifetime and known.not_after - self.ctx.now < duration:
                    ctx.warn(
                        ppath,
                        f"CA {known.subject!r} expires {known.not_after.date().isoformat()}, within one leaf "
                        f"lifetime ({describe(duration)}): leaves issued now would outlive it",
                        "renew the CA (rotate to new material) before then",
                    )


def _describe_selector(selector: LabelSelector) -> str:
    parts = [f"{k}={v}" for k, v in selector.match_labels]
    parts += [f"{k} {op} ({', '.join(vals)})" if vals else f"{k} {op}" for k, op, vals in selector.match_expressions]
    return "namespaces labelled " + ", ".join(parts)


def _load(pem_text: str):  # type: ignore[no-untyped-def]
    from cryptography import x509

    return x509.load_pem_x509_certificate(pem_text.encode("ascii"))
