"""Is this rollover step safe, and when may the next one be taken?

A rotation moves clusters from an old CA chain to a new one in four phases (DESIGN.md "Rollover:
phases and the safety invariant"); `plan.py` resolves which chain signs and which roots each
trust set holds in each phase. This module reads two resolved Plans, never rendered YAML:

* `check(deployed, proposed, now)` proves, for every server S and every client population C that
  talks to it, that the change is safe whatever order its resources land in:

      roots S may present while the change lands  ⊆  roots C trusts before  ∩  roots C trusts after

  Each trust set is one object (a trust-manager Bundle target fed by the pinned-roots ConfigMap,
  the broker's client-CA ConfigMap, `ca-bundle.pem`), so while the change lands C holds its old
  or its new set, never a third one: a Bundle whose source is missing fails to sync and keeps its
  last target (reference/cert-manager.md §7.11), and the pinned-roots keys are named by root. The
  issuer may sign with the old or the new chain in any of those states, and a leaf it signs stays
  valid for its whole lifetime: cert-manager does not reissue leaves when a CA Secret changes
  (§5, §7.4). So S may present the old signer's root, the new signer's root and the root of any
  leaf still valid from before an earlier switch.
* `remaining_steps(plan, rotation)` gives the phases a rotation has left and the earliest moment
  each may be taken: `minDwell` after prepare and distribute began, and for retire the longest
  leaf lifetime under the old chain after the switch day.

Client roots follow the same rule with the roles swapped: devices present certificates and the
broker's client-CA ConfigMap must trust them; a client root's `maxLeafLifetime` bounds how long a
device certificate issued before the switch stays valid, and without it retire is never provably
safe. An intermediate rotation under a stable root needs no trust change at all.

Dates in the spec are days. A phase "began" on a day means at some moment of it, so leaves issued
under the old chain may carry that whole day: the switch day counts until its end.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from aiogen.durations import describe
from aiogen.errors import Problem
from aiogen.plan import AutomaticTls, Cluster, ManualTls, Phase, Plan, RotationState, TrustSettings

PHASES: tuple[Phase, ...] = ("prepare", "distribute", "switch", "retire")

# AIO's default listener (aio-broker:18883) is signed by the issuer that the trust settings name,
# but aiogen does not render it, so its certificate lifetime is AIO's choice. The sources disagree
# (720h in the preview docs, 90 days in the v1 docs: reference/aio.md §2.2); take the longer.
DEFAULT_LISTENER_KEY = "aio-broker:18883"
DEFAULT_LISTENER_LABEL = "AIO's default listener aio-broker:18883"
DEFAULT_LISTENER_LIFETIME = timedelta(days=90)

DEVICES_KEY = "devices"

_PREPARE_DWELL_WHY = "so the new CA material is synced into every cluster and checked before anyone trusts it"
_DISTRIBUTE_DWELL_WHY = ("so every client has picked up the new trust (trust-manager sync, kubelet ConfigMap "
                         "refresh, application reload, ca-bundle.pem handed to external clients)")


def end_of_day(day: date) -> datetime:
    """The first instant after ``day`` (UTC): a phase begun that day may have acted until then."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def first_day_at_or_after(moment: datetime) -> date:
    """The first date whose start is not before ``moment``."""
    day = moment.astimezone(UTC).date()
    return day if start_of_day(day) >= moment else day + timedelta(days=1)


def join_names(names: Iterable[str]) -> str:
    items = sorted(set(names))
    if not items:
        return "nothing"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


# ---------------------------------------------------------------- what one Plan deploys on one cluster


@dataclass(frozen=True)
class Server:
    """Something that presents a certificate chain to clients: a listener port of the broker."""

    key: str  # "plant-mqtts:8883", "aio-broker:18883"
    label: str  # "listener plant-mqtts:8883"
    lifetime: timedelta | None  # longest leaf it may hold; None for Manual TLS (aiogen cannot see it)
    external: bool  # reachable from outside the cluster (LoadBalancer, NodePort)

    @property
    def manual(self) -> bool:
        return self.lifetime is None


