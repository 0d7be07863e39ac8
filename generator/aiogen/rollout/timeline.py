"""When is each CA and leaf issued, renewed and expired over the next years? ``aiogen timeline``.

From the Plan's durations alone (no keys): a CA or leaf that cert-manager manages is issued at
the start of the horizon and renewed ``renewBefore`` ahead of its expiry, again and again (the
renewal time of ``pkg/util/pki/renewaltime.go``, https://cert-manager.io/docs/usage/certificate/);
a CA brought in by its certificate (a pinned root, an intermediate from Key Vault or a Secret) has
the dates its certificate says and is never renewed by cert-manager
(https://cert-manager.io/docs/configuration/ca/).

Flags:

* a child that would outlive the CA generation that issued it: cert-manager does not clip a
  leaf's notAfter to its issuer's (cert-manager issue #5864), and a leaf's ``tls.crt`` keeps the
  old intermediate copy after the intermediate renews (https://cert-manager.io/docs/configuration/ca/),
  so the chain breaks when that copy expires;
* a CA that expires inside the horizon without renewal;
* a rotation phase recorded as shorter than ``minDwell``, or a ``retire`` that begins while
  leaves (or device certificates) signed before ``switch`` are still valid.

Output: a table, a Mermaid ``gantt`` chart (GitHub renders it in Markdown), or JSON.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any, Literal

from aiogen.model.dialing import servers
from aiogen.model.phases import PHASES, dwells
from aiogen.model.plan import AutomaticTls, Cluster, InClusterCA, Plan, RotationState, Signer
from aiogen.output.table import columns
from aiogen.rollout.days import end_of_day, start_of_day
from aiogen.rollout.schedule import longest_old_leaf, phase_dates

MAX_GENERATIONS = 500  # per class; a 1h leaf over 5 years would otherwise be 40,000 rows of nothing new
Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Generation:
    issued: datetime
    renews: datetime | None  # None: nobody renews it (brought-in material)
    expires: datetime


@dataclass(frozen=True)
class CertificateClass:
    """One certificate of a cluster across its generations: a root, an intermediate, a listener's leaf."""

    cluster: str
    kind: Literal["root", "intermediate", "leaf"]
    name: str
    issuer: str | None  # the class name that signs it (None: self-signed)
    managed: bool  # cert-manager issues and renews it
    duration: timedelta | None
    renew_before: timedelta | None
    generations: tuple[Generation, ...]
    truncated: bool = False
    known: bool = True  # False: the spec gives no certificate, dates unknown

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"


@dataclass(frozen=True)
class Flag:
    cluster: str
    at: datetime
    subject: str
    message: str
    severity: Severity = "error"


@dataclass(frozen=True)
class PhaseDate:
    rotation: str
    phase: str
    begins: date
    recorded: bool


@dataclass(frozen=True)
class Timeline:
    name: str
    start: datetime
    end: datetime
    classes: tuple[CertificateClass, ...]
    flags: tuple[Flag, ...]
    phases: tuple[PhaseDate, ...] = field(default=())


# ------------------------------------------------------------------------------ building


def build(plan: Plan, *, start: datetime, years: int) -> Timeline:
    start = start.astimezone(UTC).replace(microsecond=0)
    end = start.replace(year=start.year + years) if not (start.month == 2 and start.day == 29) \
        else start + timedelta(days=365 * years)
    classes: list[CertificateClass] = []
    flags: list[Flag] = []
    for cluster in plan.clusters:
        mine = list(_cluster_classes(cluster, start, end))
        classes += mine
        flags += _outlive_flags(cluster.name, mine, start, end)
    phases, dwell_flags = _rotation_schedule(plan)
    flags += dwell_flags
    flags.sort(key=lambda f: (f.at, f.cluster, f.subject))
    return Timeline(plan.name, start, end, tuple(classes), tuple(flags), tuple(phases))


def _periodic(start: datetime, end: datetime, duration: timedelta, renew_before: timedelta
              ) -> tuple[tuple[Generation, ...], bool]:
    step = duration - renew_before
    out: list[Generation] = []
    issued = start
    while issued < end and len(out) < MAX_GENERATIONS:
        out.append(Generation(issued, issued + step, issued + duration))
        issued += step
    return tuple(out), issued < end


