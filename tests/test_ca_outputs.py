"""`aiogen ca` outputs through `aiogen.output.fs` (issue 10, issue 13 items 4 and 8).

A run killed while writing never leaves a key behind where it can be caught (SIGTERM, SIGINT), and
one killed with SIGKILL has its key temporary removed by the next run in that directory (real
signals on real subprocesses); validities shorter than a day are refused; `ca lint --format json`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from aiogen.cli import main
from aiogen.model.problems import EXIT_CHECK_FAILED, EXIT_INVALID
from tests.helpers import REPO

_PAUSED_ROOT = textwrap.dedent("""
    import os, sys, time
    real = os.fsync
    calls = [0]
    def paused(fd):
        real(fd)
        calls[0] += 1
        if calls[0] == 2:  # the key's temporary is written and synced
            print("staged", flush=True)
            time.sleep(60)
    os.fsync = paused
    from aiogen.cli import main
    sys.exit(main(["ca", "root", "--out", sys.argv[1], "--name", "root", "--common-name", "Test Root"]))
""")


def temporaries(directory: Path) -> list[Path]:
    return [p for p in directory.iterdir() if p.name.endswith(".aiogen-tmp")]


def paused_root(directory: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen([sys.executable, "-c", _PAUSED_ROOT, str(directory)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, cwd=REPO)
    assert child.stdout is not None
    assert child.stdout.readline() == "staged\n"
    assert any(b"PRIVATE KEY" in p.read_bytes() for p in temporaries(directory))  # the key is there now
    return child


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_writing_removes_the_key_temporary(tmp_path: Path, sig: signal.Signals) -> None:
    pki = tmp_path / "pki"
    child = paused_root(pki)
    child.send_signal(sig)
    assert child.wait(timeout=30) != 0
    assert list(pki.iterdir()) == []  # no temporary, no half output set


def test_the_next_run_removes_what_a_kill_9_left(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pki = tmp_path / "pki"
    child = paused_root(pki)
    child.kill()
    child.wait(timeout=30)
    left = temporaries(pki)
    assert len(left) == 2 and all(p.name.startswith((".root.pem.", ".root.key.")) for p in left)
    (pki / "notes.tmp").write_text("the user's\n")
    assert main(["ca", "root", "--out", str(pki), "--name", "other", "--common-name", "Other Root"]) == 0
    assert sorted(p.name for p in pki.iterdir()) == ["notes.tmp", "other.key", "other.pem"]


def test_even_a_refused_run_removes_a_leftover_key_temporary(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    assert main(["ca", "root", "--out", str(pki), "--name", "root", "--common-name", "R"]) == 0
    (pki / ".root.key.0123abcd.aiogen-tmp").write_bytes(b"-----BEGIN PRIVATE KEY-----\n")
    assert main(["ca", "root", "--out", str(pki), "--name", "root", "--common-name", "R"]) == EXIT_INVALID
    assert sorted(p.name for p in pki.iterdir()) == ["root.key", "root.pem"]


@pytest.mark.parametrize("validity", ["1s", "1h", "23h"])
@pytest.mark.parametrize("action", ["root", "intermediate"])
def test_validity_shorter_than_a_day_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 validity: str, action: str) -> None:
    assert main(["ca", "root", "--out", str(tmp_path), "--name", "root", "--common-name", "R"]) == 0
    capsys.readouterr()
    def argv(lifetime: str) -> list[str]:
        args = ["ca", action, "--out", str(tmp_path), "--name", "new", "--common-name", "N", "--validity", lifetime]
        if action == "intermediate":
            args += ["--root-cert", str(tmp_path / "root.pem"), "--root-key", str(tmp_path / "root.key")]
        return args

    assert main(argv(validity)) == EXIT_INVALID
    assert capsys.readouterr().err == (
        f"--validity {validity} is shorter than 1d: a CA must outlive the certificates it signs and the days it "
        "takes to distribute it, so it would expire before it is in use (pass --validity 1d or more (roots "
        "usually live years: 20y; intermediates 3y))\n")
    assert not (tmp_path / "new.pem").exists()
    assert main(argv("1d")) == 0


def test_lint_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ca", "root", "--out", str(tmp_path), "--name", "root", "--common-name", "R",
                 "--validity", "10d"]) == 0
    capsys.readouterr()
    assert main(["ca", "lint", str(tmp_path / "root.pem"), "--warn-within", "30d", "--format", "json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["files"] == 1 and report["errors"] == 0 and report["warnings"] >= 1
    finding = report["findings"][0]
    assert set(finding) == {"file", "subject", "severity", "message", "hint"}
    assert finding["file"] == str(tmp_path / "root.pem") and finding["severity"] == "warning"
    assert captured.err == f"aiogen ca lint: 1 file(s), 0 error(s), {report['warnings']} warning(s)\n"
    text_run = main(["ca", "lint", str(tmp_path / "root.pem"), "--warn-within", "30d"])
    text = capsys.readouterr().out
    assert text_run == 0 and text.splitlines()[0] == (
        f"{finding['file']}: {finding['subject']}: warning: {finding['message']}; {finding['hint']}")


def test_lint_json_errors_exit_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ca", "root", "--out", str(tmp_path), "--name", "root", "--common-name", "R"]) == 0
    capsys.readouterr()
    assert main(["ca", "lint", str(tmp_path / "root.pem"), "--now", "2100-01-01", "--format", "json"]) \
        == EXIT_CHECK_FAILED
    assert json.loads(capsys.readouterr().out)["errors"] >= 1


def test_ca_cli_module_holds_no_logic() -> None:
    source = (REPO / "generator/aiogen/cli/commands/ca.py").read_text()
    assert len(source.splitlines()) < 200
    assert "os.open" not in source and "os.replace" not in source
    assert os.path.exists(REPO / "generator/aiogen/pki/offline.py")