@dataclass(frozen=True)
class Population:
    """Clients that trust one trust set, or the broker trusting devices through its client-CA."""

    key: str  # "bundle contoso-mqtt-trust:ca.crt", "ca-bundle.pem", "client-ca"
    label: str  # "clients in namespaces labelled ... (Bundle contoso-mqtt-trust)"
    noun: str  # what holds their roots, for messages: "bundle", "ca-bundle.pem", "client-CA ConfigMap"
    trusted: frozenset[str]  # root names
    external: bool = False  # talks only to servers reachable from outside the cluster
    devices: bool = False  # the broker's client-CA ConfigMap: it judges devices, not servers


@dataclass(frozen=True)
class EarlierLeaves:
    """Certificates issued under an old root before a switch; they stay valid after it."""

    rotation: str
    root: str
    switched: date
    lifetime: timedelta | None  # None: nobody said how long they live

    def until(self, lifetime: timedelta | None = None) -> datetime | None:
        span = lifetime if lifetime is not None else self.lifetime
        return None if span is None else end_of_day(self.switched) + span


@dataclass(frozen=True)
class ClusterState:
    """What one Plan deploys on one cluster, as the rollout check sees it."""

    name: str
    trust_settings: TrustSettings
    signing_root: str  # root of the chain the issuer signs with
    signing_ca: str  # that CA generation (the intermediate's or root's Secret)
    earlier: tuple[EarlierLeaves, ...]  # leaves from before a switch (lifetime per server)
    servers: tuple[Server, ...]
    populations: tuple[Population, ...]
    device_roots: frozenset[str]  # client roots devices get new certificates from
    device_earlier: tuple[EarlierLeaves, ...]  # device certificates from before a client-root switch
    rotations: tuple[RotationState, ...]

    def rotation(self, name: str) -> RotationState | None:
        return next((r for r in self.rotations if r.name == name), None)

    @property
    def server_rotation(self) -> RotationState | None:
        return next((r for r in self.rotations if r.kind in ("serverRoot", "intermediate")), None)


def cluster_state(cluster: Cluster) -> ClusterState:
    servers = [Server(DEFAULT_LISTENER_KEY, DEFAULT_LISTENER_LABEL, DEFAULT_LISTENER_LIFETIME, external=False)]
    for listener in cluster.listeners:
        external = listener.service_type in ("LoadBalancer", "NodePort")
        for port in listener.ports:
            key = f"{listener.name}:{port.port}"
            if isinstance(port.tls, AutomaticTls):
                servers.append(Server(key, f"listener {key}", port.tls.duration, external))
            elif isinstance(port.tls, ManualTls):
                servers.append(Server(key, f"listener {key}", None, external))
            # plain TCP presents no chain
    roots = frozenset(r.name for r in cluster.server_roots)
    populations = [
        Population(f"bundle {b.name}:{b.key}", f"clients in {b.population} (Bundle {b.name})", "bundle", roots)
        for b in (cluster.aio_bundle, *cluster.client_bundles)
    ]
    populations.append(Population("ca-bundle.pem", "clients outside the cluster (ca-bundle.pem)", "ca-bundle.pem",
                                  roots, external=True))
    if cluster.client_auth is not None:
        auth = cluster.client_auth
        populations.append(Population(
            "client-ca", f"the broker's client-CA ConfigMap {auth.config_map} (BrokerAuthentication {auth.name})",
            "client-CA ConfigMap", frozenset(r.name for r in auth.roots), devices=True))
    earlier: list[EarlierLeaves] = []
    for rotation in cluster.rotations:
        if rotation.kind == "clientRoot":
            continue
        old_root = rotation.from_ if rotation.kind == "serverRoot" and rotation.from_ else cluster.signer.root.name
        switched = rotation.started_at("switch")
        if rotation.phase in ("switch", "retire") and switched is not None:
            earlier.append(EarlierLeaves(rotation.name, old_root, switched, None))
    device_roots, device_earlier = _devices(cluster)
    return ClusterState(
        cluster.name, cluster.trust_settings, cluster.signer.root.name, cluster.signer.generation, tuple(earlier),
        tuple(servers), tuple(populations), device_roots, device_earlier, cluster.rotations,
    )