def _in_cluster(cluster: str, kind: Literal["root", "intermediate"], name: str, issuer: str | None,
                ca: InClusterCA, start: datetime, end: datetime) -> CertificateClass:
    generations, truncated = _periodic(start, end, ca.duration, ca.renew_before)
    return CertificateClass(cluster, kind, name, issuer, True, ca.duration, ca.renew_before, generations, truncated)


def _fixed(cluster: str, kind: Literal["root", "intermediate"], name: str, issuer: str | None,
           not_before: datetime, not_after: datetime) -> CertificateClass:
    return CertificateClass(cluster, kind, name, issuer, False, not_after - not_before, None,
                            (Generation(not_before, None, not_after),))


def _cluster_classes(cluster: Cluster, start: datetime, end: datetime) -> Iterator[CertificateClass]:
    seen: set[str] = set()
    for signer in cluster.signers:
        root = signer.root
        root_label = f"root {root.name}"
        if root_label not in seen:
            seen.add(root_label)
            if root.certificate is not None:
                yield _fixed(cluster.name, "root", root.name, None, root.certificate.not_before,
                             root.certificate.not_after)
            elif root.in_cluster is not None:
                yield _in_cluster(cluster.name, "root", root.name, None, root.in_cluster, start, end)
        if signer.role == "intermediate":
            yield _intermediate(cluster.name, signer, root_label, start, end)
    for signer in cluster.signers:
        if signer is not cluster.signer:
            continue
        issuer = f"{signer.role} {signer.generation if signer.role == 'intermediate' else signer.root.name}"
        for listener in servers(cluster):  # AIO's default listener too: the same issuer signs its 90-day leaves
            for port in listener.ports:
                if isinstance(port.tls, AutomaticTls):
                    generations, truncated = _periodic(start, end, port.tls.duration, port.tls.renew_before)
                    yield CertificateClass(cluster.name, "leaf", f"{listener.name}:{port.port}", issuer, True,
                                           port.tls.duration, port.tls.renew_before, generations, truncated)


def _intermediate(cluster: str, signer: Signer, root_label: str, start: datetime, end: datetime) -> CertificateClass:
    if signer.in_cluster is not None:
        return _in_cluster(cluster, "intermediate", signer.generation, root_label, signer.in_cluster, start, end)
    if signer.chain:
        cert = signer.chain[0]
        return _fixed(cluster, "intermediate", signer.generation, root_label, cert.not_before, cert.not_after)
    return CertificateClass(cluster, "intermediate", signer.generation, root_label, False, None, None, (),
                            known=False)


def _outlive_flags(cluster: str, classes: list[CertificateClass], start: datetime, end: datetime
                   ) -> Iterator[Flag]:
    by_label = {c.label: c for c in classes}
    for child in classes:
        if not child.known:
            yield Flag(cluster, start, child.label, f"{child.label}: the spec gives no certificate, so its expiry is "
                       "unknown; give pki.intermediate.certificate to have it checked", "warning")
            continue
        if not child.managed and start <= child.generations[0].expires <= end:
            yield Flag(cluster, child.generations[0].expires, child.label,
                       f"{child.label} expires {_day(child.generations[0].expires)} and cert-manager does not renew "
                       "brought-in material: rotate it before then")
        parent = by_label.get(child.issuer or "")
        if parent is None or not parent.known:
            continue
        for generation in child.generations:
            if generation.issued >= end:
                break
            issuer = _generation_at(parent, generation.issued)
            if issuer is None:
                yield Flag(cluster, generation.issued, child.label,
                           f"{child.label} would be issued {_day(generation.issued)} by {parent.label}, which is not "
                           "valid then (cert-manager's CA issuer still signs with an expired CA, issue #5156)")
                break
            if generation.expires > issuer.expires:
                yield Flag(cluster, generation.issued, child.label,
                           f"{child.label} issued {_day(generation.issued)} expires {_day(generation.expires)}, after "
                           f"the {parent.label} that signs it ({_day(issuer.expires)}): the chain breaks "
                           f"{_day(issuer.expires)} (cert-manager does not clip notAfter: "
                           "https://github.com/cert-manager/cert-manager/issues/5864)")
                break


