"""Run the checks: issue the material once, then path validation and a real handshake per distinct pair.

Checks whose client brings the same trust, name and certificate to the same server certificate
share one verdict: the first is judged by a real handshake (`aiogen.simulate.verdicts`), the
others reuse its verdict, and the report counts the two apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509

from aiogen.model.plan import AutomaticTls
from aiogen.pki.chain import is_self_signed, pem_of
from aiogen.simulate.diagnosis import diagnose
from aiogen.simulate.handshake import ClientConfig, ServerConfig
from aiogen.simulate.material import MaterialError, ThrowawayPki
from aiogen.simulate.planning import ClientPlan, Job, ServerPlan
from aiogen.simulate.report import Check
from aiogen.simulate.verdicts import ServerPairs, Verdict, Verdicts

Progress = Callable[[int, int], None]


@dataclass
class Group:
    server: ServerConfig | None
    chain: tuple[x509.Certificate, ...]
    error: str | None
    jobs: list[Job] = field(default_factory=list)


def run(jobs: list[Job], pki: ThrowawayPki, at: datetime, workers: int | None, progress: Progress | None) -> None:
    """Issue the material and judge every check: each distinct (server certificate, client) pair once
    (`aiogen.simulate.verdicts`), the first check of a pair by a real handshake, the others by its
    verdict (counted as reused).

    Material is issued in one thread, in the order of the checks (the PKI's caches give one
    stand-in per CA, and its notes keep that order); a server certificate goes to be judged as soon
    as the last of its distinct clients has been issued, while the rest is still being issued.
    """
    ready_after, pairs = _readiness(jobs)
    groups: dict[tuple[str, ...], Group] = {}
    clients: dict[tuple[str, ...], ClientConfig | str] = {}
    judged: list[Group] = []
    with Verdicts(at, workers, pairs) as verdicts:
        for index, job in enumerate(jobs):
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
            else:
                job.check.server, job.check.client = group.server, client
            for ready in ready_after.get(index, ()):
                if groups[ready].server is not None:
                    judged.append(groups[ready])
                    verdicts.submit(_pairs(groups[ready]))
        _apply(list(groups.values()), judged, verdicts.results(), pki, at, progress)


def _readiness(jobs: list[Job]) -> tuple[dict[int, list[tuple[str, ...]]], int]:
    """After which check each server certificate has met all its distinct clients; how many pairs there are."""
    last: dict[tuple[str, ...], int] = {}
    seen: set[tuple[tuple[str, ...], tuple[str, ...]]] = set()
    for index, job in enumerate(jobs):
        key, pair = job.server.key, (job.server.key, job.client.key)
        if pair not in seen:
            seen.add(pair)
            last[key] = index
    ready: dict[int, list[tuple[str, ...]]] = {}
    for key, index in last.items():
        ready.setdefault(index, []).append(key)
    return ready, len(seen)


def _pairs(group: Group) -> ServerPairs:
    assert group.server is not None
    clients = (job.check.client for job in group.jobs if job.check.result != "FAIL" and job.check.client is not None)
    return ServerPairs(group.server, tuple(dict.fromkeys(clients)))


def _apply(groups: list[Group], judged: list[Group], results: Iterator[list[Verdict]], pki: ThrowawayPki,
           at: datetime, progress: Progress | None) -> None:
    """Give every check its verdict (or its group's material error), in the order the groups were judged."""
    total = sum(len(g.jobs) for g in groups)
    done = 0
    for group in groups:
        if group.server is None:
            for job in group.jobs:
                if job.check.result != "FAIL":
                    job.check.result, job.check.reason = "FAIL", group.error or "no server certificate"
            done += len(group.jobs)
            if progress is not None:
                progress(done, total)
    for group, verdicts in zip(judged, results, strict=True):
        found = dict(zip(_pairs(group).clients, verdicts, strict=True))
        shaken: set[ClientConfig] = set()
        for job in group.jobs:
            check = job.check
            if check.result == "FAIL" or check.client is None:
                continue
            check.verdict = "reused" if check.client in shaken else "handshake"
            shaken.add(check.client)
            _judge(check, job, found[check.client], group, pki, at)
        done += len(group.jobs)
        if progress is not None:
            progress(done, total)


def _server_group(plan: ServerPlan, pki: ThrowawayPki) -> Group:
    tls = plan.port.tls
    assert isinstance(tls, AutomaticTls)
    try:
        issued = pki.server_certificate(plan.cluster, plan.signer, plan.listener.name, plan.port.port, tls)
        client_ca = pki.client_ca(plan.client_roots) if plan.client_roots is not None else None
    except MaterialError as error:
        return Group(None, (), str(error))
    config = ServerConfig(issued.secret.tls_crt, issued.secret.tls_key, client_ca, plan.require_client_cert)
    return Group(config, issued.chain, None)


def _client_config(plan: ClientPlan, pki: ThrowawayPki) -> ClientConfig | str:
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


def _judge(check: Check, job: Job, verdict: Verdict, group: Group, pki: ThrowawayPki, at: datetime) -> None:
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
    reason = diagnose(job, verdict, group, pki, at)
    if paths_ok != outcome.ok:  # the two validators disagree: say so loudly, it is a bug somewhere
        reason = (f"path validation says {'valid' if paths_ok else 'invalid'} but the handshake "
                  f"{'succeeded' if outcome.ok else 'failed'}: {reason}")
    check.reason = f"{reason}; {check.note}" if check.note else reason