def _devices(cluster: Cluster) -> tuple[frozenset[str], tuple[EarlierLeaves, ...]]:
    """Client roots devices get certificates from now, and certificates left from before a switch.

    Devices are issued outside aiogen; the phase records when that moved: before `switch` devices
    still get certificates from the old root, from `switch` on from the new one, and the old
    certificates live on for the old root's maxLeafLifetime.
    """
    auth = cluster.client_auth
    if auth is None:
        return frozenset(), ()
    roots = {r.name for r in auth.roots}
    earlier: list[EarlierLeaves] = []
    for rotation in cluster.rotations:
        if rotation.kind != "clientRoot" or rotation.from_ is None or rotation.to is None:
            continue
        if rotation.phase in ("prepare", "distribute"):
            roots.discard(rotation.to)
            continue
        roots.discard(rotation.from_)
        switched = rotation.started_at("switch")
        if switched is not None:
            earlier.append(EarlierLeaves(rotation.name, rotation.from_, switched, rotation.from_max_leaf_lifetime))
    return frozenset(roots), tuple(earlier)


# ---------------------------------------------------------------- the check


Reason = Literal["signing", "new", "earlier"]


@dataclass(frozen=True)
class Presented:
    """A root a server (or the devices) may present while the change lands, and why."""

    root: str
    reasons: frozenset[Reason]
    earlier: EarlierLeaves | None = None  # the latest-living earlier batch under this root
    until: datetime | None = None  # when that batch expires; None with `earlier`: unknown


@dataclass(frozen=True)
class Break:
    """One (server, client population) pair the change would break, in the user's terms."""

    cluster: str
    server: str  # Server.key, or "devices"
    population: str  # Population.key
    root: str
    subject: str  # "plant-berlin: clients in ... (Bundle ...)"
    target: str  # "listener plant-mqtts:8883"
    when: str  # "after the switch"
    why: str  # "root contoso-root-2028 is not in their bundle yet"
    hint: str | None = None

    @property
    def message(self) -> str:
        return f"{self.subject} would not trust {self.target} {self.when}: {self.why}"


@dataclass(frozen=True)
class Hold:
    """A reason the step is not safe that is not about one pair: wait longer, or fix the spec."""

    subject: str  # "rotation root-2028", "plant-berlin"
    message: str
    hint: str | None = None


@dataclass(frozen=True)
class RolloutReport:
    deployed: str  # display names of the two specs
    proposed: str
    now: datetime
    breaks: tuple[Break, ...]
    holds: tuple[Hold, ...]
    summary: tuple[str, ...]  # one line per cluster: what changes and why it is safe
    notes: tuple[str, ...]  # what the check could not judge, and things worth knowing

    @property
    def safe(self) -> bool:
        return not self.breaks and not self.holds

    def broken_pairs(self) -> set[tuple[str, str, str]]:
        """(cluster, server key, population key) of every pair that breaks."""
        return {(b.cluster, b.server, b.population) for b in self.breaks}

    def problems(self) -> list[Problem]:
        """The failures as Problems: one per broken pair (servers sharing a reason together), then holds."""
        problems: list[Problem] = []
        hints: set[str] = set()
        for message, hint in [*self.grouped_breaks(), *((h.message, h.hint) for h in self.holds)]:
            problems.append(Problem(message, hint=hint if hint not in hints else None))  # each hint once
            if hint:
                hints.add(hint)
        return problems

    def grouped_breaks(self) -> list[tuple[str, str | None]]:
        """Break messages with the servers sharing one reason listed together: (message, hint)."""
        groups: dict[tuple[str, str, str, str | None], list[str]] = {}
        for b in self.breaks:
            groups.setdefault((b.subject, b.when, b.why, b.hint), []).append(b.target)
        out: list[tuple[str, str | None]] = []
        for (subject, when, why, hint), targets in groups.items():
            out.append((f"{subject} would not trust {_and(targets)} {when}: {why}", hint))
        return out


def _and(items: Sequence[str]) -> str:
    unique = list(dict.fromkeys(items))
    return unique[0] if len(unique) == 1 else ", ".join(unique[:-1]) + " and " + unique[-1]


