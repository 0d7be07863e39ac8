"""`aiogen simulate --export DIR`: each check's material as plain PEM files, for other tools to judge."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from aiogen.output.keyscan import assert_no_private_key
from aiogen.simulate.report import SimulationReport, check_json


def write_export(report: SimulationReport, directory: Path) -> int:
    """Write each check's material as plain PEM files, and ``manifest.json``; returns the file count.

    Per check: ``server.crt`` (leaf + intermediates, as served), ``server.key`` (0600),
    ``client-ca.pem`` (the broker's client CAs, mTLS ports only), ``ca.pem`` (the client's trust
    bundle), ``client.crt`` + ``client.key`` (0600, device populations only). Every file that is
    not a key passes `aiogen.keyscan.assert_no_private_key` first.
    """
    written = 0
    entries: list[dict[str, Any]] = []
    for check in report.checks:
        if check.server is None or check.client is None:
            continue
        folder = directory / check.directory
        files: dict[str, str] = {"serverChain": "server.crt", "serverKey": "server.key", "trust": "ca.pem"}
        _write(folder / "server.crt", check.server.chain_pem)
        _write(folder / "server.key", check.server.key_pem, key=True)
        _write(folder / "ca.pem", check.client.trust_pem)
        written += 3
        if check.server.client_ca_pem is not None:
            _write(folder / "client-ca.pem", check.server.client_ca_pem)
            files["clientCA"] = "client-ca.pem"
            written += 1
        if check.client.chain_pem is not None and check.client.key_pem is not None:
            _write(folder / "client.crt", check.client.chain_pem)
            _write(folder / "client.key", check.client.key_pem, key=True)
            files["clientCertificate"], files["clientKey"] = "client.crt", "client.key"
            written += 2
        entry = check_json(check)
        entry.update({"directory": check.directory, "files": files,
                      "requireClientCertificate": check.server.require_client_cert})
        entries.append(entry)
    manifest = json.dumps({"clock": report.clock.isoformat(), "checks": entries}, indent=2) + "\n"
    _write(directory / "manifest.json", manifest.encode("utf-8"))
    return written + 1


def _write(path: Path, data: bytes, *, key: bool = False) -> None:
    """Write one export file; never through a symlink (a planted link could redirect a key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.parent.is_symlink() or path.is_symlink():
        from aiogen.model.problems import AiogenError

        raise AiogenError.single(f"refusing to write {path}: it is (or lies under) a symbolic link",
                                 hint="export into a fresh directory")
    if not key:
        assert_no_private_key(str(path), data)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o600 if key else 0o644)
    os.fchmod(fd, 0o600 if key else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
