"""Would every client accept every broker, in every phase of every rollover? ``aiogen simulate``.

The simulation builds a throwaway PKI from the Plan (`aiogen.simulate_pki`), issues every listener
certificate as cert-manager's CA issuer would, and for every listener port and every client
population checks the pair twice (`aiogen.simulate_handshake`): RFC 5280 path validation and a
real TLS handshake on loopback (mTLS where the port authenticates clients by X.509).

Client populations of a listener port (docs/simulate.md has the full model):

* **in-cluster**: one per trust-manager Bundle (the AIO namespace's, and each labelled-namespace
  Bundle); trust = the Plan's ``server_roots``; they dial the Service's in-cluster name
  ``<service>.<aio-ns>.svc.cluster.local`` when the listener declares in-cluster names in its
  SANs (``inClusterNames: true`` adds them), else the external name. On an X.509 port they
  present a device certificate (of the phase's first device root) unless the port falls back to
  service-account tokens.
* **external**: ``ca-bundle.pem`` (the same roots); they dial the listener's first DNS SAN that is
  not an in-cluster name, else its first IP SAN. On an X.509 port they are the device populations
  below (plus a certificate-less population when service-account-token fallback is on).
* **x509**: devices of each client root whose devices connect in the phase, presenting a client
  certificate issued by (a stand-in of) that root; the broker's client-CA bundle is
  ``client_auth.roots`` of the phase.

States come from `aiogen.simulate_phases`: the spec as written, every phase of every rotation,
both mixtures of consecutive phases (old server with new clients, new server with old clients),
and leaves still valid from a previous signer: cert-manager does not reissue leaves when a CA
changes (reference/cert-manager.md §5), so after ``switch`` a leaf signed by the old CA is served
until it expires; the same holds for device certificates after a client-root switch.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from cryptography import x509

from aiogen.model.plan import (
    AutomaticTls,
    ClientRoot,
    Cluster,
    Listener,
    ListenerPort,
    ManualTls,
    Plan,
    RootCA,
    Signer,
)
from aiogen.model.problems import Problem
from aiogen.pki.chain import is_self_signed, pem_of
from aiogen.rollout.schedule import DEFAULT_DEVICE_LIFETIME
from aiogen.simulate import sequences as sequences_module
from aiogen.simulate.handshake import (
    ClientConfig,
    HandshakeOutcome,
    LoopbackServer,
    ServerConfig,
    certificates,
    verify_client_path,
    verify_server_path,
)
from aiogen.simulate.material import MaterialError, ThrowawayPki, fingerprint
from aiogen.simulate.report import Check, Kind, SimulationReport
from aiogen.simulate.sequences import Sequence, State, Transition

# ------------------------------------------------------------------------------ populations


@dataclass(frozen=True)
class _Population:
    kind: Kind
    name: str
    hostname: str | None
    device_root: ClientRoot | None = None
    problem: str | None = None  # why this population cannot try at all
    suffix: str = ""  # qualifies a stale device population

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}{self.suffix}"

    @property
    def key(self) -> str:
        base = "external" if self.kind == "external" else f"{self.kind}.{self.name}"
        return base + self.suffix.replace(" ", "-").replace("(", "").replace(")", "")


def in_cluster_names(listener: Listener) -> tuple[str, ...]:
    """The Service's in-cluster DNS names, shortest first (what ``inClusterNames: true`` adds)."""
    svc, ns = listener.service_name, listener.namespace
    return (svc, f"{svc}.{ns}", f"{svc}.{ns}.svc", f"{svc}.{ns}.svc.cluster.local")


def external_name(listener: Listener, tls: AutomaticTls) -> str | None:
    """The name external clients dial: the first DNS SAN that is not in-cluster, else the first IP SAN."""
    inside = set(in_cluster_names(listener))
    return next((d for d in tls.san_dns if d not in inside), None) or (tls.san_ip[0] if tls.san_ip else None)


def in_cluster_dial(listener: Listener, tls: AutomaticTls) -> str:
    names = in_cluster_names(listener)
    if set(names) & set(tls.san_dns):
        return names[-1]
    return external_name(listener, tls) or names[-1]