def check(deployed: Plan, proposed: Plan, now: datetime, *, deployed_name: str = "deployed",
          proposed_name: str = "proposed") -> RolloutReport:
    """Can ``deployed`` be replaced by ``proposed`` at ``now`` without any client losing trust?"""
    breaks: list[Break] = []
    holds: list[Hold] = list(_changed_certificates(deployed, proposed))
    summary: list[str] = []
    notes: list[str] = []
    before_by_name = {c.name: c for c in deployed.clusters}
    after_names = {c.name for c in proposed.clusters}
    for cluster in proposed.clusters:
        old = before_by_name.get(cluster.name)
        if old is None:
            notes.append(f"{cluster.name}: a new cluster; nothing is deployed there to compare with")
            continue
        result = _check_cluster(cluster_state(old), cluster_state(cluster), now)
        breaks += result.breaks
        holds += result.holds
        notes += result.notes
        summary.append(result.summary)
    for cluster in deployed.clusters:
        if cluster.name not in after_names:
            notes.append(f"{cluster.name}: no longer in the proposed spec; aiogen does not judge removing a cluster")
    dwell_holds, rotation_notes = _rotation_steps(deployed, proposed, now)
    holds += dwell_holds
    notes += rotation_notes
    return RolloutReport(deployed_name, proposed_name, now, tuple(breaks), tuple(holds), tuple(summary),
                         tuple(notes))


@dataclass
class _ClusterResult:
    breaks: list[Break]
    holds: list[Hold]
    notes: list[str]
    summary: str


def _check_cluster(a: ClusterState, b: ClusterState, now: datetime) -> _ClusterResult:
    breaks: list[Break] = []
    holds: list[Hold] = []
    notes: list[str] = []
    name = b.name
    if a.trust_settings != b.trust_settings:
        holds.append(Hold(name, f"{name}: AIO's trust settings were installed with "
                          f"{a.trust_settings.cli_arguments()}; the proposed spec says "
                          f"{b.trust_settings.cli_arguments()}. AIO keeps the names it was "
                          "installed with, so its default listener and its components would lose their issuer "
                          "or trust bundle",
                          "keep the issuer and the AIO trust bundle names stable; a rotation never needs to "
                          "rename them"))
    servers = _merge_servers(a.servers, b.servers)
    pops_a = {p.key: p for p in a.populations}
    pops_b = {p.key: p for p in b.populations}
    pairs: list[tuple[Population, frozenset[str], frozenset[str]]] = []
    for key, pop in pops_b.items():
        deployed_pop = pops_a.get(key)
        if deployed_pop is None:
            notes.append(f"{name}: {pop.label} are new; they are checked against the proposed trust only")
            pairs.append((pop, pop.trusted, pop.trusted))
        else:
            pairs.append((pop, deployed_pop.trusted, pop.trusted))
    for key, pop in pops_a.items():
        if key not in pops_b:
            notes.append(f"{name}: {pop.label} are no longer rendered; aiogen does not judge removing them")
    presented_by_server: dict[str, dict[str, Presented]] = {}
    for server in servers:
        if server.manual:
            notes.append(f"{name}: {server.label} serves a Manual TLS Secret; aiogen cannot see its chain, so make "
                         "sure it chains to a root every client trusts before and after this change")
        else:
            presented_by_server[server.key] = _server_presented(a, b, server, now)
    device_presented = _device_presented(a, b, now)
    for pop, before, after in pairs:
        if pop.devices:
            for root in sorted(device_presented):
                target = f"devices presenting certificates from {root}"
                breaks += _judge(name, b, pop, DEVICES_KEY, target, {root: device_presented[root]}, before, after,
                                 devices=True)
            continue
        for server in servers:
            if server.key in presented_by_server and (server.external or not pop.external):
                breaks += _judge(name, b, pop, server.key, server.label, presented_by_server[server.key], before,
                                 after, devices=False)
    summary = _summary(a, b, pairs, presented_by_server, device_presented, servers, now, broken=bool(breaks))
    return _ClusterResult(breaks, holds, notes, summary)


