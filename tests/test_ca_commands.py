"""``aiogen ca root`` and ``aiogen ca intermediate``: files, modes, refusals, pkilint, Key Vault forms."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key, pkcs12

from aiogen.cli import main
from aiogen.model.problems import EXIT_INVALID
from aiogen.pki.authority import CertificateAuthority
from aiogen.pki.keys import KeySpec, same_public_key
from aiogen.pki.pem import parse_certificates

INTERMEDIATE_FILES = ["ica.chain.pem", "ica.key", "ica.kv.pem", "ica.pem", "ica.pfx"]


def _root(out: Path, *extra: str, name: str = "root") -> int:
    return main(["ca", "root", "--out", str(out), "--name", name, "--common-name", "Contoso Root", *extra])


def _intermediate(out: Path, *extra: str, name: str = "ica", root: str = "root") -> int:
    return main(
        [
            "ca",
            "intermediate",
            "--root-cert",
            str(out / f"{root}.pem"),
            "--root-key",
            str(out / f"{root}.key"),
            "--out",
            str(out),
            "--name",
            name,
            "--common-name",
            "Berlin ICA",
            *extra,
        ]
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _cert(path: Path) -> x509.Certificate:
    return parse_certificates(path.read_bytes(), source=str(path))[0]


@pytest.fixture
def pki(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    out = tmp_path / "pki"
    assert _root(out, "--organization", "Contoso") == 0
    assert _intermediate(out) == 0
    capsys.readouterr()
    return out


def test_root_and_intermediate_files(pki: Path) -> None:
    assert sorted(p.name for p in pki.iterdir()) == sorted(["root.key", "root.pem", *INTERMEDIATE_FILES])
    assert _mode(pki) == 0o700
    for name in ("root.key", "ica.key", "ica.kv.pem", "ica.pfx"):
        assert _mode(pki / name) == 0o600, name
    for name in ("root.pem", "ica.pem", "ica.chain.pem"):
        assert _mode(pki / name) == 0o644, name

    root, ica = _cert(pki / "root.pem"), _cert(pki / "ica.pem")
    assert root.subject.rfc4514_string() == "CN=Contoso Root,O=Contoso"
    assert ica.subject.rfc4514_string() == "CN=Berlin ICA,O=Contoso"  # O taken from the root
    ica.verify_directly_issued_by(root)
    assert ica.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    lifetime = root.not_valid_after_utc - root.not_valid_before_utc
    assert lifetime == timedelta(days=20 * 365)
    assert ica.not_valid_after_utc - ica.not_valid_before_utc == timedelta(days=3 * 365)

    # The chain file is what a CA Secret's tls.crt wants: the intermediate, never the root.
    assert parse_certificates((pki / "ica.chain.pem").read_bytes(), source="chain") == [ica]
    key = load_pem_private_key((pki / "ica.key").read_bytes(), None)
    assert same_public_key(key, ica.public_key())


def test_output_lists_what_was_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _root(tmp_path) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"wrote {tmp_path / 'root.pem'} (CN=Contoso Root, Ec256, valid ")
    assert out[1] == f"wrote {tmp_path / 'root.key'} (0600, private key: keep it offline)"


def test_key_vault_pem_and_pfx_load_back(pki: Path, tmp_path: Path) -> None:
    ica = _cert(pki / "ica.pem")
    kv = (pki / "ica.kv.pem").read_bytes()
    assert kv.startswith(b"-----BEGIN PRIVATE KEY-----")
    key = load_pem_private_key(kv, None)
    assert same_public_key(key, ica.public_key())
    assert x509.load_pem_x509_certificates(kv) == [ica]
    pfx_key, pfx_cert, extra = pkcs12.load_key_and_certificates((pki / "ica.pfx").read_bytes(), None)
    assert pfx_cert == ica and extra == [] and same_public_key(pfx_key, ica.public_key())

    password_file = tmp_path / "pfx-password"
    password_file.write_text("correct horse\n")
    assert _intermediate(pki, "--pfx-password-file", str(password_file), name="ica2") == 0
    pfx = (pki / "ica2.pfx").read_bytes()
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(pfx, b"wrong")
    _, cert, _ = pkcs12.load_key_and_certificates(pfx, b"correct horse")
    assert cert == _cert(pki / "ica2.pem")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")
def test_openssl_reads_the_pfx_and_verifies_the_chain(pki: Path) -> None:
    pfx = subprocess.run(
        ["openssl", "pkcs12", "-in", str(pki / "ica.pfx"), "-passin", "pass:", "-nokeys"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert pfx.returncode == 0, pfx.stderr
    assert "subject=CN = Berlin ICA, O = Contoso" in pfx.stdout or "subject=O = Contoso, CN = Berlin ICA" in pfx.stdout
    verify = subprocess.run(
        ["openssl", "verify", "-CAfile", str(pki / "root.pem"), str(pki / "ica.pem")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.returncode == 0, verify.stderr


def test_rerun_without_force_fails_and_leaves_files_untouched(
    pki: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in pki.iterdir()}
    assert _root(pki) == EXIT_INVALID
    assert capsys.readouterr().err == (
        f"{pki / 'root.pem'} already exists (and 1 more) "
        "(pass --force to replace it, or choose another --name or --out)\n"
    )
    assert _intermediate(pki) == EXIT_INVALID
    assert "ica.pem already exists (and 4 more)" in capsys.readouterr().err
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in pki.iterdir()}
    assert after == before


def test_one_existing_output_blocks_every_write(pki: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (pki / "next.kv.pem").write_text("someone else's file")
    assert _intermediate(pki, name="next") == EXIT_INVALID
    assert f"{pki / 'next.kv.pem'} already exists" in capsys.readouterr().err
    assert sorted(p.name for p in pki.iterdir() if p.name.startswith("next")) == ["next.kv.pem"]
    assert not [p for p in pki.iterdir() if p.name.endswith(".tmp")]


def test_force_replaces(pki: Path) -> None:
    old_root = (pki / "root.pem").read_bytes()
    old_ica = (pki / "ica.pem").read_bytes()
    assert _root(pki, "--force") == 0
    assert (pki / "root.pem").read_bytes() != old_root
    assert _mode(pki / "root.key") == 0o600
    assert _intermediate(pki, "--force") == 0
    assert (pki / "ica.pem").read_bytes() != old_ica
    _cert(pki / "ica.pem").verify_directly_issued_by(_cert(pki / "root.pem"))
    assert not [p for p in pki.iterdir() if p.name.endswith(".tmp")]


def test_key_files_are_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        assert _root(tmp_path) == 0
    finally:
        os.umask(old)
    assert _mode(tmp_path / "root.key") == 0o600


def test_intermediate_must_end_before_the_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _root(tmp_path, "--validity", "2y") == 0
    capsys.readouterr()
    assert _intermediate(tmp_path, "--validity", "3y") == EXIT_INVALID
    err = capsys.readouterr().err
    assert err.startswith("--validity 3y would end on ")
    assert "after the root 'Contoso Root' expires (" in err
    # 730d if both ran within the same second, else 729d and some hours.
    assert re.search(r"; the root has (729|730)d left \(pass --validity \1d or less\)\n$", err), err
    assert not (tmp_path / "ica.pem").exists()
    assert _intermediate(tmp_path, "--validity", "729d") == 0


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (None, ["--root-cert", "missing.pem"], "--root-cert {d}/missing.pem does not exist"),
        (None, ["--root-key", "ica.key"], "{d}/ica.key is not the private key of 'Contoso Root' in {d}/root.pem"),
        (None, ["--root-cert", "ica.pem", "--root-key", "ica.key"], "'Berlin ICA' has path length 0"),
        ("leaf", ["--root-cert", "leaf.pem", "--root-key", "leaf.key"], "'leaf' is not a CA certificate"),
        (None, ["--root-cert", "ica.kv.pem"], "{d}/ica.kv.pem contains a private key"),
        (None, ["--root-key", "root.pem"], "{d}/root.pem holds no PEM private key"),
        (None, ["--validity", "soon"], "--validity: 'soon' is not a duration"),
        (None, ["--path-length", "-1"], "--path-length -1 is negative"),
        (None, ["--name", "../escape"], "--name '../escape' is not a plain file name"),
        (None, ["--common-name", "x" * 65], "has 65 characters; at most 64 are allowed"),
        (None, ["--permitted-dns", "not_a_domain"], "'not_a_domain' is not a valid DNS name"),
    ],
)
def test_intermediate_refusals(
    pki: Path, capsys: pytest.CaptureFixture[str], setup: str | None, args: list[str], message: str
) -> None:
    if setup == "leaf":
        now = datetime.now(UTC)
        ca = CertificateAuthority.root("tmp", not_before=now, not_after=now + timedelta(days=2))
        leaf = ca.issue_leaf("leaf", not_before=now, not_after=now + timedelta(days=1))
        (pki / "leaf.pem").write_bytes(leaf.cert_pem)
        (pki / "leaf.key").write_bytes(leaf.private_key_pem())
    argv = [
        "ca",
        "intermediate",
        "--root-cert",
        str(pki / "root.pem"),
        "--root-key",
        str(pki / "root.key"),
        "--out",
        str(pki),
        "--name",
        "new",
        "--common-name",
        "New ICA",
    ]
    for option, value in zip(args[::2], args[1::2], strict=True):
        if option in ("--root-cert", "--root-key"):
            value = str(pki / value)
        position = argv.index(option) + 1 if option in argv else None
        if position is None:
            argv += [option, value]
        else:
            argv[position] = value
    before = sorted(p.name for p in pki.iterdir())
    assert main(argv) == EXIT_INVALID
    err = capsys.readouterr().err
    assert message.format(d=pki) in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in pki.iterdir()) == before


def test_weak_keys_are_not_offered(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        _root(tmp_path, "--key", "Rsa1024")
    assert caught.value.code == 2
    assert "invalid choice: 'Rsa1024'" in capsys.readouterr().err


def test_permitted_dns_becomes_a_name_constraint(pki: Path) -> None:
    assert _intermediate(pki, "--permitted-dns", "contoso.example", "fabrikam.example", name="nc") == 0
    nc = _cert(pki / "nc.pem").extensions.get_extension_for_class(x509.NameConstraints)
    assert nc.critical
    assert nc.value.permitted_subtrees == [x509.DNSName("contoso.example"), x509.DNSName("fabrikam.example")]


def test_chain_file_carries_every_intermediate_but_not_the_root(pki: Path) -> None:
    # A two-level CA: the first intermediate may sign a second one (--path-length 1).
    assert _intermediate(pki, "--path-length", "1", name="region") == 0
    # shorter than the region's 3 years: minted a second later, an equal validity would outlive it
    assert _intermediate(pki, "--validity", "2y", root="region", name="cluster") == 0
    region, cluster = _cert(pki / "region.pem"), _cert(pki / "cluster.pem")
    assert parse_certificates((pki / "cluster.chain.pem").read_bytes(), source="chain") == [cluster, region]
    _, _, extra = pkcs12.load_key_and_certificates((pki / "cluster.pfx").read_bytes(), None)
    assert extra == [region]


# -- pkilint (RFC 5280 profile) -----------------------------------------------------------------------


def _pkilint(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    from pkilint.bin import lint_pkix_cert, lint_pkix_signer_signee_cert_chain

    tool = lint_pkix_cert if len(argv) == 1 else lint_pkix_signer_signee_cert_chain
    capsys.readouterr()
    # -s WARNING: any WARNING, ERROR or FATAL finding counts (stricter than required).
    code = tool.main(["lint", "-s", "WARNING", *argv])
    return code, capsys.readouterr().out


@pytest.mark.parametrize("key", ["Ec256", "Ec384", "Rsa2048"])
def test_pkilint_accepts_root_and_intermediate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str
) -> None:
    pytest.importorskip("pkilint")
    assert _root(tmp_path, "--key", key, "--organization", "Contoso") == 0
    assert _intermediate(tmp_path, "--key", key, "--permitted-dns", "contoso.example") == 0
    for name in ("root.pem", "ica.pem"):
        code, report = _pkilint(capsys, str(tmp_path / name))
        assert code == 0, f"{name}: {report}"
    code, report = _pkilint(capsys, str(tmp_path / "root.pem"), str(tmp_path / "ica.pem"))
    assert code == 0, report
    assert KeySpec.of(_cert(tmp_path / "ica.pem").public_key()).value == key


# -- the console script, once, as a user runs it --------------------------------------------------------


def test_console_script(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "aiogen"
    if not script.exists():
        pytest.skip(f"console script not installed at {script}")
    run = subprocess.run(
        [str(script), "ca", "root", "--out", str(tmp_path), "--name", "r", "--common-name", "Script Root"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    again = subprocess.run(
        [str(script), "ca", "root", "--out", str(tmp_path), "--name", "r", "--common-name", "Script Root"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode == EXIT_INVALID
    assert again.stderr.endswith("(pass --force to replace it, or choose another --name or --out)\n")
    assert "Traceback" not in again.stderr