def _generation_at(parent: CertificateClass, moment: datetime) -> Generation | None:
    """The parent generation that signs at ``moment``: the newest issued by then and not expired."""
    found: Generation | None = None
    for generation in parent.generations:
        if generation.issued <= moment < generation.expires:
            found = generation
    return found


def _rotation_schedule(plan: Plan) -> tuple[list[PhaseDate], list[Flag]]:
    phases: list[PhaseDate] = []
    flags: list[Flag] = []
    for rotation in plan.rotations:
        dates = phase_dates(plan, rotation)
        recorded: dict[str, date] = dict(rotation.started)
        for phase in PHASES:
            phases.append(PhaseDate(rotation.name, phase, dates[phase], phase in recorded))
        flags += _dwell_flags(plan, rotation, recorded)
    return phases, flags


def _dwell_flags(plan: Plan, rotation: RotationState, recorded: dict[str, date]
                 ) -> Iterator[Flag]:
    who = ", ".join(rotation.clusters)
    for phase, after in pairwise(PHASES):
        if dwells(phase) and phase in recorded and after in recorded:
            dwell = recorded[after] - recorded[phase]
            if dwell < rotation.min_dwell:
                yield Flag(who, start_of_day(recorded[after]), f"rotation {rotation.name}",
                           f"rotation {rotation.name}: {phase} lasted {dwell.days}d, less than minDwell "
                           f"{rotation.min_dwell.days}d; clients slower than that never saw it")
    if "switch" in recorded and "retire" in recorded and rotation.kind != "intermediate":
        lifetime = longest_old_leaf(plan, rotation)
        until = end_of_day(recorded["switch"]) + lifetime
        if start_of_day(recorded["retire"]) < until:
            what = "device certificates" if rotation.kind == "clientRoot" else "leaves"
            yield Flag(who, start_of_day(recorded["retire"]), f"rotation {rotation.name}",
                       f"rotation {rotation.name}: retire began {recorded['retire'].isoformat()}, but {what} signed "
                       f"under {rotation.from_} until the switch day ({recorded['switch'].isoformat()}) stay valid "
                       f"until {_day(until)}")


def _day(moment: datetime) -> str:
    return moment.date().isoformat()


def _span(value: timedelta | None) -> str:
    if value is None:
        return "-"
    if value % timedelta(days=1) == timedelta(0):
        return f"{value.days}d"
    hours = value / timedelta(hours=1)
    return f"{hours:g}h"


# ------------------------------------------------------------------------------ output


def format_table(timeline: Timeline) -> str:
    head = ("CLUSTER", "CERTIFICATE", "ISSUER", "ISSUED", "RENEWS", "EXPIRES", "GENERATIONS")
    rows: list[tuple[str, ...]] = []
    for c in timeline.classes:
        if not c.known:
            rows.append((c.cluster, c.label, c.issuer or "self-signed", "?", "by hand", "unknown", "?"))
            continue
        first = c.generations[0]
        if c.managed:
            assert c.duration is not None and c.renew_before is not None
            renews = f"every {_span(c.duration - c.renew_before)} from {_day(first.renews or first.expires)}"
            expires = f"{_span(c.duration)} after issue"
            count = f"{len(c.generations)}{'+' if c.truncated else ''}"
        else:
            renews, expires, count = "by hand", _day(first.expires), "1"
        rows.append((c.cluster, c.label, c.issuer or "self-signed", _day(first.issued), renews, expires, count))
    out = [f"{timeline.name}: {_day(timeline.start)} to {_day(timeline.end)}", "", *columns(head, rows)]
    if timeline.phases:
        out += ["", *columns(("ROTATION", "PHASE", "BEGINS", ""),
                              [(p.rotation, p.phase, p.begins.isoformat(), "recorded" if p.recorded else "earliest")
                               for p in timeline.phases])]
    out.append("")
    if timeline.flags:
        out += columns(("WHEN", "CLUSTER", "SEVERITY", "FLAG"),
                        [(_day(f.at), f.cluster, f.severity, f.message) for f in timeline.flags])
    else:
        out.append("no flags: no child outlives its issuer and every rotation dwells long enough")
    return "\n".join(out) + "\n"