def _summary(a: ClusterState, b: ClusterState, pairs: list[tuple[Population, frozenset[str], frozenset[str]]],
             presented_by_server: dict[str, dict[str, Presented]], device_presented: dict[str, Presented],
             servers: list[Server], now: datetime, *, broken: bool) -> str:
    """One line: what changes on the cluster and why that is safe."""
    head = f"{b.name}: {_changes(a, b)}"
    if broken:
        return head + ": not safe (see above)"
    parts: list[str] = []
    rotation = b.server_rotation or a.server_rotation
    if rotation is not None and rotation.kind == "intermediate":
        parts.append(f"intermediate rotation {rotation.name} needs no trust change: the old and the new "
                     f"intermediate both chain to root {b.signing_root}")
    roots = sorted({root for presented in presented_by_server.values() for root in presented})
    populations = sum(1 for pop, _, _ in pairs if not pop.devices)
    if roots:
        parts.append(f"servers may present {join_names(roots)}, which every client population that reaches them "
                     f"({populations}) trusts before and after")
    lifetimes = [s.lifetime for s in servers if s.lifetime is not None]
    seen: set[tuple[str, date]] = set()
    for batch in (*a.earlier, *b.earlier):
        if batch.root == b.signing_root or (batch.root, batch.switched) in seen or not lifetimes:
            continue
        seen.add((batch.root, batch.switched))
        until = end_of_day(batch.switched) + max(lifetimes)
        parts.append(_earlier_text("leaves", batch, until, now))
    if device_presented:
        parts.append(f"devices may present {join_names(device_presented)}, which the broker's client-CA ConfigMap "
                     "trusts before and after")
    for batch in (*a.device_earlier, *b.device_earlier):
        if (batch.root, batch.switched) in seen:
            continue
        seen.add((batch.root, batch.switched))
        parts.append(_earlier_text("device certificates", batch, batch.until(), now))
    manual = [s.label for s in servers if s.manual]
    if manual:
        parts.append(f"{_and(manual)} (Manual TLS) not checked")
    return head + ": " + ("; ".join(parts) if parts else "nothing presents or trusts a certificate here")


def _earlier_text(what: str, batch: EarlierLeaves, until: datetime | None, now: datetime) -> str:
    head = f"{what} under {batch.root} from before the switch on {batch.switched.isoformat()}"
    if until is None:
        return f"{head} may still be in use (no maxLeafLifetime), and {batch.root} stays trusted"
    if until <= now:
        return f"{head} expired by {_moment(until)}"
    return f"{head} stay valid until {_moment(until)}, and {batch.root} stays trusted"


def _changes(a: ClusterState, b: ClusterState) -> str:
    names = list(dict.fromkeys([r.name for r in a.rotations] + [r.name for r in b.rotations]))
    items: list[str] = []
    for name in names:
        ra, rb = a.rotation(name), b.rotation(name)
        if ra is not None and rb is not None:
            items.append(f"rotation {name} {ra.phase} → {rb.phase}" if ra.phase != rb.phase
                         else f"rotation {name} stays in {rb.phase}")
        elif rb is not None:
            items.append(f"rotation {name} starts in {rb.phase}")
        else:
            items.append(f"rotation {name} finishes")
    if not items:
        return "no rotation" if a.signing_ca == b.signing_ca else f"issuer moves from {a.signing_ca} to {b.signing_ca}"
    return ", ".join(items)


def _merge_servers(a: Iterable[Server], b: Iterable[Server]) -> list[Server]:
    merged: dict[str, Server] = {}
    for server in (*a, *b):
        known = merged.get(server.key)
        if known is None:
            merged[server.key] = server
            continue
        lifetime = None if known.manual or server.manual else max(known.lifetime or timedelta(0),
                                                                  server.lifetime or timedelta(0))
        merged[server.key] = Server(server.key, server.label, lifetime, known.external or server.external)
    return list(merged.values())


def _server_presented(a: ClusterState, b: ClusterState, server: Server, now: datetime) -> dict[str, Presented]:
    assert server.lifetime is not None
    reasons: dict[str, set[Reason]] = {a.signing_root: {"signing"}}
    if b.signing_root != a.signing_root:
        reasons.setdefault(b.signing_root, set()).add("new")
    latest: dict[str, tuple[EarlierLeaves, datetime]] = {}
    for batch in (*a.earlier, *b.earlier):
        until = batch.until(server.lifetime)
        assert until is not None
        if until > now and (batch.root not in latest or until > latest[batch.root][1]):
            latest[batch.root] = (batch, until)
    return _presented(reasons, latest)


