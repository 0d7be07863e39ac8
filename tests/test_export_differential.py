"""Every exported check re-judged by the openssl CLI and a real mosquitto broker, outside aiogen.

``aiogen simulate --export DIR`` writes each check's material. Here each check is judged again
with nothing from aiogen (`tests.openssl_judge`): ``openssl verify -auth_level 2`` for the dialled
name (and the device chain against the client CAs) plus an ``openssl s_server``/``s_client``
handshake; a sample goes through mosquitto + paho too. aiogen's pass/FAIL must equal openssl's
for every check: the example specs, the example rollovers (server root and client root), the
broken fixtures, and chains built with the openssl CLI that OpenSSL accepts but a WebPKI verifier
would refuse. Checks that carry the same material are judged once (their verdict is the same by
construction: the same files), so every check is covered in well under a minute.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests import test_differential_corpus as corpus
from tests.helpers import EXAMPLE_SPECS, EXAMPLES, REPO, aiogen
from tests.openssl_judge import Judgement, rejudge

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl CLI is not installed")]

FIXTURES = REPO / "tests" / "fixtures" / "simulate"
ROLLOVERS = {"server-root": sorted((EXAMPLES / "rollover").glob("0*.yaml")),
             "client-root": sorted((EXAMPLES / "rollover" / "client-root").glob("0*.yaml"))}


def _export(specs: list[Path], out: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    run = aiogen("simulate", *specs, "--export", out, "--format", "json")
    assert run.code in (0, 3), run.err[-2000:]
    report = json.loads(run.out)
    checks: list[dict[str, Any]] = json.loads((out / "manifest.json").read_text())["checks"]
    return report, checks


def _material(root: Path, check: dict[str, Any]) -> str:
    """What decides a check: every exported file but the keys, the dialled name, mTLS required or not."""
    digest = hashlib.sha256(f"{check['dials']}|{check['requireClientCertificate']}".encode())
    for role, name in sorted(check["files"].items()):
        if not role.endswith("Key"):
            digest.update(role.encode() + (root / check["directory"] / name).read_bytes())
    return digest.hexdigest()


def rejudge_all(root: Path, checks: list[dict[str, Any]]) -> tuple[int, list[str]]:
    """Re-judge every check (once per distinct material); returns (distinct, disagreements)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for check in checks:
        groups.setdefault(_material(root, check), []).append(check)

    def one(key: str) -> tuple[str, Judgement]:
        first = groups[key][0]
        return key, rejudge(root / first["directory"], first)

    disagreements = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        for key, judged in pool.map(one, list(groups)):
            if judged.verify_ok != judged.handshake_ok:
                disagreements.append(f"openssl verify and the s_client handshake disagree: {judged.detail}")
            for check in groups[key]:
                if (check["result"] == "pass") != judged.ok:
                    disagreements.append(f"{check['directory']}: aiogen {check['result']} ({check['reason']}); "
                                         f"openssl {'pass' if judged.ok else 'FAIL'} ({judged.detail})")
    return len(groups), disagreements


def _assert_agree(root: Path, checks: list[dict[str, Any]]) -> int:
    distinct, disagreements = rejudge_all(root, checks)
    print(f"{root.name}: {len(checks)} checks re-judged ({distinct} distinct materials), "
          f"{len(disagreements)} disagreements")
    assert not disagreements, "\n".join(disagreements)
    return distinct


def _assert_counts(report: dict[str, Any]) -> None:
    """The summary counts real handshakes and reused verdicts apart, and they add up."""
    summary, checks = report["summary"], report["checks"]
    assert summary["handshakes"] == sum(1 for c in checks if c["verdict"] == "handshake")
    assert summary["reusedVerdicts"] == sum(1 for c in checks if c["verdict"] == "reused")
    judged = [c for c in checks if c["export"] is not None]
    assert summary["handshakes"] + summary["reusedVerdicts"] == len(judged)


@pytest.mark.parametrize("spec", EXAMPLE_SPECS, ids=[s.stem for s in EXAMPLE_SPECS])
def test_every_check_of_an_example_agrees_with_openssl(spec: Path, tmp_path: Path) -> None:
    report, checks = _export([spec], tmp_path)
    _assert_counts(report)
    assert checks
    _assert_agree(tmp_path, checks)


