"""Which checks does a simulation run? Sequences of states become rows and the material each needs.

Every state of a sequence is checked as deployed; each transition twice, half-deployed (old server
with new clients, new server with old clients); and leaves (and device certificates) issued before
a signer change are checked in every later state they are still valid in: cert-manager does not
reissue leaves when a CA changes (https://cert-manager.io/docs/usage/certificate/#renewal).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from aiogen.model.dialing import external_name
from aiogen.model.plan import AutomaticTls, ClientRoot, Cluster, Listener, ListenerPort, ManualTls, Plan, RootCA, Signer
from aiogen.rollout.schedule import DEFAULT_DEVICE_LIFETIME
from aiogen.simulate.populations import DEVICES_NO_NAME, Population, device_roots, populations, tls_ports, x509_auth
from aiogen.simulate.report import Check
from aiogen.simulate.sequences import Sequence, State, Transition


@dataclass(frozen=True)
class ServerPlan:
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
class ClientPlan:
    cluster: Cluster
    roots: tuple[RootCA, ...]
    population: Population

    @property
    def key(self) -> tuple[str, ...]:
        device = self.population.device_root.name if self.population.device_root else "-"
        return (self.cluster.name, ",".join(r.name for r in self.roots), self.population.hostname or "-", device)


@dataclass
class Job:
    check: Check
    server: ServerPlan
    client: ClientPlan


def server_plan(cluster: Cluster, listener: Listener, port: ListenerPort, signer: Signer | None = None) -> ServerPlan:
    x509_port, fallback = x509_auth(cluster, port)
    roots = cluster.client_auth.roots if x509_port and cluster.client_auth else None
    return ServerPlan(cluster, signer or cluster.signer, listener, port, roots, x509_port and not fallback)


class Planner:
    """Turns sequences of states into rows (checks) and the material each needs."""

    def __init__(self) -> None:
        self.jobs: list[Job] = []
        self.checks: list[Check] = []
        self.cluster_order: dict[str, int] = {}
        self._by_name: dict[int, tuple[Plan, dict[str, Cluster]]] = {}  # id(plan) → the plan's clusters by name

    def _find(self, plan: Plan, name: str) -> Cluster | None:
        """The plan's cluster called ``name`` (the first, as a scan would find it), looked up, not scanned."""
        found = self._by_name.get(id(plan))
        if found is None or found[0] is not plan:
            clusters: dict[str, Cluster] = {}
            for cluster in plan.clusters:
                clusters.setdefault(cluster.name, cluster)
            found = self._by_name[id(plan)] = (plan, clusters)
        return found[1].get(name)

    def _check(self, cluster: str, listener: Listener, port: ListenerPort, population: Population, dials: str,
               phase: str, phase_key: str, order: tuple[int, ...]) -> Check:
        check = Check(cluster, listener.name, port.port, population.label, population.kind, dials, phase, phase_key,
                      population.key, order=order)
        self.checks.append(check)
        return check

    def pair(self, server_cluster: Cluster, client_cluster: Cluster, phase: str, phase_key: str,
             order: tuple[int, ...], *, server_signer: Signer | None = None, skips: bool = False,
             extra_devices: Iterable[tuple[ClientRoot, str]] = (), servers_from: Cluster | None = None,
             note: str = "", only: set[tuple[str, int]] | None = None) -> None:
        """Every population of ``client_cluster`` against every port ``server_cluster`` serves
        (``only``: just these (listener, port) pairs, e.g. those whose old leaves are still valid)."""
        cindex = self.cluster_order.setdefault(client_cluster.name, len(self.cluster_order))
        leaf_cluster = servers_from or server_cluster
        client_ports = {(lst.name, p.port): (lst, p) for _, lst, _, p in tls_ports(client_cluster)}
        for li, listener, pi, port in tls_ports(leaf_cluster):
            base = (*order[:1], cindex, li, pi, *order[1:])
            if not isinstance(port.tls, AutomaticTls):
                if skips:
                    reason = (f"Manual TLS: the certificate comes from Secret {port.tls.secret_ref!r}, which aiogen "
                              "does not issue" if isinstance(port.tls, ManualTls) else "plain TCP: no TLS to check")
                    check = self._check(client_cluster.name, listener, port, Population("external", "-", None), "-",
                                        phase, phase_key, (*base, 0))
                    check.population, check.result, check.reason = "-", "skip", reason
                continue
            if (listener.name, port.port) not in client_ports or (only is not None and
                                                                   (listener.name, port.port) not in only):
                continue
            client_listener, client_port = client_ports[(listener.name, port.port)]
            if not isinstance(client_port.tls, AutomaticTls):
                continue
            # A leaf from an earlier state (servers_from) keeps the SANs it was issued with; the
            # broker's client CAs are always those of server_cluster's state.
            server = server_plan(server_cluster, listener, port, server_signer)
            if extra_devices:  # only the devices still holding certificates from an earlier root
                pops = _stale_devices(client_listener, client_port, extra_devices) \
                    if x509_auth(client_cluster, client_port)[0] else []
            else:
                pops = populations(client_cluster, client_listener, client_port)
            for index, pop in enumerate(pops, start=1):
                check = self._check(client_cluster.name, listener, port, pop, pop.hostname or "-", phase, phase_key,
                                    (*base, index))
                check.note = note
                if pop.problem is not None:
                    check.result, check.reason = "FAIL", pop.problem
                    continue
                self.jobs.append(Job(check, server, ClientPlan(client_cluster, client_cluster.server_roots, pop)))

    # -- sequences

    def sequence(self, seq_index: int, seq: Sequence) -> None:
        states = list(seq.states)
        for index, state in enumerate(states):
            for name in seq.clusters:
                cluster = self._find(state.plan, name)
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
            old, new = self._find(before.plan, name), self._find(after.plan, name)
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
            cluster = self._find(state.plan, name)
            if cluster is None:
                continue
            leaves: dict[str, tuple[int, Cluster]] = {}
            devices: dict[str, tuple[int, ClientRoot]] = {}
            for earlier in range(index):
                old = self._find(seq.states[earlier].plan, name)
                if old is None:
                    continue
                if old.signer.generation != cluster.signer.generation:
                    leaves[old.signer.generation] = (earlier, old)
                now_devices = {r.name for r in device_roots(cluster)}
                for root in device_roots(old):
                    if root.name not in now_devices:
                        devices[root.name] = (earlier, root)
            for generation, (earlier, old) in leaves.items():
                alive = {(lst.name, p.port) for _, lst, _, p in tls_ports(old) if isinstance(p.tls, AutomaticTls)
                         and _still_served(seq, earlier, index, p.tls.duration)}
                if not alive:
                    continue
                ended = _short(seq.states[earlier + 1])
                self.pair(cluster, cluster, f"{state.label}: leaf signed by {generation} before {ended}",
                          f"{state.key}.leaf-from-{generation}", (seq_index, 2 * index, 3),
                          server_signer=old.signer, servers_from=old, only=alive)
            stale_devices = [
                (root, f" (issued before {_short(seq.states[earlier + 1])})")
                for earlier, root in devices.values()
                if _still_served(seq, earlier, index, root.max_leaf_lifetime or DEFAULT_DEVICE_LIFETIME)
            ]
            if stale_devices:
                self.pair(cluster, cluster, f"{state.label}: device certificates issued earlier",
                          f"{state.key}.old-devices", (seq_index, 2 * index, 4), extra_devices=stale_devices)


def _stale_devices(listener: Listener, port: ListenerPort, extra: Iterable[tuple[ClientRoot, str]]
                   ) -> list[Population]:
    """Devices still holding certificates from an earlier root: they dial the external name too."""
    assert isinstance(port.tls, AutomaticTls)
    name = external_name(listener, port.tls)
    return [Population("x509", root.name, name, root, None if name else DEVICES_NO_NAME, suffix=suffix)
            for root, suffix in extra]


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