def device_roots(cluster: Cluster) -> tuple[ClientRoot, ...]:
    """Client roots whose devices connect now: before a client-root switch the old, after it the new."""
    if cluster.client_auth is None:
        return ()
    roots = list(cluster.client_auth.roots)
    for rotation in cluster.rotations:
        if rotation.kind != "clientRoot":
            continue
        leaving = rotation.to if rotation.phase in ("prepare", "distribute") else rotation.from_
        roots = [r for r in roots if r.name != leaving]
    return tuple(roots)


def _x509(cluster: Cluster, port: ListenerPort) -> tuple[bool, bool]:
    """(does the port authenticate clients by X.509, may a client come without a certificate)."""
    x509_port = port.authentication == "x509" and cluster.client_auth is not None
    fallback = bool(cluster.client_auth and cluster.client_auth.service_account_token_fallback)
    return x509_port, fallback


def populations(cluster: Cluster, listener: Listener, port: ListenerPort) -> list[_Population]:
    assert isinstance(port.tls, AutomaticTls)
    tls = port.tls
    x509_port, fallback = _x509(cluster, port)
    devices = device_roots(cluster)
    presented = devices[0] if x509_port and not fallback and devices else None
    out = [_Population("in-cluster", bundle.name, in_cluster_dial(listener, tls), presented)
           for bundle in (cluster.aio_bundle, *cluster.client_bundles)]
    if listener.service_type == "ClusterIp":
        return out
    external = external_name(listener, tls)
    no_name = ("the certificate has no DNS or IP SAN outside the cluster: external clients have no name to dial "
               "(add san.dns or san.ip)")
    if not x509_port or fallback:
        out.append(_Population("external", "ca-bundle.pem", external, None, None if external else no_name))
    if x509_port:
        for root in devices:
            out.append(_Population("x509", root.name, external or in_cluster_dial(listener, tls), root))
    return out


def _tls_ports(cluster: Cluster) -> Iterator[tuple[int, Listener, int, ListenerPort]]:
    for li, listener in enumerate(cluster.listeners):
        for pi, port in enumerate(listener.ports):
            yield li, listener, pi, port


# ------------------------------------------------------------------------------ jobs


@dataclass(frozen=True)
class _ServerPlan:
    cluster: Cluster
    signer: Signer
    listener: Listener
    port: ListenerPort
    client_roots: tuple[ClientRoot, ...] | None
    require_client_cert: bool

    @property
    def key(self) -> tuple[str, ...]:
        tls = self.port.tls
        assert isinstance(tls, AutomaticTls)
        roots = "-" if self.client_roots is None else ",".join(r.name for r in self.client_roots)
        return (self.cluster.name, self.signer.generation, self.listener.name, str(self.port.port),
                ",".join(tls.san_dns), ",".join(tls.san_ip), str(tls.duration), roots, str(self.require_client_cert))


@dataclass(frozen=True)
class _ClientPlan:
    cluster: Cluster
    roots: tuple[RootCA, ...]
    population: _Population

    @property
    def key(self) -> tuple[str, ...]:
        device = self.population.device_root.name if self.population.device_root else "-"
        return (self.cluster.name, ",".join(r.name for r in self.roots), self.population.hostname or "-", device)


@dataclass
class _Job:
    check: Check
    server: _ServerPlan
    client: _ClientPlan


def _server_plan(cluster: Cluster, listener: Listener, port: ListenerPort, signer: Signer | None = None) -> _ServerPlan:
    x509_port, fallback = _x509(cluster, port)
    roots = cluster.client_auth.roots if x509_port and cluster.client_auth else None
    return _ServerPlan(cluster, signer or cluster.signer, listener, port, roots, x509_port and not fallback)