def _presented(reasons: dict[str, set[Reason]],
               latest: Mapping[str, tuple[EarlierLeaves, datetime | None]]) -> dict[str, Presented]:
    """Every root a server may present, and why: signing now, new, or leaves still valid from earlier."""
    for root in latest:
        reasons.setdefault(root, set()).add("earlier")
    out: dict[str, Presented] = {}
    for root, why in reasons.items():
        found = latest.get(root)
        out[root] = Presented(root, frozenset(why), found[0] if found else None, found[1] if found else None)
    return out


def _device_presented(a: ClusterState, b: ClusterState, now: datetime) -> dict[str, Presented]:
    reasons: dict[str, set[Reason]] = {}
    for root in a.device_roots:
        reasons.setdefault(root, set()).add("signing")
    for root in b.device_roots - a.device_roots:
        reasons.setdefault(root, set()).add("new")
    latest: dict[str, tuple[EarlierLeaves, datetime | None]] = {}
    for batch in (*a.device_earlier, *b.device_earlier):
        until = batch.until()
        if until is not None and until <= now:
            continue
        known = latest.get(batch.root)
        if known is None or (known[1] is not None and (until is None or until > known[1])):
            latest[batch.root] = (batch, until)
    return _presented(reasons, latest)


def _judge(cluster: str, b: ClusterState, pop: Population, server_key: str, target: str,
           presented: dict[str, Presented], before: frozenset[str], after: frozenset[str], *, devices: bool
           ) -> list[Break]:
    out: list[Break] = []
    subject = f"{cluster}: {pop.label}"
    noun = pop.noun
    for root in sorted(presented):
        if root in before and root in after:
            continue
        p = presented[root]
        named = root if devices else f"root {root}"
        their = "the ConfigMap" if devices else f"their {noun}"
        if root not in before:
            if "new" in p.reasons:
                when = _switch_words(b, root, devices)
                why = f"{named} is not in {their} yet"
                hint = (f"distribute first: the broker must trust {root} before any device presents a certificate "
                        "from it" if devices else f"distribute first: every client must trust {root} before any "
                        "server presents a certificate chained to it")
            else:
                when = "even now"
                why = f"{named} is missing from {their} in the deployed spec"
                hint = None
        else:
            when = "at retire" if _retiring(b, devices) else "after this change"
            if "earlier" in p.reasons and p.earlier is not None:
                if p.until is None:
                    why = (f"this change drops {named} from {their}, but {root} has no maxLeafLifetime, so aiogen "
                           "cannot tell when the last device certificate issued under it expires")
                    hint = (f"set maxLeafLifetime on client root {root} (the longest certificate lifetime it "
                            "issues); until then keep it trusted")
                else:
                    what = "device certificates" if devices else "leaves"
                    why = (f"this change drops {named} from {their}, but {what} issued under it before the switch "
                           f"on {p.earlier.switched.isoformat()} stay valid until {_moment(p.until)}")
                    hint = f"retire on or after {first_day_at_or_after(p.until).isoformat()}"
            elif "signing" in p.reasons:
                if devices:
                    why = (f"this change drops {named} from {their} while devices still get certificates from it "
                           "(they only move to the new root at the switch)")
                else:
                    why = (f"this change drops {named} from {their} while the issuer still signs with it until the "
                           "change lands, and leaves it signs stay valid for their whole lifetime")
                hint = "switch first; retire once the last certificate under the old root has expired"
            else:
                why = f"{named} signs the new certificates but is not in {their} after this change"
                hint = None
        out.append(Break(cluster, server_key, pop.key, root, subject, target, when, why, hint))
    return out


def _switch_words(b: ClusterState, root: str, devices: bool) -> str:
    for rotation in b.rotations:
        if rotation.to == root and rotation.phase in ("switch", "retire") and (
                (rotation.kind == "clientRoot") == devices):
            return "after the switch"
    if devices:
        return f"once devices get certificates from {root}"
    return f"once issuer {b.trust_settings.issuer_name} signs with {b.signing_ca} (root {root})"


def _retiring(b: ClusterState, devices: bool) -> bool:
    return any(r.phase == "retire" and (r.kind == "clientRoot") == devices for r in b.rotations)


