"""aiogen simulate: every example and rollover passes; broken specs fail for the reason a user would see."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest

from aiogen.output.keyscan import find_private_key
from aiogen.simulate.engine import simulate_specs
from aiogen.simulate.report import SimulationReport, format_table
from tests.helpers import EXAMPLE_SPECS, EXAMPLES, REPO, aiogen

FIXTURES = REPO / "tests" / "fixtures" / "simulate"
ROLLOVERS = sorted(FIXTURES.glob("rollover-*.yaml"))
# Rollover examples: directories of numbered steps, each step a commit (examples/rollover, its client-root/).
ROLLOVER_DIRS = sorted({p.parent for p in (EXAMPLES / "rollover").rglob("[0-9][0-9]-*.yaml")})
ROLLOVER_STEPS = sorted((EXAMPLES / "rollover").rglob("[0-9][0-9]-*.yaml"))

_reports: dict[tuple[Path, ...], SimulationReport] = {}


def report_of(*paths: Path) -> SimulationReport:
    """Simulate once per spec (or sequence) for the whole module: keys and handshakes cost time."""
    if paths not in _reports:
        _reports[paths] = simulate_specs(list(paths))[0]
    return _reports[paths]


def failures(report: SimulationReport) -> list[str]:
    return [f"{c.cluster} {c.listener}:{c.port} {c.population} [{c.phase}]: {c.reason}"
            for c in report.checks if c.result == "FAIL"]


# ------------------------------------------------------------------------------ what must pass


@pytest.mark.parametrize("spec", EXAMPLE_SPECS, ids=lambda p: p.name)
def test_every_example_passes(spec: Path) -> None:
    report = report_of(spec)
    assert report.checks
    assert failures(report) == []


@pytest.mark.parametrize("spec", ROLLOVERS, ids=lambda p: p.name)
def test_every_phase_and_mixture_of_a_rollover_passes(spec: Path) -> None:
    report = report_of(spec)
    assert failures(report) == []
    rotation_phases = {c.phase for c in report.checks if c.phase != "current"}
    name = next(iter(rotation_phases)).split(" ")[0]
    for phase in ("prepare", "distribute", "switch", "retire"):
        assert f"{name} {phase}" in rotation_phases
    for before, after in (("prepare", "distribute"), ("distribute", "switch"), ("switch", "retire")):
        assert f"{name} {before}→{after}: old server, new clients" in rotation_phases
        assert f"{name} {before}→{after}: new server, old clients" in rotation_phases


def test_server_root_rollover_presents_old_leaves_after_the_switch() -> None:
    report = report_of(FIXTURES / "rollover-server-root.yaml")
    stale = [c for c in report.checks if "leaf signed by lyon-ica-2025 before switch" in c.phase]
    assert {c.phase for c in stale} == {"root-2028 switch: leaf signed by lyon-ica-2025 before switch"}
    assert {c.result for c in stale} == {"pass"}
    assert {c.population for c in stale} == {"in-cluster aio-trust-bundle", "in-cluster contoso-mqtt-trust",
                                             "external ca-bundle.pem"}


def test_client_root_rollover_simulates_devices_of_each_root_with_mtls() -> None:
    report = report_of(FIXTURES / "rollover-client-root.yaml")
    devices = {(c.phase, c.population) for c in report.checks if c.kind == "x509"}
    assert ("devices-2027 prepare", "x509 contoso-devices-2025") in devices
    assert ("devices-2027 switch", "x509 contoso-devices-2027") in devices
    assert ("devices-2027 switch: device certificates issued earlier",
            "x509 contoso-devices-2025 (issued before switch)") in devices
    assert ("devices-2027 retire", "x509 contoso-devices-2027") in devices
    assert not any(phase == "devices-2027 retire" and "2025" in pop for phase, pop in devices)


@pytest.mark.parametrize("directory", ROLLOVER_DIRS, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_each_rollover_example_sequence_passes_commit_by_commit(directory: Path) -> None:
    steps = sorted(directory.glob("[0-9][0-9]-*.yaml"))
    assert len(steps) >= 2
    report = report_of(*steps)
    assert failures(report) == []
    assert any("→" in c.phase for c in report.checks)


@pytest.mark.parametrize("spec", ROLLOVER_STEPS, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_every_rollover_example_step_passes_through_all_its_phases(spec: Path) -> None:
    assert failures(report_of(spec)) == []


# ------------------------------------------------------------------------------ what must fail, and why


def test_a_skipped_phase_fails_naming_the_root_clients_do_not_trust() -> None:
    report = report_of(FIXTURES / "broken-skipped-phase.yaml")
    assert not report.ok
    failed = [c for c in report.checks if c.result == "FAIL"]
    assert {c.phase for c in failed} == {"root-2028 prepare→switch (distribute skipped): new server, old clients"}
    assert {c.population for c in failed} == {"in-cluster aio-trust-bundle", "in-cluster contoso-mqtt-trust",
                                              "external ca-bundle.pem"}
    assert {c.reason for c in failed} == {
        "the server's chain ends at root contoso-root-2028, which these clients do not trust (they trust "
        "contoso-root-2025); distribute lasted 0d, less than minDwell 7d, so clients slower than that never saw it"
    }


def test_a_sequence_from_prepare_straight_to_switch_fails(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "pki", tmp_path / "pki")
    source = (FIXTURES / "rollover-server-root.yaml").read_text()
    (tmp_path / "1-prepare.yaml").write_text(
        source.replace("phase: distribute", "phase: prepare").replace(", distribute: 2026-10-15", ""))
    (tmp_path / "2-switch.yaml").write_text(source.replace("phase: distribute", "phase: switch").replace(
        "distribute: 2026-10-15}", "distribute: 2026-10-15, switch: 2026-10-30}"))
    report = simulate_specs([tmp_path / "1-prepare.yaml", tmp_path / "2-switch.yaml"])[0]
    failed = [c for c in report.checks if c.result == "FAIL"]
    assert failed
    assert {c.phase for c in failed} == {"spec-1→spec-2: new server, old clients"}
    assert all(c.reason.startswith("the server's chain ends at root contoso-root-2028, which these clients do not "
                                   "trust (they trust contoso-root-2025)") for c in failed)


def test_a_san_missing_the_name_clients_dial_fails() -> None:
    report = report_of(FIXTURES / "broken-san-missing.yaml")
    [failed] = [c for c in report.checks if c.result == "FAIL"]
    assert failed.population == "in-cluster aio-trust-bundle"
    assert failed.dials == "plant-mqtts.azure-iot-operations.svc.cluster.local"
    assert failed.reason == ("the certificate names mqtt.lyon.contoso.example, plant-mqtts.azure-iot-operations.svc, "
                             "not plant-mqtts.azure-iot-operations.svc.cluster.local (the name in-cluster clients dial)")
    assert "Hostname mismatch" in (failed.handshake_client or "")
    assert failed.path_validation == ("hostname mismatch: its subjectAltName names mqtt.lyon.contoso.example, "
                                      "plant-mqtts.azure-iot-operations.svc, not "
                                      "plant-mqtts.azure-iot-operations.svc.cluster.local")


def test_a_client_root_missing_from_the_client_ca_config_map_fails() -> None:
    report = report_of(FIXTURES / "broken-client-root-missing.yaml")
    failed = [c for c in report.checks if c.result == "FAIL"]
    assert {c.phase for c in failed} == {"devices-2027 prepare→switch (distribute skipped): old server, new clients"}
    assert {c.population for c in failed} == {"in-cluster aio-trust-bundle", "x509 contoso-devices-2027"}
    for check in failed:
        assert check.reason.startswith(
            "the device certificate chains to client root contoso-devices-2027, which is missing from the broker's "
            "client-CA ConfigMap client-ca (it holds contoso-devices-2025)")
        assert check.handshake_server is not None  # the broker itself refused the certificate


def test_retiring_while_old_leaves_live_fails() -> None:
    report = report_of(FIXTURES / "broken-retire-too-early.yaml")
    failed = [c for c in report.checks if c.result == "FAIL"]
    assert {c.phase for c in failed} == {"root-b retire: leaf signed by lab-1-root-a before switch"}
    assert {c.reason for c in failed} == {
        "the server's chain ends at root lab-1-root-a, which these clients do not trust (they trust lab-1-root-b)"}


def test_a_listener_without_san_fails_for_external_clients_with_a_clear_reason() -> None:
    report = report_of(FIXTURES / "broken-no-san.yaml")
    by_population = {c.population: c for c in report.checks if c.listener != "aio-broker"}
    assert by_population["external ca-bundle.pem"].result == "FAIL"
    assert by_population["external ca-bundle.pem"].reason.startswith(
        "the certificate has no DNS or IP SAN outside the cluster: external clients have no name to dial")
    assert by_population["in-cluster aio-trust-bundle"].reason.startswith(
        "no certificate: the listener has no SAN, and cert-manager refuses a Certificate without commonName or SAN")


def test_path_validation_and_handshake_agree_on_every_check() -> None:
    for spec in (*ROLLOVERS, *FIXTURES.glob("broken-*.yaml")):
        for check in report_of(spec).checks:
            assert "disagree" not in check.reason
            assert not check.reason.startswith("path validation says"), check.reason


# ------------------------------------------------------------------------------ the command


def test_cli_table_and_exit_codes() -> None:
    ok = aiogen("simulate", EXAMPLES / "lab.yaml")
    assert ok.code == 0, ok.err
    header = ok.out.splitlines()[0].split()
    assert header == ["CLUSTER", "LISTENER", "POPULATION", "DIALS", "PHASE", "RESULT", "REASON"]
    # the spec's listener and AIO's default listener aio-broker:18883, each a real handshake
    assert ok.out.rstrip().endswith("3 checks: 3 passed, 0 failed, 0 skipped; 3 real handshakes, 0 reused verdicts")
    broken = aiogen("simulate", FIXTURES / "broken-san-missing.yaml", "--failures")
    assert broken.code == 3
    assert len(broken.out.strip().splitlines()) == 4  # header, one failure, blank, summary
    assert "simulation FAILED" in broken.out


def test_cli_json() -> None:
    run = aiogen("simulate", FIXTURES / "broken-san-missing.yaml", "--json")
    assert run.code == 3
    data = json.loads(run.out)
    assert data["summary"] == {"checks": 3, "passed": 2, "failed": 1, "skipped": 0, "handshakes": 3,
                               "reusedVerdicts": 0, "ok": False}
    failed = [c for c in data["checks"] if c["result"] == "FAIL"]
    assert failed[0]["handshake"]["client"].startswith("certificate verify failed: Hostname mismatch")


def test_cli_bad_input_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    missing = aiogen("simulate", tmp_path / "nope.yaml")
    assert missing.code == 1
    assert "no such file" in missing.err and "Traceback" not in missing.err
    (tmp_path / "bad.yaml").write_text("apiVersion: aiogen.io/v1alpha1\nkind: Topology\nmetadata: {name: x}\n"
                                       "spec: {clusters: []}\n")
    bad = aiogen("simulate", tmp_path / "bad.yaml")
    assert bad.code == 1 and "Traceback" not in bad.err and "bad.yaml" in bad.err


def test_export_writes_plain_pem_with_private_keys_only_in_0600_key_files(tmp_path: Path) -> None:
    out = tmp_path / "material"
    run = aiogen("simulate", FIXTURES / "rollover-client-root.yaml", "--export", out)
    assert run.code == 0, run.err
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["checks"]) == 31  # 21 on the spec's listener, 10 on AIO's default listener
    for path in out.rglob("*"):
        if path.is_dir():
            continue
        if path.suffix == ".key":
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            assert find_private_key(path.read_bytes())
        else:
            assert find_private_key(path.read_bytes()) is None, path
    mtls = next(c for c in manifest["checks"] if c["kind"] == "x509")
    assert set(mtls["files"]) == {"serverChain", "serverKey", "trust", "clientCA", "clientCertificate", "clientKey"}
    folder = out / mtls["directory"]
    assert (folder / "server.crt").read_text().count("BEGIN CERTIFICATE") == 2  # leaf + intermediate, no root
    assert (folder / "ca.pem").read_text().count("BEGIN CERTIFICATE") == 1


def _openssl_verify(folder: Path, hostname: str) -> bool:
    chain = (folder / "server.crt").read_text()
    blocks = ["-----BEGIN" + b for b in chain.split("-----BEGIN")[1:]]
    (folder / "leaf.pem").write_text(blocks[0])
    (folder / "untrusted.pem").write_text("".join(blocks[1:]) or blocks[0])
    host = ["-verify_ip", hostname] if hostname.replace(".", "").isdigit() else ["-verify_hostname", hostname]
    run = subprocess.run(["openssl", "verify", "-CAfile", str(folder / "ca.pem"), "-untrusted",
                          str(folder / "untrusted.pem"), "-purpose", "sslserver", *host, str(folder / "leaf.pem")],
                         capture_output=True, text=True, timeout=30)
    return run.returncode == 0


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_openssl_verify_agrees_with_the_simulation(tmp_path: Path) -> None:
    compared = 0
    for spec in (FIXTURES / "broken-skipped-phase.yaml", FIXTURES / "broken-san-missing.yaml",
                 FIXTURES / "broken-retire-too-early.yaml", EXAMPLES / "fleet.yaml"):
        out = tmp_path / spec.stem
        assert aiogen("simulate", spec, "--export", out).code in (0, 3)
        for entry in json.loads((out / "manifest.json").read_text())["checks"]:
            if entry["kind"] == "x509":
                continue  # openssl verify checks the server side; mTLS is covered by the broker test
            verdict = _openssl_verify(out / entry["directory"], entry["dials"])
            assert verdict == (entry["result"] == "pass"), entry
            compared += 1
    assert compared > 20


# ------------------------------------------------------------------------------ scale


def test_a_100_cluster_fleet_simulates_quickly(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "pki", tmp_path / "pki")
    clusters = "".join(f"""
    - name: plant-{i:03d}
      pki:
        mode: intermediate
        root: contoso-root-2025
        intermediate: {{secret: {{name: plant-{i:03d}-ica}}}}
      broker:
        listeners:
          - name: plant-mqtts
            serviceType: LoadBalancer
            ports:
              - port: 8883
                authentication: x509
                tls: {{san: {{dns: [mqtt.plant-{i:03d}.example], inClusterNames: true}}}}
        authentication:
          x509: {{trustedClientRoots: [contoso-devices-2025]}}""" for i in range(100))
    spec = tmp_path / "fleet.yaml"
    spec.write_text(f"""apiVersion: aiogen.io/v1alpha1
kind: Topology
metadata: {{name: fleet}}
spec:
  roots:
    contoso-root-2025: {{certificate: {{file: pki/contoso-root-2025.pem}}}}
  clientRoots:
    contoso-devices-2025: {{certificate: {{file: pki/contoso-devices-2025.pem}}}}
  clusters:{clusters}
""")
    started = time.monotonic()
    report, _ = simulate_specs([spec])
    elapsed = time.monotonic() - started
    assert len(report.checks) == 300 and report.ok  # 2 per plant-mqtts port, 1 on AIO's default listener
    assert elapsed < 30 * max(1, 2 / (os.cpu_count() or 2))
    assert format_table(report).count("\n") == 303
