"""Differential corpus: chains built with the openssl CLI, proven broken by OpenSSL, caught by aiogen.

Each case builds a root, an intermediate and a broker leaf with ``openssl req``/``openssl x509``
exactly as an operator would, proves inside the test that ``openssl verify -purpose sslserver
-auth_level 2`` (what TLS clients run: Python ssl, s_client, mosquitto at OpenSSL's default
security level 2) refuses the leaf with the stated reason, then checks that ``aiogen validate``,
``aiogen simulate`` and ``aiogen ca lint`` all refuse the same PKI with a located message that
says what to do. Skipped only when openssl is missing.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests import specs
from tests.helpers import aiogen

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl CLI is not installed")

CA = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash"
SANS = ("DNS:mqtt.a.example,DNS:mqtts,DNS:mqtts.azure-iot-operations,DNS:mqtts.azure-iot-operations.svc,"
        "DNS:mqtts.azure-iot-operations.svc.cluster.local,IP:10.0.0.1")
LEAF = ("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        f"subjectAltName={SANS}\nauthorityKeyIdentifier=keyid")


@dataclass(frozen=True)
class Case:
    name: str
    root_ext: str = CA
    int_ext: str = CA + "\nauthorityKeyIdentifier=keyid"
    root_key: tuple[str, ...] = ("-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
    int_digest: str = "-sha256"
    openssl_says: str = ""  # in `openssl verify` output
    file_field: str = "spec.clusters[0].pki.intermediate.certificate.file"
    aiogen_says: str = ""  # in the located error
    hint: str = ""
    lint_says: str = ""  # in an error line of `aiogen ca lint leaf+int+root`


CASES = [
    Case("name constraints vs in-cluster SANs",
         int_ext=CA + "\nauthorityKeyIdentifier=keyid\nnameConstraints=critical,permitted;DNS:a.example",
         openssl_says="error 47 at 0 depth lookup: permitted subtree violation",
         aiogen_says="the name constraints of 'CN=int' refuse names that listener 'mqtts' port 8883 requests: "
                     "DNS name 'mqtts', DNS name 'mqtts.azure-iot-operations'",
         hint="reissue the CA with permitted names covering every SAN the listeners request",
         lint_says="leaf: error: the name constraints of 'CN=int': DNS name 'mqtts' is outside its permitted names "
                   "[a.example]; OpenSSL refuses the chain with 'permitted subtree violation' (error 47)"),
    Case("intermediate EKU clientAuth only",
         int_ext=CA + "\nauthorityKeyIdentifier=keyid\nextendedKeyUsage=clientAuth",
         openssl_says="error 26 at 1 depth lookup: unsuitable certificate purpose",
         aiogen_says="'CN=int': its extendedKeyUsage [clientAuth] lacks serverAuth: OpenSSL-based clients refuse "
                     "every handshake with 'unsuitable certificate purpose' (OpenSSL error 26)",
         hint="reissue it with extendedKeyUsage including serverAuth",
         lint_says="int: error: its extendedKeyUsage [clientAuth] lacks serverAuth; OpenSSL refuses the chain with "
                   "'unsuitable certificate purpose' (error 26)"),
    Case("RSA-1024 root",
         root_key=("-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"),
         openssl_says="error 67 at 2 depth lookup: CA certificate key too weak",
         file_field="spec.roots.root-a.certificate.file",
         aiogen_says="'CN=root': its RSA-1024 key has 80 security bits; OpenSSL's default security level 2 "
                     "needs 112: OpenSSL-based clients refuse every handshake with 'CA certificate key too weak'",
         hint="reissue the CA with an RSA key of at least 2048 bits",
         lint_says="root: error: its RSA-1024 key has 80 security bits; OpenSSL's default security level 2 needs "
                   "112; OpenSSL refuses the chain with 'CA certificate key too weak' (error 67)"),
    Case("pathLen 0 root above an intermediate",
         root_ext=CA.replace("CA:TRUE", "CA:TRUE,pathlen:0"),
         openssl_says="error 25 at 2 depth lookup: path length constraint exceeded",
         file_field="spec.roots.root-a.certificate.file",
         aiogen_says="'CN=root': its pathLenConstraint is 0 but 1 CA certificate(s) stand between it and the leaf",
         hint="reissue the CA with a larger pathLenConstraint",
         lint_says="root: error: has path length 0 but 1 CA certificate(s) follow below it"),
    Case("SHA-1 signed intermediate",
         int_digest="-sha1",
         openssl_says="error 68 at 1 depth lookup: CA signature digest algorithm too weak",
         aiogen_says="'CN=int': it is signed with sha1WithRSAEncryption (63 security bits)",
         root_key=("-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"),
         hint="re-sign it with SHA-256 or stronger",
         lint_says="int: error: it is signed with sha1WithRSAEncryption (63 security bits); OpenSSL's default "
                   "security level 2 needs 112; OpenSSL refuses the chain with 'CA signature digest algorithm too weak'"),
    Case("intermediate keyUsage without keyCertSign",
         int_ext=CA.replace("keyCertSign,cRLSign", "digitalSignature,cRLSign") + "\nauthorityKeyIdentifier=keyid",
         openssl_says="error 79 at 1 depth lookup: invalid CA certificate",
         aiogen_says="'CN=int': it issues a certificate but is not a valid CA: its keyUsage lacks keyCertSign",
         hint="reissue it as a CA",
         lint_says="int: error: is a CA whose KeyUsage lacks keyCertSign, so nothing it signs validates"),
]


def _run(*args: str | Path, cwd: Path) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True)
    return done.stdout + done.stderr


def _build(case: Case, work: Path) -> Path:
    """root.pem, int.pem, leaf.pem and a spec whose cluster signs with int under root."""
    pki = work / "pki"
    pki.mkdir()
    ec = ("-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
    below = ("-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048") if "RSA" in case.root_key else ec
    for name, key in (("root", case.root_key), ("int", below), ("leaf", below), ("devices", ec)):
        _run("openssl", "genpkey", *key, "-out", f"{name}.key", cwd=work)
    for name, ext in (("root", case.root_ext), ("devices", CA)):
        (work / f"{name}.cnf").write_text(f"[req]\ndistinguished_name=dn\n[dn]\n[v3]\n{ext}\n")
        _run("openssl", "req", "-x509", "-new", "-key", f"{name}.key", "-subj", f"/CN={name}", "-days", "3650",
             "-sha256", "-config", f"{name}.cnf", "-extensions", "v3", "-out", f"{name}.pem", cwd=work)
    for name, issuer, ext, digest in (("int", "root", case.int_ext, case.int_digest),
                                      ("leaf", "int", LEAF, "-sha256")):
        _run("openssl", "req", "-new", "-key", f"{name}.key", "-subj", f"/CN={name}", "-out", f"{name}.csr", cwd=work)
        (work / f"{name}.ext").write_text(ext + "\n")
        _run("openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", f"{issuer}.pem", "-CAkey", f"{issuer}.key",
             "-set_serial", "0x1f" if name == "int" else "0x2f", "-days", "400" if name == "int" else "30", digest,
             "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=work)
    shutil.copy(work / "root.pem", pki / "root-a.pem")
    shutil.copy(work / "int.pem", pki / "ica-a.pem")
    shutil.copy(work / "devices.pem", pki / "devices.pem")
    spec = specs.intermediate_fleet()
    specs.port(spec)["tls"]["san"]["inClusterNames"] = True
    if "RSA" in case.root_key:  # AIO needs one key family per chain
        specs.port(spec)["tls"]["privateKey"] = {"algorithm": "Rsa2048"}
    path = work / "fleet.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_openssl_refuses_and_aiogen_says_so(case: Case, tmp_path: Path) -> None:
    spec = _build(case, tmp_path)
    proof = _run("openssl", "verify", "-purpose", "sslserver", "-auth_level", "2", "-CAfile", "root.pem",
                 "-untrusted", "int.pem", "leaf.pem", cwd=tmp_path)
    assert case.openssl_says in proof, proof
    for command in ("validate", "simulate"):
        run = aiogen(command, spec)
        assert run.code != 0, (command, run.out, run.err)
        errors = [line for line in run.err.splitlines() if f" {case.file_field}: " in line]
        assert any(case.aiogen_says in line and case.hint in line for line in errors), (command, run.err)
        assert all(line.startswith(f"{spec}:") for line in errors)
    chain = tmp_path / "chain.pem"
    chain.write_text((tmp_path / "leaf.pem").read_text() + (tmp_path / "int.pem").read_text()
                     + (tmp_path / "root.pem").read_text())
    lint = aiogen("ca", "lint", chain)
    assert lint.code != 0, lint
    said = [line for line in (lint.out + lint.err).splitlines() if ": error: " in line]
    assert any(case.lint_says in line for line in said), lint


def test_a_sound_chain_passes_openssl_and_aiogen(tmp_path: Path) -> None:
    spec = _build(Case("sound"), tmp_path)
    proof = _run("openssl", "verify", "-purpose", "sslserver", "-auth_level", "2", "-CAfile", "root.pem",
                 "-untrusted", "int.pem", "leaf.pem", cwd=tmp_path)
    assert "leaf.pem: OK" in proof
    assert aiogen("validate", spec).code == 0


def test_a_path_length_0_root_refuses_an_intermediate_the_spec_does_not_show(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.name == "pathLen 0 root above an intermediate")
    spec = _build(case, tmp_path)
    proof = _run("openssl", "verify", "-purpose", "sslserver", "-auth_level", "2", "-CAfile", "root.pem",
                 "-untrusted", "int.pem", "leaf.pem", cwd=tmp_path)
    assert case.openssl_says in proof, proof
    data = yaml.safe_load(spec.read_text())
    del data["spec"]["clusters"][0]["pki"]["intermediate"]["certificate"]  # Key Vault only: its certificate unseen
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    for command in ("validate", "simulate"):
        run = aiogen(command, spec)
        assert run.code != 0
        assert (" spec.roots.root-a.certificate.file: 'CN=root': its pathLenConstraint is 0 but intermediate "
                "'ica-a' stands between it and the leaf: OpenSSL-based clients refuse every handshake with "
                "'path length constraint exceeded' (OpenSSL error 25) (sign leaves with the root directly") in run.err, \
            run.err


def test_name_constraints_refuse_aio_default_listener_even_without_in_cluster_names(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.name == "name constraints vs in-cluster SANs")
    spec = _build(case, tmp_path)
    data = yaml.safe_load(spec.read_text())
    data["spec"]["clusters"][0]["broker"]["listeners"][0]["ports"][0]["tls"]["san"]["inClusterNames"] = False
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    # AIO's default listener's certificate, issued by the same CA, names aio-broker in-cluster
    default_leaf = LEAF.replace(SANS, "DNS:aio-broker,DNS:aio-broker.azure-iot-operations,"
                                      "DNS:aio-broker.azure-iot-operations.svc,"
                                      "DNS:aio-broker.azure-iot-operations.svc.cluster.local")
    (tmp_path / "aio.ext").write_text(default_leaf + "\n")
    _run("openssl", "x509", "-req", "-in", "leaf.csr", "-CA", "int.pem", "-CAkey", "int.key", "-set_serial", "0x3f",
         "-days", "30", "-sha256", "-extfile", "aio.ext", "-out", "aio.pem", cwd=tmp_path)
    proof = _run("openssl", "verify", "-purpose", "sslserver", "-auth_level", "2", "-CAfile", "root.pem",
                 "-untrusted", "int.pem", "aio.pem", cwd=tmp_path)
    assert "error 47 at 0 depth lookup: permitted subtree violation" in proof, proof
    run = aiogen("validate", spec)
    assert run.code != 0
    assert ("spec.clusters[0].pki.intermediate.certificate.file: the name constraints of 'CN=int' refuse names that "
            "AIO's default listener aio-broker:18883 requests: DNS name 'aio-broker'") in run.err, run.err
    assert "AIO's default listener always requests the in-cluster names of aio-broker" in run.err
    assert "listener 'mqtts'" not in run.err


def test_name_constraints_refuse_aio_default_listener_on_a_cluster_without_listeners(tmp_path: Path) -> None:
    """A cluster that renders no listener still has AIO's default listener, signed by the same CA."""
    case = next(c for c in CASES if c.name == "name constraints vs in-cluster SANs")
    spec = _build(case, tmp_path)
    data = yaml.safe_load(spec.read_text())
    data["spec"]["clusters"][0]["broker"] = {}
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    run = aiogen("validate", spec)
    assert run.code != 0
    assert ("spec.clusters[0].pki.intermediate.certificate.file: the name constraints of 'CN=int' refuse names that "
            "AIO's default listener aio-broker:18883 requests: DNS name 'aio-broker'") in run.err, run.err