@pytest.mark.parametrize("name", ROLLOVERS)
def test_every_check_of_an_example_rollover_agrees_with_openssl(name: str, tmp_path: Path) -> None:
    report, checks = _export(ROLLOVERS[name], tmp_path)
    _assert_counts(report)
    kinds = {c["kind"] for c in checks}
    assert kinds == ({"in-cluster", "external", "x509"} if name == "server-root" else {"in-cluster", "x509"}), kinds
    assert any("clientCertificate" in c["files"] for c in checks)  # mTLS rows
    phases = {c["phaseKey"] for c in checks}
    assert any("-to-" in p for p in phases) and any(p.endswith(".current") for p in phases), phases
    assert any(c["listener"] == "aio-broker" for c in checks)  # AIO's default listener is a server too
    if name == "server-root":  # leaves a switch has not renewed yet
        assert any(".leaf-from-" in c["phaseKey"] for c in checks)
    _assert_agree(tmp_path, checks)


def _rows(checks: list[dict[str, Any]], prefix: str = "") -> set[tuple[Any, ...]]:
    return {(c["phaseKey"][len(prefix):], c["cluster"], c["listener"], c["port"], c["population"], c["result"])
            for c in checks if c["phaseKey"].startswith(prefix)}


def test_several_specs_are_each_judged_as_strictly_as_alone() -> None:
    """Every row of a spec simulated alone is in the several-spec run, with the same result."""
    specs = ROLLOVERS["server-root"]
    together = json.loads(aiogen("simulate", *specs, "--json").out)["checks"]
    for index, spec in enumerate(specs, start=1):
        alone = json.loads(aiogen("simulate", spec, "--json").out)["checks"]
        missing = _rows(alone) - _rows(together, f"spec-{index}.")
        assert alone and not missing, (spec.name, sorted(missing)[:5])


