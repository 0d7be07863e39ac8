"""An independent judge of exported simulation material: the openssl CLI, nothing from aiogen.

`rejudge` takes one check's folder from ``aiogen simulate --export`` and answers the question the
simulation answers, the way OpenSSL-based clients (s_client, mosquitto, paho through Python ssl)
do: ``openssl verify -auth_level 2`` of the served chain for the dialled name (and of the device
chain against the broker's client CAs), then a real handshake between ``openssl s_server`` and
``openssl s_client -verify_return_error -verify_hostname``. The handshake counts only when the
client got the server's HTTP answer: under TLS 1.3 a server refuses a client certificate after
the client has finished its side of the handshake.
"""

from __future__ import annotations

import ipaddress
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TIMEOUT = 10.0


@dataclass(frozen=True)
class Judgement:
    verify_ok: bool
    handshake_ok: bool
    detail: str

    @property
    def ok(self) -> bool:
        return self.verify_ok and self.handshake_ok


def _blocks(pem: str) -> list[str]:
    return ["-----BEGIN" + block for block in pem.split("-----BEGIN")[1:]]


def _split(chain: Path, scratch: Path, stem: str) -> tuple[Path, Path | None]:
    """leaf.pem and (when there are any) the intermediates, for ``-untrusted``/``-cert_chain``."""
    blocks = _blocks(chain.read_text())
    leaf = scratch / f"{stem}-leaf.pem"
    leaf.write_text(blocks[0])
    if len(blocks) == 1:
        return leaf, None
    rest = scratch / f"{stem}-chain.pem"
    rest.write_text("".join(blocks[1:]))
    return leaf, rest


def _name_option(hostname: str) -> list[str]:
    try:
        ipaddress.ip_address(hostname)
    except ValueError:
        return ["-verify_hostname", hostname]
    return ["-verify_ip", hostname]


def verify(leaf: Path, trust: Path, untrusted: Path | None, purpose: str, hostname: str | None = None) -> str | None:
    """None when ``openssl verify`` accepts, else its error lines."""
    args = ["openssl", "verify", "-purpose", purpose, "-auth_level", "2", "-CAfile", str(trust)]
    if untrusted is not None:
        args += ["-untrusted", str(untrusted)]
    if hostname is not None:
        args += _name_option(hostname)
    done = subprocess.run([*args, str(leaf)], capture_output=True, text=True, timeout=TIMEOUT)
    text = (done.stdout + done.stderr).strip()
    if done.returncode == 0 and text.endswith(": OK"):
        return None
    return " | ".join(line for line in text.splitlines() if "error" in line.lower()) or text


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def handshake(folder: Path, files: dict[str, str], dials: str, require_client: bool, scratch: Path) -> str | None:
    """None when s_client, verifying the dialled name, gets s_server's answer; else both sides' errors."""
    leaf, rest = _split(folder / files["serverChain"], scratch, "server")
    port = _free_port()
    server = ["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-naccept", "1", "-www",
              "-cert", str(leaf), "-key", str(folder / files["serverKey"]), "-verify_return_error"]
    if rest is not None:
        server += ["-cert_chain", str(rest)]
    if "clientCA" in files:
        server += ["-Verify" if require_client else "-verify", "5", "-CAfile", str(folder / files["clientCA"])]
    process = subprocess.Popen(server, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    try:
        if not _listening(process):
            return f"s_server did not start: {process.stdout.read() if process.stdout else ''}"
        client = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", str(folder / files["trust"]),
                  "-verify_return_error", *_name_option(dials), "-quiet"]
        if not _is_ip(dials):
            client += ["-servername", dials]
        if "clientCertificate" in files:
            cleaf, crest = _split(folder / files["clientCertificate"], scratch, "client")
            client += ["-cert", str(cleaf), "-key", str(folder / files["clientKey"])]
            if crest is not None:
                client += ["-cert_chain", str(crest)]
        done = subprocess.run(client, input="GET / HTTP/1.0\r\n\r\n", capture_output=True, text=True,
                              timeout=TIMEOUT)
        if "HTTP/1.0 200 ok" in done.stdout:
            return None
        process.wait(timeout=TIMEOUT)
        said = process.stdout.read() if process.stdout else ""
        client_said = " | ".join(line for line in done.stderr.splitlines() if "error" in line.lower())
        server_said = " | ".join(line for line in said.splitlines() if "error" in line.lower())
        return f"client: {client_said or done.stderr.strip()[-300:]}; server: {server_said}"
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=TIMEOUT)
        if process.stdout is not None:
            process.stdout.close()


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _listening(process: subprocess.Popen[str]) -> bool:
    """s_server prints ACCEPT once it listens (a probe connection would use up its one accept)."""
    assert process.stdout is not None
    return any(line.strip() == "ACCEPT" for line in process.stdout)


def rejudge(folder: Path, check: dict[str, Any]) -> Judgement:
    """openssl's answer for one exported check (see the module docstring)."""
    files: dict[str, str] = check["files"]
    with tempfile.TemporaryDirectory(prefix="aiogen-rejudge-") as name:
        scratch = Path(name)
        leaf, rest = _split(folder / files["serverChain"], scratch, "server")
        problems = []
        refused = verify(leaf, folder / files["trust"], rest, "sslserver", check["dials"])
        if refused is not None:
            problems.append(f"server chain: {refused}")
        if check["requireClientCertificate"] and "clientCertificate" not in files:
            problems.append("the port requires a client certificate and the population has none")
        if "clientCertificate" in files and "clientCA" in files:
            cleaf, crest = _split(folder / files["clientCertificate"], scratch, "client")
            refused = verify(cleaf, folder / files["clientCA"], crest, "sslclient")
            if refused is not None:
                problems.append(f"client chain: {refused}")
        failed = handshake(folder, files, check["dials"], check["requireClientCertificate"], scratch)
        detail = "; ".join([*problems, *([f"handshake: {failed}"] if failed else [])])
        return Judgement(not problems, failed is None, detail)