class _Planner:
    """Turns sequences of states into rows (checks) and the material each needs."""

    def __init__(self) -> None:
        self.jobs: list[_Job] = []
        self.checks: list[Check] = []
        self.cluster_order: dict[str, int] = {}

    def _check(self, cluster: str, listener: Listener, port: ListenerPort, population: _Population, dials: str,
               phase: str, phase_key: str, order: tuple[int, ...]) -> Check:
        check = Check(cluster, listener.name, port.port, population.label, population.kind, dials, phase, phase_key,
                      population.key, order=order)
        self.checks.append(check)
        return check

    def pair(self, server_cluster: Cluster, client_cluster: Cluster, phase: str, phase_key: str,
             order: tuple[int, ...], *, server_signer: Signer | None = None, skips: bool = False,
             extra_devices: Iterable[tuple[ClientRoot, str]] = (), servers_from: Cluster | None = None,
             note: str = "") -> None:
        """Every population of ``client_cluster`` against every port ``server_cluster`` serves."""
        cindex = self.cluster_order.setdefault(client_cluster.name, len(self.cluster_order))
        leaf_cluster = servers_from or server_cluster
        client_ports = {(lst.name, p.port): (lst, p) for _, lst, _, p in _tls_ports(client_cluster)}
        for li, listener, pi, port in _tls_ports(leaf_cluster):
            base = (*order[:1], cindex, li, pi, *order[1:])
            if not isinstance(port.tls, AutomaticTls):
                if skips:
                    reason = (f"Manual TLS: the certificate comes from Secret {port.tls.secret_ref!r}, which aiogen "
                              "does not issue" if isinstance(port.tls, ManualTls) else "plain TCP: no TLS to check")
                    check = self._check(client_cluster.name, listener, port, _Population("external", "-", None), "-",
                                        phase, phase_key, (*base, 0))
                    check.population, check.result, check.reason = "-", "skip", reason
                continue
            if (listener.name, port.port) not in client_ports:
                continue
            client_listener, client_port = client_ports[(listener.name, port.port)]
            if not isinstance(client_port.tls, AutomaticTls):
                continue
            # A leaf from an earlier state (servers_from) keeps the SANs it was issued with; the
            # broker's client CAs are always those of server_cluster's state.
            server = _server_plan(server_cluster, listener, port, server_signer)
            if extra_devices:  # only the devices still holding certificates from an earlier root
                pops = [_Population("x509", root.name, _device_dial(client_listener, client_port), root, suffix=suffix)
                        for root, suffix in extra_devices if _x509(client_cluster, client_port)[0]]
            else:
                pops = populations(client_cluster, client_listener, client_port)
            for index, pop in enumerate(pops, start=1):
                check = self._check(client_cluster.name, listener, port, pop, pop.hostname or "-", phase, phase_key,
                                    (*base, index))
                check.note = note
                if pop.problem is not None:
                    check.result, check.reason = "FAIL", pop.problem
                    continue
                self.jobs.append(_Job(check, server, _ClientPlan(client_cluster, client_cluster.server_roots, pop)))

    # -- sequences

    def sequence(self, seq_index: int, seq: Sequence) -> None:
        states = list(seq.states)
        for index, state in enumerate(states):
            for name in seq.clusters:
                cluster = _find(state.plan, name)
                if cluster is not None:
                    self.pair(cluster, cluster, state.label, state.key, (seq_index, 2 * index, 0), skips=index == 0)
            self._stale(seq_index, seq, index)
        for transition in seq.transitions:
            self._transition(seq_index, seq, transition)

    def _transition(self, seq_index: int, seq: Sequence, transition: Transition) -> None:
        before, after = transition.before, transition.after
        position = 2 * seq.states.index(after) - 1
        arrow = f"{_short(before)}→{_short(after)}"
        prefix = f"{seq.name} " if before.rotation is not None else ""
        note = f" ({transition.tag})" if transition.tag else ""
        key = f"{before.key}-to-{after.key.rsplit('.', 1)[-1]}" if before.rotation else f"{before.key}-to-{after.key}"
        for name in seq.clusters:
            old, new = _find(before.plan, name), _find(after.plan, name)
            if old is None or new is None:
                continue
            self.pair(old, new, f"{prefix}{arrow}{note}: old server, new clients", f"{key}.old-server",
                      (seq_index, position, 1), note=transition.note)
            self.pair(new, old, f"{prefix}{arrow}{note}: new server, old clients", f"{key}.new-server",
                      (seq_index, position, 2), note=transition.note)

    def _stale(self, seq_index: int, seq: Sequence, index: int) -> None:
        """Leaves (and device certificates) issued before a signer change, still valid in state ``index``."""
        state = seq.states[index]
        for name in seq.clusters:
            cluster = _find(state.plan, name)
            if cluster is None:
                continue
            leaves: dict[str, tuple[int, Cluster]] = {}
            devices: dict[str, tuple[int, ClientRoot]] = {}
            for earlier in range(index):
                old = _find(seq.states[earlier].plan, name)
                if old is None:
                    continue
                if old.signer.generation != cluster.signer.generation:
                    leaves[old.signer.generation] = (earlier, old)
                now_devices = {r.name for r in device_roots(cluster)}
                for root in device_roots(old):
                    if root.name not in now_devices:
                        devices[root.name] = (earlier, root)
            for generation, (earlier, old) in leaves.items():
                served = _still_served(seq, earlier, index, old.longest_leaf)
                if not served:
                    continue
                ended = _short(seq.states[earlier + 1])
                self.pair(cluster, cluster, f"{state.label}: leaf signed by {generation} before {ended}",
                          f"{state.key}.leaf-from-{generation}", (seq_index, 2 * index, 3),
                          server_signer=old.signer, servers_from=old)
            stale_devices = [
                (root, f" (issued before {_short(seq.states[earlier + 1])})")
                for earlier, root in devices.values()
                if _still_served(seq, earlier, index, root.max_leaf_lifetime or DEFAULT_DEVICE_LIFETIME)
            ]
            if stale_devices:
                self.pair(cluster, cluster, f"{state.label}: device certificates issued earlier",
                          f"{state.key}.old-devices", (seq_index, 2 * index, 4), extra_devices=stale_devices)


