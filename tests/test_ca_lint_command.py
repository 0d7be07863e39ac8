"""``aiogen ca lint``: output lines, exit codes, and refusing key material without echoing it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aiogen.cli import main
from aiogen.model.problems import EXIT_CHECK_FAILED, EXIT_INVALID, EXIT_OK
from aiogen.pki.authority import CertificateAuthority

NOW = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("lint")
    root = CertificateAuthority.root("Lint Root", not_before=NOW - DAY, not_after=NOW + 3650 * DAY)
    ica = root.child_ca("Lint ICA", not_after=NOW + 365 * DAY, path_length=0)
    ok = ica.issue_leaf("broker", dns=["mqtt.example"], not_before=NOW - DAY, not_after=NOW + 90 * DAY)
    soon = ica.issue_leaf("soon", dns=["soon.example"], not_before=NOW - DAY, not_after=NOW + 10 * DAY)
    (d / "root.pem").write_bytes(root.cert_pem)
    (d / "served.pem").write_bytes(ok.chain_pem)
    (d / "soon.pem").write_bytes(soon.chain_pem)
    (d / "reversed.pem").write_bytes(ica.cert_pem + ok.cert_pem)
    (d / "with-root.pem").write_bytes(ok.chain_pem + root.cert_pem)
    (d / "kv.pem").write_bytes(ica.private_key_and_chain_pem())
    (d / "key.pem").write_bytes(ica.private_key_pem())
    return d


def _lint(files: Path, *names: str, now: str = "2026-01-01") -> int:
    return main(["ca", "lint", "--now", now, *(str(files / n) for n in names)])


def test_clean_files_exit_zero(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _lint(files, "root.pem", "served.pem") == EXIT_OK
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "aiogen ca lint: 2 file(s), 0 error(s), 0 warning(s)\n"


def test_warnings_alone_exit_zero(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _lint(files, "soon.pem", "with-root.pem") == EXIT_OK
    assert capsys.readouterr().out == (
        f"{files}/soon.pem: soon: warning: expires on 2026-01-11T00:00:00Z, in 10 day(s); renew it before then\n"
        f"{files}/with-root.pem: Lint Root: warning: is a self-signed root inside a served chain; clients must "
        "already trust it; serve leaf + intermediates only, as cert-manager's tls.crt does\n"
    )


def test_errors_exit_check_failed_in_file_order(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _lint(files, "served.pem", "reversed.pem", "soon.pem") == EXIT_CHECK_FAILED
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        f"{files}/reversed.pem: Lint ICA: error: is followed by 'broker' (certificate 2), which it issued: "
        "the file runs parent → child; order the file child → parent: each certificate followed by its issuer",
        f"{files}/reversed.pem: broker: error: comes after its issuer 'Lint ICA' (certificate 1); "
        "order the file child → parent: each certificate followed by its issuer",
        f"{files}/soon.pem: soon: warning: expires on 2026-01-11T00:00:00Z, in 10 day(s); renew it before then",
    ]
    assert captured.err == "aiogen ca lint: 3 file(s), 2 error(s), 1 warning(s)\n"


def test_now_and_warn_within(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ca", "lint", "--now", "2026-01-01", "--warn-within", "5d", str(files / "soon.pem")]) == EXIT_OK
    assert capsys.readouterr().out == ""
    assert _lint(files, "served.pem", now="2026-06-01T00:00:00Z") == EXIT_CHECK_FAILED
    assert "broker: error: expired on 2026-04-01T00:00:00Z" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["kv.pem", "key.pem"])
def test_a_private_key_is_refused_and_never_echoed(
    files: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    assert _lint(files, name) == EXIT_INVALID
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert captured.err == (
        f"{files}/{name} contains a private key; aiogen only takes public certificates "
        "(split the key out and keep it out of the repository)\n"
    )
    key_body = (files / name).read_text().split("-----BEGIN PRIVATE KEY-----")[1].split("-----END")[0]
    for line in key_body.split():
        assert line not in text


def test_bad_input(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _lint(files, "missing.pem", "served.pem") == EXIT_INVALID
    assert capsys.readouterr().err == f"{files}/missing.pem does not exist (check the path)\n"
    assert main(["ca", "lint", "--now", "yesterday", str(files / "served.pem")]) == EXIT_INVALID
    assert "--now 'yesterday' is not a date" in capsys.readouterr().err
    assert main(["ca", "lint", "--warn-within", "soon", str(files / "served.pem")]) == EXIT_INVALID
    assert "--warn-within: 'soon' is not a duration" in capsys.readouterr().err
