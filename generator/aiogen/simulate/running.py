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
from aiogen.simulate.verdicts import ServerPairs, Verdict, judge_all

Progress = Callable[[int, int], None]


@dataclass
class Group:
    server: ServerConfig | None
    chain: tuple[x509.Certificate, ...]
    error: str | None
    jobs: list[Job] = field(default_factory=list)


def materials(jobs: list[Job], pki: ThrowawayPki) -> list[Group]:
    """Issue everything first, in one thread: the PKI's caches must give one stand-in per CA."""
    groups: dict[tuple[str, ...], Group] = {}
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


def run(groups: list[Group], pki: ThrowawayPki, at: datetime, workers: int | None,
        progress: Progress | None) -> None:
    """Judge every check: each distinct (server certificate, client) pair once (`aiogen.simulate.verdicts`),
    the first check of a pair by a real handshake, the others by its verdict (counted as reused)."""
    total = sum(len(g.jobs) for g in groups)
    done = 0
    served = [g for g in groups if g.server is not None]
    work = [ServerPairs(g.server, tuple(dict.fromkeys(_clients(g)))) for g in served if g.server is not None]
    for group in groups:
        if group.server is None:
            for job in group.jobs:
                if job.check.result != "FAIL":
                    job.check.result, job.check.reason = "FAIL", group.error or "no server certificate"
            done += len(group.jobs)
            if progress is not None:
                progress(done, total)
    for group, item, verdicts in zip(served, work, judge_all(work, at, workers), strict=True):
        found = dict(zip(item.clients, verdicts, strict=True))
        judged: set[ClientConfig] = set()
        for job in group.jobs:
            check = job.check
            if check.result == "FAIL" or check.client is None:
                continue
            check.verdict = "reused" if check.client in judged else "handshake"
            judged.add(check.client)
            _judge(check, job, found[check.client], group, pki, at)
        done += len(group.jobs)
        if progress is not None:
            progress(done, total)


def _clients(group: Group) -> Iterator[ClientConfig]:
    for job in group.jobs:
        if job.check.result != "FAIL" and job.check.client is not None:
            yield job.check.client


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


