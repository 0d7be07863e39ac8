"""Is this rollover step safe, and when may the next one be taken?

A rotation moves clusters from an old CA chain to a new one in four phases (docs/rollover.md);
the resolver decides which chain signs and which roots each trust set holds in each phase. This
module reads two resolved Plans, never rendered YAML:

* `check(deployed, proposed, now)` proves, for every server S and every client population C that
  talks to it, that the change is safe whatever order its resources land in:

      roots S may present while the change lands  ⊆  roots C trusts before  ∩  roots C trusts after

  Each trust set is one object (a trust-manager Bundle target fed by the pinned-roots ConfigMap,
  the broker's client-CA ConfigMap, `ca-bundle.pem`), so while the change lands C holds its old
  or its new set, never a third one: a Bundle whose source is missing fails to sync and keeps its
  last target (https://cert-manager.io/docs/trust/trust-manager/), and the pinned-roots keys are
  named by root. The issuer may sign with the old or the new chain in any of those states, and a
  leaf it signs stays valid for its whole lifetime: cert-manager does not reissue leaves when a CA
  Secret changes (https://cert-manager.io/docs/usage/certificate/#renewal). So S may present the
  old signer's root, the new signer's root and the root of any leaf still valid from before an
  earlier switch.
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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from aiogen.model.dialing import name_matches
from aiogen.model.durations import describe
from aiogen.model.phases import PHASES, signs_with_new
from aiogen.model.plan import Plan, RotationState
from aiogen.rollout.days import end_of_day, first_day_at_or_after
from aiogen.rollout.report import Break, Hold, Presented, Reason, RolloutReport, join_list
from aiogen.rollout.schedule import dwell_over, retire_wait
from aiogen.rollout.state import DEVICES_KEY, ClusterState, EarlierLeaves, Population, Server, cluster_state

_PREPARE_DWELL_WHY = "so the new CA material is synced into every cluster and checked before anyone trusts it"
_DISTRIBUTE_DWELL_WHY = ("so every client has picked up the new trust (trust-manager sync, kubelet ConfigMap "
                         "refresh, application reload, ca-bundle.pem handed to external clients)")


def join_names(names: Iterable[str]) -> str:
    items = sorted(set(names))
    if not items:
        return "nothing"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


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
    breaks += _renamed(a, b, pairs)
    served = {s.endpoint for s in b.servers}
    for server in a.servers:
        if server.endpoint and server.endpoint not in served:
            notes.append(f"{name}: {server.label} ({server.endpoint}) is no longer served; clients that connect "
                         "there lose the broker, and aiogen does not judge removing a listener port")
    summary = _summary(a, b, pairs, presented_by_server, device_presented, servers, now, broken=bool(breaks))
    return _ClusterResult(breaks, holds, notes, summary)


def _renamed(a: ClusterState, b: ClusterState, pairs: list[tuple[Population, frozenset[str], frozenset[str]]]
             ) -> list[Break]:
    """A name a population dials today that the proposed certificate of that server lacks.

    Clients keep dialling the name they were configured with while the change lands; a new
    certificate without it fails their hostname check whatever roots they trust.
    """
    out: list[Break] = []
    before = {s.endpoint: s for s in a.servers if not s.manual}
    for server in b.servers:
        old = before.get(server.endpoint)  # matched by Service and port: a renamed listener keeps its clients
        if old is None or server.manual:
            continue
        for pop, _, _ in pairs:
            if pop.devices:
                name = old.dialled_outside if old.x509 and server.x509 else None
            elif server.external or not pop.external:
                name = old.dialled_outside if pop.external else old.dialled_inside
            else:
                continue
            if name is None or name_matches(name, server.names):
                continue
            who = "devices presenting client certificates" if pop.devices else pop.label
            out.append(Break(
                b.name, server.key, pop.key, f"name {name}", f"{b.name}: {who}", server.label, "after this change",
                f"they dial {name}, which the proposed certificate does not name (it names "
                f"{join_names(server.names)})",
                f"keep {name} in the listener's san (san.dns, san.ip or inClusterNames) until every client that "
                "dials it has moved to a name the new certificate holds"))
    return out


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
        parts.append(f"{join_list(manual)} (Manual TLS) not checked")
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
        merged[server.key] = replace(server, lifetime=lifetime, external=known.external or server.external)
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
        if rotation.to == root and signs_with_new(rotation.phase) and (
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
    if ra.kind == "intermediate" or ra.to is None or switched is None or signs_with_new(rb.phase):
        return text
    if not signs_with_new(ra.phase):
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