def _device_dial(listener: Listener, port: ListenerPort) -> str:
    assert isinstance(port.tls, AutomaticTls)
    return external_name(listener, port.tls) or in_cluster_dial(listener, port.tls)


def _still_served(seq: Sequence, earlier: int, index: int, lifetime: timedelta) -> bool:
    """Is a certificate issued just before state ``earlier`` ended still valid when ``index`` begins?

    Dates are days: a state that ended on a day may have issued until that day's end, and the
    state ``index`` begins at the start of its day (the rollout check's reading, rollout.py).
    """
    ended: date | None = seq.states[earlier + 1].began
    began = seq.states[index].began
    if ended is None or began is None:
        return index == earlier + 1  # unknown dates: assume it lives into the next state only
    return began < ended + timedelta(days=1) + lifetime


def _short(state: State) -> str:
    return state.phase or state.key


def _find(plan: Plan, name: str) -> Cluster | None:
    return next((c for c in plan.clusters if c.name == name), None)


# ------------------------------------------------------------------------------ running


Progress = Callable[[int, int], None]


def simulate(sequences: Iterable[Sequence], *, source: str = "", clock: datetime | None = None,
             workers: int | None = None, progress: Progress | None = None) -> SimulationReport:
    """Simulate every state of ``sequences``; material is issued at ``clock`` (default: now)."""
    at = (clock or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    pki = ThrowawayPki(at - timedelta(minutes=1))
    planner = _Planner()
    for index, seq in enumerate(sequences):
        planner.sequence(index, seq)
    groups = _materials(planner.jobs, pki)
    _run(groups, pki, at, workers, progress)
    checks = sorted(planner.checks, key=lambda c: c.order)
    return SimulationReport(source, at, tuple(checks), tuple(pki.notes))


@dataclass
class _Group:
    server: ServerConfig | None
    chain: tuple[x509.Certificate, ...]
    error: str | None
    jobs: list[_Job] = field(default_factory=list)


def _materials(jobs: list[_Job], pki: ThrowawayPki) -> list[_Group]:
    """Issue everything first, in one thread: the PKI's caches must give one stand-in per CA."""
    groups: dict[tuple[str, ...], _Group] = {}
    clients: dict[tuple[str, ...], ClientConfig | str] = {}
    for job in jobs:
        key = job.server.key
        if key not in groups:
            groups[key] = _server_group(job.server, pki)
        group = groups[key]
        group.jobs.append(job)
        ckey = job.client.key
        if ckey not in clients:
            clients[ckey] = _client_config(job.client, pki)
        client = clients[ckey]
        if isinstance(client, str):
            job.check.result, job.check.reason = "FAIL", client
            continue
        job.check.server, job.check.client = group.server, client
    return list(groups.values())


def _server_group(plan: _ServerPlan, pki: ThrowawayPki) -> _Group:
    tls = plan.port.tls
    assert isinstance(tls, AutomaticTls)
    try:
        issued = pki.server_certificate(plan.cluster, plan.signer, plan.listener.name, plan.port.port, tls)
        client_ca = pki.client_ca(plan.client_roots) if plan.client_roots is not None else None
    except MaterialError as error:
        return _Group(None, (), str(error))
    config = ServerConfig(issued.secret.tls_crt, issued.secret.tls_key, client_ca, plan.require_client_cert)
    return _Group(config, issued.chain, None)


def _client_config(plan: _ClientPlan, pki: ThrowawayPki) -> ClientConfig | str:
    pop = plan.population
    assert pop.hostname is not None
    try:
        trust = pki.trust_bundle(plan.cluster, plan.roots)
        if pop.device_root is None:
            return ClientConfig(trust, pop.hostname)
        device = pki.device(pop.device_root)
    except MaterialError as error:
        return str(error)
    # What a device sends: its certificate and any intermediates, never the self-signed root (the
    # authority's chain for a root-issued leaf still holds the root).
    sent = [cert for cert in device.chain if not is_self_signed(cert)]
    return ClientConfig(trust, pop.hostname, pem_of(sent), device.private_key_pem())


@dataclass(frozen=True)
class _Verdict:
    path: str | None
    client_path: str | None
    outcome: HandshakeOutcome


def _run(groups: list[_Group], pki: ThrowawayPki, at: datetime, workers: int | None,
         progress: Progress | None) -> None:
    total = sum(len(g.jobs) for g in groups)
    done = [0]
    lock = threading.Lock()

    def tick(count: int) -> None:
        if progress is None:
            return
        with lock:
            done[0] += count
            progress(done[0], total)

    def run_group(group: _Group) -> None:
        if group.server is None:
            for job in group.jobs:
                if job.check.result != "FAIL":
                    job.check.result, job.check.reason = "FAIL", group.error or "no server certificate"
            tick(len(group.jobs))
            return
        verdicts: dict[ClientConfig, _Verdict] = {}
        with LoopbackServer(group.server) as server:
            for job in group.jobs:
                check = job.check
                if check.result == "FAIL" or check.client is None:
                    tick(1)
                    continue
                verdict = verdicts.get(check.client)
                if verdict is None:
                    verdict = _verdict(server, group, check.client, at)
                    verdicts[check.client] = verdict
                _judge(check, job, verdict, group, pki, at)
                tick(1)

    count = workers or min(8, (os.cpu_count() or 2) * 2)
    if count <= 1 or len(groups) <= 1:
        for group in groups:
            run_group(group)
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=count, thread_name_prefix="aiogen-sim") as pool:
        for future in [pool.submit(run_group, g) for g in groups]:
            future.result()


