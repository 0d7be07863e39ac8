"""A real broker agrees with the simulation: mosquitto serves the exported material, paho-mqtt connects.

mosquitto (Debian's package; `.ci/run` installs it) is started on a free loopback port with the
exported server chain and key (and, for mTLS checks, the exported client-CA bundle with
``require_certificate true``). paho-mqtt connects with the exported client trust (and client
certificate), verifying the name the simulated population dials, not 127.0.0.1. The connection
must succeed exactly where the simulation says the check passes.
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aiogen.simulate.handshake import ClientConfig, ServerConfig, certificates, handshake, verify_server_path
from tests.helpers import REPO, aiogen

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
FIXTURES = REPO / "tests" / "fixtures" / "simulate"

pytestmark = pytest.mark.skipif(
    MOSQUITTO is None, reason="mosquitto is not installed (apt-get install -y mosquitto mosquitto-clients)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def mosquitto(folder: Path, *, server_chain: Path, server_key: Path, client_ca: Path | None) -> Iterator[int]:
    """A broker on a free loopback port serving ``server_chain``; always stopped afterwards."""
    assert MOSQUITTO is not None
    port = _free_port()
    lines = [f"listener {port} 127.0.0.1", "allow_anonymous true", "persistence false", "log_dest stderr",
             "user root",  # as root, mosquitto otherwise drops to the mosquitto user and cannot read 0600 keys
             f"certfile {server_chain}", f"keyfile {server_key}"]
    if client_ca is not None:
        lines += [f"cafile {client_ca}", "require_certificate true"]
    config = folder / f"mosquitto-{port}.conf"
    config.write_text("\n".join(lines) + "\n")
    process = subprocess.Popen([MOSQUITTO, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            if process.poll() is not None:
                raise AssertionError(f"mosquitto exited: {process.stderr.read().decode() if process.stderr else ''}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("mosquitto did not start listening within 10 s") from None
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


class _DialledContext(ssl.SSLContext):
    """paho passes the host it connects to (127.0.0.1) as server_hostname; clients dial a name."""

    dialled = ""

    def wrap_socket(self, sock: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs["server_hostname"] = self.dialled
        return super().wrap_socket(sock, *args, **kwargs)


def paho_connects(port: int, *, trust: Path, hostname: str, cert: Path | None = None, key: Path | None = None) -> bool:
    import paho.mqtt.client as mqtt

    context = _DialledContext(ssl.PROTOCOL_TLS_CLIENT)
    context.dialled = hostname
    context.verify_flags &= ~getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", 0)  # as OpenSSL clients ship
    context.load_verify_locations(cafile=str(trust))
    if cert is not None and key is not None:
        context.load_cert_chain(str(cert), str(key))
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"aiogen-test-{port}")
    client.tls_set_context(context)
    accepted = threading.Event()
    finished = threading.Event()

    def on_connect(*args: Any) -> None:
        reason = args[3]
        if not reason.is_failure:
            accepted.set()
        finished.set()

    client.on_connect = on_connect
    client.on_disconnect = lambda *args: finished.set()
    try:
        client.connect("127.0.0.1", port, keepalive=5)
    except (ssl.SSLError, OSError):
        return False
    client.loop_start()
    try:
        finished.wait(timeout=5)
    finally:
        client.disconnect()
        client.loop_stop()
    return accepted.is_set()


def _export(spec: Path, out: Path) -> list[dict[str, Any]]:
    run = aiogen("simulate", spec, "--export", out)
    assert run.code in (0, 3), run.err
    checks: list[dict[str, Any]] = json.loads((out / "manifest.json").read_text())["checks"]
    return checks


def _sample(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One check per (result, population kind, failure reason): the distinct behaviours."""
    seen: set[tuple[str, str, str]] = set()
    out = []
    for check in checks:
        key = (check["result"], check["kind"], check["reason"].split(";")[0])
        if key not in seen:
            seen.add(key)
            out.append(check)
    return out


@pytest.mark.parametrize("spec", ["rollover-client-root.yaml", "broken-client-root-missing.yaml",
                                  "broken-san-missing.yaml", "broken-skipped-phase.yaml"])
def test_mosquitto_and_paho_agree_with_the_simulation(spec: str, tmp_path: Path) -> None:
    checks = _sample(_export(FIXTURES / spec, tmp_path))
    assert any(c["result"] == "pass" for c in checks)
    for check in checks:
        folder = tmp_path / check["directory"]
        files = check["files"]
        client_ca = folder / files["clientCA"] if check["requireClientCertificate"] else None
        with mosquitto(tmp_path, server_chain=folder / files["serverChain"], server_key=folder / files["serverKey"],
                       client_ca=client_ca) as port:
            connected = paho_connects(
                port, trust=folder / files["trust"], hostname=check["dials"],
                cert=folder / files["clientCertificate"] if "clientCertificate" in files else None,
                key=folder / files["clientKey"] if "clientKey" in files else None)
        assert connected == (check["result"] == "pass"), check


def test_a_root_only_bundle_connects_and_an_intermediate_only_bundle_does_not(tmp_path: Path) -> None:
    """OpenSSL clients need the self-signed root: the simulation, its handshake and mosquitto+paho agree."""
    checks = _export(FIXTURES / "rollover-server-root.yaml", tmp_path)
    check = next(c for c in checks if c["kind"] == "external" and c["result"] == "pass")
    folder = tmp_path / check["directory"]
    chain_text = (folder / "server.crt").read_text()
    blocks = ["-----BEGIN" + b for b in chain_text.split("-----BEGIN")[1:]]
    assert len(blocks) == 2  # leaf + intermediate
    (folder / "intermediate-only.pem").write_text(blocks[1])
    hostname = check["dials"]

    chain = certificates(chain_text.encode(), "chain")
    root_only, intermediate_only = (folder / "ca.pem").read_bytes(), blocks[1].encode()
    now = datetime.now(UTC)
    assert verify_server_path(chain, certificates(root_only, "root"), hostname, now) is None
    refused = verify_server_path(chain, certificates(intermediate_only, "intermediate"), hostname, now)
    assert refused is not None and "self-signed root" in refused
    server = ServerConfig((folder / "server.crt").read_bytes(), (folder / "server.key").read_bytes())
    assert handshake(server, ClientConfig(root_only, hostname)).ok
    outcome = handshake(server, ClientConfig(intermediate_only, hostname))
    assert not outcome.ok and "unable to get issuer certificate" in (outcome.client_error or "")

    with mosquitto(tmp_path, server_chain=folder / "server.crt", server_key=folder / "server.key",
                   client_ca=None) as port:
        assert paho_connects(port, trust=folder / "ca.pem", hostname=hostname)
        assert not paho_connects(port, trust=folder / "intermediate-only.pem", hostname=hostname)