def _moment(value: datetime) -> str:
    value = value.astimezone(UTC)
    if value.time() == time(0):
        return value.date().isoformat()
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _changed_certificates(deployed: Plan, proposed: Plan) -> Iterable[Hold]:
    """A root name whose certificate changed is a new root in disguise: nobody trusts it yet."""
    def pinned(plan: Plan) -> dict[str, str]:
        out: dict[str, str] = {}
        for c in plan.clusters:
            for signer in c.signers:
                if signer.root.certificate is not None:
                    out[signer.root.name] = signer.root.certificate.sha256
            for root in c.server_roots:
                if root.certificate is not None:
                    out[root.name] = root.certificate.sha256
            if c.client_auth is not None:
                for client_root in c.client_auth.roots:
                    out[client_root.name] = client_root.certificate.sha256
        return out

    old, new = pinned(deployed), pinned(proposed)
    for name in sorted(set(old) & set(new)):
        if old[name] != new[name]:
            yield Hold(f"root {name}", f"root {name} is a different certificate in the proposed spec "
                       f"(sha256 {old[name][:16]}… → {new[name][:16]}…): clients that trust the deployed one "
                       "would not trust the new one",
                       "give a new root a new name and roll over to it with a rotation")


def _rotation_steps(deployed: Plan, proposed: Plan, now: datetime) -> tuple[list[Hold], list[str]]:
    """minDwell, and notes on rotations that start late, skip a phase, go back or finish."""
    holds: list[Hold] = []
    notes: list[str] = []
    old = {r.name: r for r in deployed.rotations}
    new = {r.name: r for r in proposed.rotations}
    for name, rb in new.items():
        ra = old.get(name)
        if ra is None:
            if rb.phase != "prepare":
                skipped = PHASES[: PHASES.index(rb.phase)]
                notes.append(f"rotation {name} starts in {rb.phase}, skipping {', '.join(skipped)}"
                             + (": harmless for trust (prepare only stages the new CA material), but check the new "
                                "CA Secrets are synced before the switch" if rb.phase == "distribute" else ""))
            continue
        ia, ib = PHASES.index(ra.phase), PHASES.index(rb.phase)
        if ib > ia:
            if ib > ia + 1:
                notes.append(f"rotation {name} moves from {ra.phase} to {rb.phase}, skipping "
                             f"{', '.join(PHASES[ia + 1 : ib])}")
            ready = dwell_over(ra)
            if ready is not None and now < ready:
                began = ra.started_at(ra.phase)
                assert began is not None
                why = _PREPARE_DWELL_WHY if ra.phase == "prepare" else _DISTRIBUTE_DWELL_WHY
                holds.append(Hold(f"rotation {name}", f"rotation {name}: {ra.phase} began {began.isoformat()}, and "
                                  f"minDwell {describe(ra.min_dwell)} keeps it there until {_moment(ready)}, {why}",
                                  f"take this step on or after {first_day_at_or_after(ready).isoformat()}"))
        elif ib < ia:
            notes.append(_going_back(deployed, ra, rb, now))
    for name, ra in old.items():
        if name not in new:
            notes.append(f"rotation {name} is finished (it was in {ra.phase})")
    return holds, notes


def _going_back(deployed: Plan, ra: RotationState, rb: RotationState, now: datetime) -> str:
    text = f"rotation {ra.name} goes back from {ra.phase} to {rb.phase}"
    switched = ra.started_at("switch")
    if ra.kind == "intermediate" or ra.to is None or switched is None or rb.phase not in ("prepare", "distribute"):
        return text
    if ra.phase not in ("switch", "retire"):
        return text
    if ra.kind == "clientRoot":
        lifetimes = [r.max_leaf_lifetime for c in deployed.clusters if c.client_auth is not None
                     for r in c.client_auth.roots if r.name == ra.to]
        wait = lifetimes[0] if lifetimes else None
    else:
        wait, _ = retire_wait(deployed, RotationState(ra.name, ra.kind, ra.to, ra.from_, ra.phase, ra.started,
                                                      ra.min_dwell, ra.clusters))
    keep = (f"keep {ra.to} trusted until then (do not go back to prepare earlier: the spec no longer records "
            "the switch, so aiogen cannot check that step)")
    issued = f"certificates issued under {ra.to} from the switch on {switched.isoformat()} until this change lands"
    if wait is None:
        return f"{text}: {issued} stay valid for as long as {ra.to} issues them (no maxLeafLifetime); {keep}"
    return f"{text}: {issued} stay valid until about {_moment(end_of_day(now.date()) + wait)}; {keep}"


