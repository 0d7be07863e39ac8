"""`aiogen simulate --export DIR`: each check's material as plain PEM files, for other tools to judge."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path, PurePosixPath
from typing import Any

from aiogen.model.problems import AiogenError
from aiogen.output import fs
from aiogen.output.keyscan import assert_no_private_key
from aiogen.simulate.report import SimulationReport, check_json


def write_export(report: SimulationReport, directory: Path) -> int:
    """Write each check's material as plain PEM files, and ``manifest.json``; returns the file count.

    Per check: ``server.crt`` (leaf + intermediates, as served), ``server.key`` (0600),
    ``client-ca.pem`` (the broker's client CAs, mTLS ports only), ``ca.pem`` (the client's trust
    bundle), ``client.crt`` + ``client.key`` (0600, device populations only). Every file that is
    not a key passes `aiogen.keyscan.assert_no_private_key` first. Every file is written by
    `aiogen.output.fs` (no link followed below ``directory``, each file replaced atomically).
    """
    with fs.signals_unwind():  # SIGTERM/SIGHUP unwind like Ctrl-C: no key is left in a temporary
        _remove_leftovers(directory)
        return _write_checks(report, directory)


def _remove_leftovers(directory: Path) -> None:
    """Temporaries a killed export left (one may hold a private key) go before anything is written."""
    try:
        root = fs.open_root(directory)
    except OSError:
        return  # not there yet: nothing left over
    try:
        fs.remove_temporaries(root, recursive=True)
    finally:
        os.close(root)


def _write_checks(report: SimulationReport, directory: Path) -> int:
    written = 0
    entries: list[dict[str, Any]] = []
    for check in report.checks:
        if check.server is None or check.client is None:
            continue
        folder = PurePosixPath(check.directory)
        files: dict[str, str] = {"serverChain": "server.crt", "serverKey": "server.key", "trust": "ca.pem"}
        _write(directory, folder / "server.crt", check.server.chain_pem)
        _write(directory, folder / "server.key", check.server.key_pem, key=True)
        _write(directory, folder / "ca.pem", check.client.trust_pem)
        written += 3
        if check.server.client_ca_pem is not None:
            _write(directory, folder / "client-ca.pem", check.server.client_ca_pem)
            files["clientCA"] = "client-ca.pem"
            written += 1
        if check.client.chain_pem is not None and check.client.key_pem is not None:
            _write(directory, folder / "client.crt", check.client.chain_pem)
            _write(directory, folder / "client.key", check.client.key_pem, key=True)
            files["clientCertificate"], files["clientKey"] = "client.crt", "client.key"
            written += 2
        entry = check_json(check)
        entry.update({"directory": check.directory, "files": files,
                      "requireClientCertificate": check.server.require_client_cert})
        entries.append(entry)
    manifest = json.dumps({"clock": report.clock.isoformat(), "checks": entries}, indent=2) + "\n"
    _write(directory, PurePosixPath("manifest.json"), manifest.encode("utf-8"))
    return written + 1


def _write(export_root: Path, relative: PurePosixPath, data: bytes, *, key: bool = False) -> None:
    """Write one export file through `aiogen.output.fs`: atomically, never through a symbolic link
    (a planted link could redirect a key). The export directory itself may be a link (the user's choice)."""
    path = export_root / relative
    if not key:
        assert_no_private_key(str(path), data)
    try:
        export_root.mkdir(parents=True, exist_ok=True)
        root = fs.open_root(export_root)
    except OSError as error:
        raise AiogenError.single(f"cannot write {path}: {error.strerror}") from None
    try:
        *folders, name = relative.parts
        try:
            directory = fs.open_directory(root, folders, create=True)
        except OSError as error:
            if error.errno in (errno.ENOTDIR, errno.EEXIST, errno.ELOOP):
                raise _under_link(path) from None
            raise AiogenError.single(f"cannot write {path}: {error.strerror}") from None
        try:
            info = fs.lstat_at(directory, name)
            if info is not None and stat.S_ISLNK(info.st_mode):
                raise _under_link(path)
            fs.replace(directory, name, data, 0o600 if key else 0o644)
        except OSError as error:
            raise AiogenError.single(f"cannot write {path}: {error.strerror}") from None
        finally:
            os.close(directory)
    finally:
        os.close(root)


def _under_link(path: Path) -> AiogenError:
    return AiogenError.single(f"refusing to write {path}: it is (or lies under) a symbolic link",
                              hint="export into a fresh directory")