@pytest.mark.parametrize("spec", sorted(FIXTURES.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_check_of_a_fixture_agrees_with_openssl_failures_included(spec: Path, tmp_path: Path) -> None:
    report, checks = _export([spec], tmp_path)
    _assert_counts(report)
    if spec.stem.startswith("broken"):
        assert report["summary"]["failed"] > 0
    _assert_agree(tmp_path, checks)


# -- chains built with the openssl CLI: what OpenSSL accepts, simulate must pass --------------------

_AKI = "\nauthorityKeyIdentifier=keyid"
_NO_KU = "basicConstraints=critical,CA:TRUE\nsubjectKeyIdentifier=hash"
ACCEPTED = {  # each proven accepted by `openssl verify -auth_level 2` inside the test
    "intermediate without keyUsage": corpus.Case("no-ku", int_ext=_NO_KU + _AKI),
    "root without keyUsage": corpus.Case("root-no-ku", root_ext=_NO_KU),
    "intermediate with policyConstraints": corpus.Case(
        "policy", int_ext=corpus.CA + _AKI + "\npolicyConstraints=critical,requireExplicitPolicy:0"),
    "non-critical basicConstraints": corpus.Case(
        "bc", int_ext=corpus.CA.replace("critical,CA:TRUE", "CA:TRUE") + _AKI,
        root_ext=corpus.CA.replace("critical,CA:TRUE", "CA:TRUE")),
    "SHA-224 signed intermediate": corpus.Case("sha224", int_digest="-sha224"),
    "intermediate without authorityKeyIdentifier": corpus.Case("no-aki", int_ext=corpus.CA),
    "intermediate with pathlen 0 and excluded names": corpus.Case(
        "pathlen", int_ext=corpus.CA.replace("CA:TRUE", "CA:TRUE,pathlen:0") + _AKI
        + "\nnameConstraints=critical,excluded;DNS:b.example"),
    "P-384 root": corpus.Case("p384", root_key=("-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384")),
}
DEVICE_ROOTS = {  # the device (client) root the broker trusts, re-made with the property
    "device root without keyUsage": _NO_KU,
    "device root with non-critical basicConstraints": corpus.CA.replace("critical,CA:TRUE", "CA:TRUE"),
}


def _openssl_accepts(work: Path, *, leaf: str = "leaf.pem", untrusted: str = "int.pem", trust: str = "root.pem",
                     purpose: str = "sslserver") -> None:
    args = ["openssl", "verify", "-purpose", purpose, "-auth_level", "2", "-CAfile", trust]
    proof = corpus._run(*args, *(["-untrusted", untrusted] if untrusted else []), leaf, cwd=work)
    assert f"{leaf}: OK" in proof, proof


def _simulate_agrees(spec: Path, out: Path) -> list[dict[str, Any]]:
    validate = aiogen("validate", spec)
    assert validate.code == 0, validate.err
    report, checks = _export([spec], out)
    _assert_counts(report)
    _assert_agree(out, checks)
    return checks


@pytest.mark.parametrize("name", ACCEPTED)
def test_a_chain_openssl_accepts_passes_simulate_and_every_check_agrees(name: str, tmp_path: Path) -> None:
    spec = corpus._build(ACCEPTED[name], tmp_path)
    _openssl_accepts(tmp_path)
    checks = _simulate_agrees(spec, tmp_path / "export")
    assert all(c["result"] == "pass" for c in checks), [c["reason"] for c in checks]


def test_an_rsa_pss_signed_intermediate_is_stood_in_with_pss_and_passes(tmp_path: Path) -> None:
    spec = corpus._build(corpus.Case("pss", root_key=("-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048")),
                         tmp_path)
    for name, issuer, serial, extra in (("int", "root", "0x1f", ("-sigopt", "rsa_padding_mode:pss", "-sigopt",
                                                                 "rsa_pss_saltlen:digest")),
                                        ("leaf", "int", "0x2f", ())):
        corpus._run("openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", f"{issuer}.pem", "-CAkey", f"{issuer}.key",
                    "-set_serial", serial, "-days", "30", "-sha256", *extra, "-extfile", f"{name}.ext",
                    "-out", f"{name}.pem", cwd=tmp_path)
    shutil.copy(tmp_path / "int.pem", tmp_path / "pki" / "ica-a.pem")
    assert "rsassaPss" in corpus._run("openssl", "x509", "-in", "int.pem", "-noout", "-text", cwd=tmp_path)
    _openssl_accepts(tmp_path)
    checks = _simulate_agrees(spec, tmp_path / "export")
    assert checks and all(c["result"] == "pass" for c in checks), [c["reason"] for c in checks]
    served = (tmp_path / "export" / checks[0]["directory"] / "server.crt").read_text()
    (tmp_path / "served-int.pem").write_text("-----BEGIN" + served.split("-----BEGIN")[2])
    assert "rsassaPss" in corpus._run("openssl", "x509", "-in", "served-int.pem", "-noout", "-text", cwd=tmp_path)


def _remake_device_root(work: Path, ext: str) -> None:
    (work / "devices.cnf").write_text(f"[req]\ndistinguished_name=dn\n[dn]\n[v3]\n{ext}\n")
    corpus._run("openssl", "req", "-x509", "-new", "-key", "devices.key", "-subj", "/CN=devices", "-days", "3650",
                "-sha256", "-config", "devices.cnf", "-extensions", "v3", "-out", "devices.pem", cwd=work)
    shutil.copy(work / "devices.pem", work / "pki" / "devices.pem")
    corpus._run("openssl", "req", "-new", "-key", "leaf.key", "-subj", "/CN=sensor", "-out", "sensor.csr", cwd=work)
    (work / "sensor.ext").write_text("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                                     "extendedKeyUsage=clientAuth\n")
    corpus._run("openssl", "x509", "-req", "-in", "sensor.csr", "-CA", "devices.pem", "-CAkey", "devices.key",
                "-set_serial", "0x4f", "-days", "30", "-sha256", "-extfile", "sensor.ext", "-out", "sensor.pem",
                cwd=work)


@pytest.mark.parametrize("name", DEVICE_ROOTS)
def test_a_device_root_openssl_accepts_passes_the_mtls_checks(name: str, tmp_path: Path) -> None:
    spec = corpus._build(corpus.Case("sound"), tmp_path)
    _remake_device_root(tmp_path, DEVICE_ROOTS[name])
    _openssl_accepts(tmp_path, leaf="sensor.pem", untrusted="", trust="devices.pem", purpose="sslclient")
    checks = _simulate_agrees(spec, tmp_path / "export")
    assert any("clientCertificate" in c["files"] for c in checks)
    assert all(c["result"] == "pass" for c in checks), [c["reason"] for c in checks]


@pytest.mark.parametrize("case", corpus.CASES, ids=[c.name for c in corpus.CASES])
def test_what_validate_refuses_simulate_refuses_with_the_same_error(case: corpus.Case, tmp_path: Path) -> None:
    """Every command that resolves sees the broken chain: simulate exports nothing to judge."""
    spec = corpus._build(case, tmp_path)
    validate, simulate = aiogen("validate", spec), aiogen("simulate", spec, "--export", tmp_path / "export")
    assert validate.code != 0 and simulate.code == validate.code, (validate, simulate)

    def errors(text: str) -> set[str]:
        return {line for line in text.splitlines() if ": error" in line or f" {case.file_field}: " in line}

    assert errors(validate.err) and errors(validate.err) <= errors(simulate.err), (validate.err, simulate.err)
    assert not (tmp_path / "export").exists()


DEVICE_ROOTS_REFUSED = {
    "device root with extendedKeyUsage serverAuth": (corpus.CA + "\nextendedKeyUsage=serverAuth",
                                                      "error 26 at 1 depth lookup: unsuitable certificate purpose",
                                                      "its extendedKeyUsage [serverAuth] lacks clientAuth"),
    "device root with an unknown critical extension": (corpus.CA + "\n1.3.6.1.4.1.99999.7=critical,DER:0500",
                                                        "error 34 at 1 depth lookup: unhandled critical extension",
                                                        "its critical extension 1.3.6.1.4.1.99999.7 is unknown"),
}


@pytest.mark.parametrize("name", DEVICE_ROOTS_REFUSED)
def test_a_device_root_openssl_refuses_is_refused_by_validate_and_simulate(name: str, tmp_path: Path) -> None:
    ext, openssl_says, aiogen_says = DEVICE_ROOTS_REFUSED[name]
    spec = corpus._build(corpus.Case("sound"), tmp_path)
    _remake_device_root(tmp_path, ext)
    proof = corpus._run("openssl", "verify", "-purpose", "sslclient", "-auth_level", "2", "-CAfile", "devices.pem",
                        "sensor.pem", cwd=tmp_path)
    assert openssl_says in proof, proof
    for command in ("validate", "simulate"):
        run = aiogen(command, spec)
        assert run.code != 0 and f" spec.clientRoots.devices.certificate.file: 'CN=devices': {aiogen_says}" in run.err, \
            (command, run.err)


def test_a_key_a_stand_in_cannot_reproduce_fails_closed_with_the_reason(tmp_path: Path) -> None:
    """openssl accepts a P-224 root (security level 2 allows it for a CA); aiogen cannot re-make one, so
    every check FAILs and says why."""
    spec = corpus._build(corpus.Case("p224", root_key=("-algorithm", "EC", "-pkeyopt",
                                                       "ec_paramgen_curve:P-224")), tmp_path)
    _openssl_accepts(tmp_path)
    run = aiogen("simulate", spec, "--json")
    assert run.code == 3
    report = json.loads(run.out)
    reason = ("cannot stand in for root root-a: its EC secp224r1 key cannot be reproduced (aiogen.pki signs with "
              "EC P-256/P-384/P-521 and RSA 2048-8192 only); the simulation cannot judge a chain it cannot reproduce")
    assert report["checks"] and all(c["result"] == "FAIL" and c["reason"].startswith(reason)
                                    for c in report["checks"]), report["checks"]
    assert any("cannot be stood in, so the simulation fails closed" in note for note in report["notes"])
    assert report["summary"]["handshakes"] == 0 and report["summary"]["reusedVerdicts"] == 0
    table = aiogen("simulate", spec)
    assert reason in table.out and "0 real handshakes, 0 reused verdicts — simulation FAILED" in table.out


def test_a_p521_root_is_stood_in_and_passes_as_openssl_says(tmp_path: Path) -> None:
    spec = corpus._build(corpus.Case("p521", root_key=("-algorithm", "EC", "-pkeyopt",
                                                       "ec_paramgen_curve:P-521")), tmp_path)
    _openssl_accepts(tmp_path)
    run = aiogen("simulate", spec, "--json")
    assert run.code == 0, run.out[-2000:]
    report = json.loads(run.out)
    assert report["checks"] and all(c["result"] == "pass" for c in report["checks"])
    assert report["summary"]["handshakes"] > 0


# -- a real broker ---------------------------------------------------------------------------------


def test_a_sample_through_mosquitto_and_paho_agrees(tmp_path: Path) -> None:
    from tests import test_broker_mosquitto as broker

    if broker.MOSQUITTO is None:
        pytest.skip("mosquitto is not installed")
    _, checks = _export(ROLLOVERS["client-root"], tmp_path / "roll")
    _, broken = _export([FIXTURES / "broken-client-root-missing.yaml"], tmp_path / "broken")
    sample: dict[tuple[Any, ...], tuple[Path, dict[str, Any]]] = {}
    for root, found in ((tmp_path / "roll", checks), (tmp_path / "broken", broken)):
        for check in found:
            key = (check["result"], check["kind"], check["requireClientCertificate"], "-to-" in check["phaseKey"])
            sample.setdefault(key, (root, check))
    assert any(check["result"] == "FAIL" for _, check in sample.values())
    for root, check in sample.values():
        folder, files = root / check["directory"], check["files"]
        client_ca = folder / files["clientCA"] if check["requireClientCertificate"] else None
        with broker.mosquitto(tmp_path, server_chain=folder / files["serverChain"],
                              server_key=folder / files["serverKey"], client_ca=client_ca) as port:
            connected = broker.paho_connects(
                port, trust=folder / files["trust"], hostname=check["dials"],
                cert=folder / files["clientCertificate"] if "clientCertificate" in files else None,
                key=folder / files["clientKey"] if "clientKey" in files else None)
        assert connected == (check["result"] == "pass"), check
