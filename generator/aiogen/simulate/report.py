"""The simulation's report: one row per (listener port, client population, state), and its forms."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from aiogen.output.table import columns
from aiogen.simulate.handshake import ClientConfig, ServerConfig

Result = Literal["pass", "FAIL", "skip"]
Kind = Literal["in-cluster", "external", "x509"]


@dataclass
class Check:
    """One client population against one listener port in one state: the table's row."""

    cluster: str
    listener: str
    port: int
    population: str  # "in-cluster contoso-aio-trust", "external ca-bundle.pem", "x509 contoso-devices-2025"
    kind: str
    dials: str
    phase: str
    phase_key: str
    population_key: str
    note: str = ""  # why this pairing exists, when the phase label alone does not say
    result: Result = "pass"
    reason: str = ""
    path_validation: str | None = None  # cryptography's verdict on the server chain (None: valid)
    client_path_validation: str | None = None  # on the device chain, for mTLS
    handshake_client: str | None = None
    handshake_server: str | None = None
    tls_version: str | None = None
    order: tuple[int, ...] = ()
    verdict: Literal["handshake", "reused", ""] = ""  # a real handshake, or the verdict of an identical pair
    server: ServerConfig | None = field(default=None, repr=False)
    client: ClientConfig | None = field(default=None, repr=False)

    @property
    def directory(self) -> str:
        """Where `write_export` puts this check's material, relative to the export root."""
        return f"{self.cluster}/{self.listener}-{self.port}/{self.phase_key}/{self.population_key}"


@dataclass(frozen=True)
class SimulationReport:
    source: str
    clock: datetime
    checks: tuple[Check, ...]
    notes: tuple[str, ...]

    def count(self, result: Result) -> int:
        return sum(1 for check in self.checks if check.result == result)

    @property
    def ok(self) -> bool:
        return self.count("FAIL") == 0

    @property
    def handshakes(self) -> int:
        """Real TLS handshakes run (each with its path validations)."""
        return sum(1 for check in self.checks if check.verdict == "handshake")

    @property
    def reused(self) -> int:
        """Checks judged by the verdict of an identical (server certificate, client) pair."""
        return sum(1 for check in self.checks if check.verdict == "reused")


COLUMNS = ("CLUSTER", "LISTENER", "POPULATION", "DIALS", "PHASE", "RESULT", "REASON")


def format_table(report: SimulationReport, *, failures_only: bool = False) -> str:
    rows = [(c.cluster, f"{c.listener}:{c.port}", c.population, c.dials, c.phase, c.result, c.reason)
            for c in report.checks if not failures_only or c.result != "pass"]
    out = columns(COLUMNS, rows) if rows else ["no failures"]
    out.append("")
    out.append(summary(report))
    return "\n".join(out) + "\n"


def summary(report: SimulationReport) -> str:
    text = (f"{len(report.checks)} checks: {report.count('pass')} passed, {report.count('FAIL')} failed, "
            f"{report.count('skip')} skipped; {report.handshakes} real handshakes, {report.reused} reused verdicts")
    return text + ("" if report.ok else " — simulation FAILED")


def to_json(report: SimulationReport) -> dict[str, Any]:
    return {
        "source": report.source,
        "clock": report.clock.isoformat(),
        "model": {"pathValidation": "OpenSSL 3 X509_verify_cert at security level 2 (aiogen.pki.judge); trust "
                                    "anchors: self-signed roots only, as OpenSSL clients without partial-chain "
                                    "validation",
                  "handshake": "Python ssl on 127.0.0.1, SNI and hostname verification against the dialled name"},
        "summary": {"checks": len(report.checks), "passed": report.count("pass"), "failed": report.count("FAIL"),
                    "skipped": report.count("skip"), "handshakes": report.handshakes,
                    "reusedVerdicts": report.reused, "ok": report.ok},
        "checks": [check_json(c) for c in report.checks],
        "notes": list(report.notes),
    }


def check_json(check: Check) -> dict[str, Any]:
    return {
        "cluster": check.cluster, "listener": check.listener, "port": check.port, "population": check.population,
        "kind": check.kind, "dials": check.dials, "phase": check.phase, "phaseKey": check.phase_key,
        "note": check.note or None,
        "result": check.result, "reason": check.reason, "verdict": check.verdict or None,
        "pathValidation": check.path_validation, "clientPathValidation": check.client_path_validation,
        "handshake": {"client": check.handshake_client, "server": check.handshake_server,
                      "version": check.tls_version},
        "export": check.directory if check.server is not None and check.client is not None else None,
    }