def _verdict(server: LoopbackServer, group: _Group, client: ClientConfig, at: datetime) -> _Verdict:
    trust = certificates(client.trust_pem, "trust bundle")
    path = verify_server_path(group.chain, trust, client.hostname, at)
    client_path: str | None = None
    if client.chain_pem is not None and group.server is not None and group.server.client_ca_pem is not None:
        client_path = verify_client_path(certificates(client.chain_pem, "client certificate"),
                                         certificates(group.server.client_ca_pem, "client CA"), at)
    return _Verdict(path, client_path, server.attempt(client))


def _judge(check: Check, job: _Job, verdict: _Verdict, group: _Group, pki: ThrowawayPki, at: datetime) -> None:
    outcome = verdict.outcome
    check.path_validation, check.client_path_validation = verdict.path, verdict.client_path
    check.handshake_client, check.handshake_server = outcome.client_error, outcome.server_error
    check.tls_version = outcome.version
    server_rejects_no_cert = (job.server.require_client_cert and job.client.population.device_root is None)
    paths_ok = verdict.path is None and verdict.client_path is None and not server_rejects_no_cert
    if paths_ok and outcome.ok:
        check.result, check.reason = "pass", ""
        return
    check.result = "FAIL"
    reason = _diagnose(job, verdict, group, pki, at)
    if paths_ok != outcome.ok:  # the two validators disagree: say so loudly, it is a bug somewhere
        reason = (f"path validation says {'valid' if paths_ok else 'invalid'} but the handshake "
                  f"{'succeeded' if outcome.ok else 'failed'}: {reason}")
    check.reason = f"{reason}; {check.note}" if check.note else reason


