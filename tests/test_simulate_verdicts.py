"""Worker processes judge exactly as one process does, and the summary counts real handshakes apart from reuse."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiogen.simulate.engine import simulate_specs
from aiogen.simulate.handshake import certificates, handshake, verify_client_path, verify_server_path
from aiogen.simulate.report import SimulationReport, to_json
from aiogen.simulate.verdicts import IN_PROCESS_BELOW, Judge, ServerPairs
from tests.helpers import EXAMPLES, REPO

FIXTURES = REPO / "tests" / "fixtures" / "simulate"
ROLLOVER = sorted((EXAMPLES / "rollover").glob("0*.yaml"))


def _rows(report: SimulationReport) -> list[tuple[object, ...]]:
    """Everything a user reads about each check (the report minus its clock)."""
    return [tuple(sorted(row.items(), key=lambda item: item[0])) for row in to_json(report)["checks"]]


@pytest.mark.slow
@pytest.mark.parametrize("specs", [[FIXTURES / "broken-skipped-phase.yaml"], ROLLOVER],
                         ids=["broken-skipped-phase", "rollover"])
def test_worker_processes_give_the_report_of_one_process(specs: list[Path]) -> None:
    alone, _ = simulate_specs(specs, workers=1)
    spread, _ = simulate_specs(specs, workers=2)  # always worker processes, however few the pairs
    assert _rows(spread) == _rows(alone)
    assert (spread.handshakes, spread.reused) == (alone.handshakes, alone.reused)
    assert spread.handshakes + spread.reused == sum(1 for c in spread.checks if c.verdict)
    if specs[0].name.startswith("broken"):
        assert not spread.ok


def test_each_distinct_pair_is_one_real_handshake_and_the_rest_reuse_it() -> None:
    report, _ = simulate_specs([FIXTURES / "broken-skipped-phase.yaml"])  # few pairs: judged in this process
    assert report.handshakes < IN_PROCESS_BELOW
    pairs: dict[tuple[object, ...], list[str]] = {}
    for check in report.checks:
        if check.server is not None and check.client is not None:
            pairs.setdefault((check.server, check.client), []).append(check.verdict)
    assert report.handshakes == len(pairs) and report.reused == sum(len(v) - 1 for v in pairs.values())
    for verdicts in pairs.values():  # one check of a pair shook hands; the others reused its verdict
        assert sorted(verdicts) == ["handshake"] + ["reused"] * (len(verdicts) - 1)
    summary = to_json(report)["summary"]
    assert (summary["handshakes"], summary["reusedVerdicts"]) == (report.handshakes, report.reused)


def test_a_judge_gives_what_fresh_validation_and_a_fresh_handshake_give() -> None:
    """Its parsed bundles, client contexts and memo of signatures and path judgements change no verdict."""
    from tests.test_simulate_loopback import CASES, NOW, build_cases

    built = build_cases()
    judge = Judge(NOW)
    try:
        for _ in range(2):  # the second round answers from what the first remembered
            for name in CASES:
                server, client = built[name]
                chain = certificates(server.chain_pem, "tls.crt")
                fresh = verify_server_path(chain, certificates(client.trust_pem, "trust"), client.hostname, NOW)
                [verdict] = judge.judge(ServerPairs(server, (client,)))
                assert verdict.path == fresh, name
                assert verdict.outcome == handshake(server, client), name
                if client.chain_pem is not None and server.client_ca_pem is not None:
                    device = verify_client_path(certificates(client.chain_pem, "client"),
                                                certificates(server.client_ca_pem, "client CA"), NOW)
                    assert verdict.client_path == device, name
    finally:
        judge.close()


def test_without_process_semaphores_the_pairs_are_judged_in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where worker processes cannot start (no /dev/shm for their semaphores), the run goes on in one process."""
    import concurrent.futures

    def unavailable(*args: object, **kwargs: object) -> None:
        raise OSError(38, "Function not implemented")

    spec = [FIXTURES / "broken-skipped-phase.yaml"]
    alone, _ = simulate_specs(spec, workers=1)
    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", unavailable)
    fallen_back, _ = simulate_specs(spec, workers=2)
    assert _rows(fallen_back) == _rows(alone)