# ---------------------------------------------------------------- the phase model: when may the next step be taken


def dwell_over(rotation: RotationState) -> datetime | None:
    """When ``minDwell`` lets a rotation leave prepare or distribute (None in switch and retire)."""
    if rotation.phase not in ("prepare", "distribute"):
        return None
    began = rotation.started_at(rotation.phase)
    return None if began is None else start_of_day(began) + rotation.min_dwell


def retire_wait(plan: Plan, rotation: RotationState) -> tuple[timedelta | None, str]:
    """How long after the switch day certificates under the old chain may live, and whose they are.

    None when nobody knows (a client root without maxLeafLifetime). An intermediate rotation needs
    no wait: leaves under the old intermediate still chain to the same root.
    """
    if rotation.kind == "intermediate":
        return timedelta(0), "an intermediate rotation keeps the root, so certificates under the old " \
                             "intermediate stay trusted"
    if rotation.kind == "clientRoot":
        if rotation.from_max_leaf_lifetime is None:
            return None, (f"client root {rotation.from_} has no maxLeafLifetime, so aiogen cannot tell when the "
                          "last device certificate under it expires")
        return rotation.from_max_leaf_lifetime, f"maxLeafLifetime of {rotation.from_}"
    longest: tuple[timedelta, str] | None = None
    for name in rotation.clusters:
        try:
            cluster = plan.cluster(name)
        except KeyError:
            continue
        for server in cluster_state(cluster).servers:
            if server.lifetime is not None and (longest is None or server.lifetime > longest[0]):
                longest = (server.lifetime, f"{server.label} on {name}")
    if longest is None:
        return DEFAULT_LISTENER_LIFETIME, f"longest leaf lifetime under {rotation.from_} ({DEFAULT_LISTENER_LABEL})"
    return longest[0], f"longest leaf lifetime under {rotation.from_} ({longest[1]})"


StepPhase = Literal["prepare", "distribute", "switch", "retire", "finish"]


@dataclass(frozen=True)
class Step:
    """A step a rotation has left, and the earliest moment it may be taken."""

    phase: StepPhase
    ready: datetime | None  # None: aiogen cannot tell (see `because`)
    because: str

    @property
    def earliest(self) -> date | None:
        return None if self.ready is None else first_day_at_or_after(self.ready)


def remaining_steps(plan: Plan, rotation: RotationState) -> tuple[Step, ...]:
    """The phases after the current one (then `finish`), each at its earliest, from the spec's durations."""
    steps: list[Step] = []
    index = PHASES.index(rotation.phase)
    began: datetime | None = None
    recorded = rotation.started_at(rotation.phase)
    if recorded is not None:
        began = start_of_day(recorded)
    switched = rotation.started_at("switch")
    for phase in PHASES[index + 1 :]:
        previous = PHASES[PHASES.index(phase) - 1]
        ready: datetime | None
        if phase in ("distribute", "switch"):
            ready = None if began is None else began + rotation.min_dwell
            since = (f"{previous} began {began.date().isoformat()}" if previous == rotation.phase and began
                     else f"{previous} at the earliest")
            because = f"{since}, plus minDwell {describe(rotation.min_dwell)}"
        else:  # retire
            switch_day = switched or (began.date() if began else None)
            wait, whose = retire_wait(plan, rotation)
            if rotation.kind == "intermediate":
                ready = start_of_day(switch_day) if switch_day else None
                because = f"any time after the switch: {whose}"
            elif wait is None or switch_day is None:
                ready = None
                because = whose
            else:
                ready = end_of_day(switch_day) + wait
                because = f"the switch day {switch_day.isoformat()} + {describe(wait)}, the {whose}"
        steps.append(Step(phase, ready, because))
        began = ready
    finish_ready = began if rotation.phase != "retire" else start_of_day(recorded) if recorded else None
    if rotation.kind == "clientRoot":
        finish = f"{rotation.to} replaces {rotation.from_} in trustedClientRoots"
    else:
        finish = "each cluster's pki.next becomes its pki"
    steps.append(Step("finish", finish_ready, f"after retire: {finish} and the rotation goes; the rendered output "
                      "does not change"))
    return tuple(steps)
