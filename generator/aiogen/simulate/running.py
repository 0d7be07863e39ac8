"""Run the checks: issue the material once, then path validation and a real handshake per distinct pair.

Checks that share a server certificate share one loopback server; checks whose client brings the
same trust, name and certificate to it share one verdict (a reused verdict, counted apart from
real handshakes in the report).
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509

from aiogen.model.plan import AutomaticTls
from aiogen.pki.chain import is_self_signed, pem_of
from aiogen.simulate.diagnosis import diagnose
from aiogen.simulate.handshake import (
    ClientConfig,
    HandshakeOutcome,
    LoopbackServer,
    ServerConfig,
    certificates,
    verify_client_path,
    verify_server_path,
)
from aiogen.simulate.material import MaterialError, ThrowawayPki
from aiogen.simulate.planning import ClientPlan, Job, ServerPlan
from aiogen.simulate.report import Check

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


@dataclass(frozen=True)
class Verdict:
    path: str | None
    client_path: str | None
    outcome: HandshakeOutcome


def run(groups: list[Group], pki: ThrowawayPki, at: datetime, workers: int | None,
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

    def run_group(group: Group) -> None:
        if group.server is None:
            for job in group.jobs:
                if job.check.result != "FAIL":
                    job.check.result, job.check.reason = "FAIL", group.error or "no server certificate"
            tick(len(group.jobs))
            return
        verdicts: dict[ClientConfig, Verdict] = {}
        with LoopbackServer(group.server) as server:
            for job in group.jobs:
                check = job.check
                if check.result == "FAIL" or check.client is None:
                    tick(1)
                    continue
                verdict = verdicts.get(check.client)
                check.verdict = "reused"
                if verdict is None:
                    verdict = _verdict(server, group, check.client, at)
                    verdicts[check.client] = verdict
                    check.verdict = "handshake"
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


def _verdict(server: LoopbackServer, group: Group, client: ClientConfig, at: datetime) -> Verdict:
    trust = certificates(client.trust_pem, "trust bundle")
    path = verify_server_path(group.chain, trust, client.hostname, at)
    client_path: str | None = None
    if client.chain_pem is not None and group.server is not None and group.server.client_ca_pem is not None:
        client_path = verify_client_path(certificates(client.chain_pem, "client certificate"),
                                         certificates(group.server.client_ca_pem, "client CA"), at)
    return Verdict(path, client_path, server.attempt(client))


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