# ------------------------------------------------------------------------------ reasons


def _diagnose(job: _Job, verdict: _Verdict, group: _Group, pki: ThrowawayPki, at: datetime) -> str:
    """Say in the domain's words why a check failed (the raw errors stay in --json)."""
    pop, server = job.client.population, job.server
    leaf = group.chain[0]
    hostname = pop.hostname or ""
    if verdict.path is not None:
        names = _san_names(leaf)
        if not _name_matches(hostname, names):
            listed = ", ".join(names) or "no names"
            return f"the certificate names {listed}, not {hostname} (the name {pop.kind} clients dial)"
        trusted = [r.name for r in job.client.roots]
        chain_root = server.signer.root.name
        if chain_root not in trusted:
            return (f"the server's chain ends at root {chain_root}, which these clients do not trust "
                    f"(they trust {', '.join(trusted) or 'nothing'})")
        for cert in group.chain:
            label = pki.names.get(fingerprint(cert), cert.subject.rfc4514_string())
            if cert.not_valid_after_utc <= at:
                return f"{label} expired on {cert.not_valid_after_utc.date().isoformat()}"
        return f"path validation failed: {verdict.path}"
    if server.require_client_cert and pop.device_root is None:
        return "the port requires a client certificate (X.509 authentication) and these clients have none"
    if verdict.client_path is not None and pop.device_root is not None:
        held = [r.name for r in server.client_roots or ()]
        auth = server.cluster.client_auth
        config_map = auth.config_map if auth else "client-ca"
        if pop.device_root.name not in held:
            return (f"the device certificate chains to client root {pop.device_root.name}, which is missing from the "
                    f"broker's client-CA ConfigMap {config_map} (it holds {', '.join(held) or 'nothing'})")
        return f"client certificate path validation failed: {verdict.client_path}"
    outcome = verdict.outcome
    sides = [f"client: {outcome.client_error}" if outcome.client_error else "",
             f"server: {outcome.server_error}" if outcome.server_error else ""]
    return "handshake failed (" + "; ".join(s for s in sides if s) + ")"


def _san_names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [*san.get_values_for_type(x509.DNSName), *(str(ip) for ip in san.get_values_for_type(x509.IPAddress))]


def _name_matches(hostname: str, names: list[str]) -> bool:
    host = hostname.lower().rstrip(".")
    for name in names:
        name = name.lower()
        if name == host:
            return True
        if name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]:
            return True
    return False

# ------------------------------------------------------------------------------ entry point


def simulate_specs(paths: list[Path], *, now: datetime | None = None, allow_outside_files: bool = False,
                   workers: int | None = None, progress: Progress | None = None
                   ) -> tuple[SimulationReport, tuple[Problem, ...]]:
    """Load one spec (every phase of its rotations) or several (commits in order) and simulate.

    Returns the report and the resolver's warnings. ``now`` is the resolver's clock (expiry
    checks); certificates are always issued at the real clock, because the handshake's TLS
    library checks validity against it.
    """
    from aiogen.pipeline import load_phase_plans, load_plan

    if len(paths) == 1:
        plan, phase_plans = load_phase_plans(paths[0], now=now, allow_outside_files=allow_outside_files)
        sequences = sequences_module.for_plan(plan, phase_plans)
        warnings = plan.warnings
    else:
        plans: list[tuple[str, Plan]] = []
        for path in paths:
            plans.append((path.name, load_plan(path, now=now, allow_outside_files=allow_outside_files)))
        sequences = [sequences_module.for_specs(plans)]
        warnings = tuple(w for _, p in plans for w in p.warnings)
    source = " → ".join(str(p) for p in paths)
    return simulate(sequences, source=source, workers=workers, progress=progress), warnings