def _mermaid_text(text: str) -> str:
    """Mermaid gantt task names end at ':' and may not hold '#' or ';'."""
    return text.replace(":", " ").replace("#", "").replace(";", " ")


def format_mermaid(timeline: Timeline, *, fence: bool = False) -> str:
    """A Mermaid gantt chart: bars clipped to the horizon, flags as critical milestones."""
    lines = ["gantt", f"    title {_mermaid_text(timeline.name)} certificates {_day(timeline.start)} to "
             f"{_day(timeline.end)}", "    dateFormat YYYY-MM-DD", "    axisFormat %Y-%m"]
    counter = [0]

    def task(name: str, begin: datetime, finish: datetime, tags: str = "") -> str:
        counter[0] += 1
        begin, finish = max(begin, timeline.start), min(finish, timeline.end)
        days = max(1, (finish - begin).days)
        prefix = f"{tags}, " if tags else ""
        return f"    {_mermaid_text(name)} :{prefix}t{counter[0]}, {_day(begin)}, {days}d"

    current = None
    for c in timeline.classes:
        if c.cluster != current:
            current = c.cluster
            lines.append(f"    section {_mermaid_text(c.cluster)}")
        if not c.known:
            continue
        shown = [g for g in c.generations if g.expires > timeline.start and g.issued < timeline.end]
        for index, generation in enumerate(shown[:2], start=1):
            suffix = f" gen {index}" if c.managed else f" until {_day(generation.expires)}"
            lines.append(task(c.label + suffix, generation.issued, generation.expires))
        if len(shown) > 2:
            assert c.duration is not None and c.renew_before is not None
            lines.append(task(f"{c.label} {len(shown) - 2}{'+' if c.truncated else ''} more every "
                              f"{_span(c.duration - c.renew_before)}", shown[2].issued, timeline.end, "active"))
    rotations = sorted({p.rotation for p in timeline.phases})
    for rotation in rotations:
        lines.append(f"    section rotation {_mermaid_text(rotation)}")
        mine = [p for p in timeline.phases if p.rotation == rotation]
        for index, phase in enumerate(mine):
            begin = start_of_day(phase.begins)
            finish = start_of_day(mine[index + 1].begins) if index + 1 < len(mine) else begin + timedelta(days=1)
            tags = "done" if phase.recorded else ""
            label = f"{phase.phase}{'' if phase.recorded else ' earliest'}"
            if begin >= timeline.start or finish > timeline.start:
                lines.append(task(label, max(begin, timeline.start), max(finish, begin + timedelta(days=1)), tags))
    if timeline.flags:
        lines.append("    section flags")
        for flag in timeline.flags:
            counter[0] += 1
            when = min(max(flag.at, timeline.start), timeline.end)
            tags = "crit, milestone" if flag.severity == "error" else "milestone"
            lines.append(f"    {_mermaid_text(flag.subject)} ({_mermaid_text(flag.cluster)}) :{tags}, "
                         f"t{counter[0]}, {_day(when)}, 0d")
    text = "\n".join(lines) + "\n"
    return f"```mermaid\n{text}```\n" if fence else text


def to_json(timeline: Timeline) -> dict[str, Any]:
    def moment(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "name": timeline.name, "start": moment(timeline.start), "end": moment(timeline.end),
        "classes": [{
            "cluster": c.cluster, "kind": c.kind, "name": c.name, "issuer": c.issuer, "managed": c.managed,
            "known": c.known, "duration": _span(c.duration), "renewBefore": _span(c.renew_before),
            "truncated": c.truncated,
            "generations": [{"issued": moment(g.issued), "renews": moment(g.renews), "expires": moment(g.expires)}
                            for g in c.generations],
        } for c in timeline.classes],
        "rotations": [{"rotation": p.rotation, "phase": p.phase, "begins": p.begins.isoformat(),
                       "recorded": p.recorded} for p in timeline.phases],
        "flags": [{"at": moment(f.at), "cluster": f.cluster, "subject": f.subject, "severity": f.severity,
                   "message": f.message} for f in timeline.flags],
    }
