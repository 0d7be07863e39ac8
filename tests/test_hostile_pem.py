"""Hostile and broken PEM inputs, and PEM file references that try to leave the spec's directory.

Only CERTIFICATE blocks are accepted where certificates are expected; a private key in any form
is refused without a byte of it in the message; garbage, truncated, oversized and pathological
files give one clean error, in time linear in their size; the certificate's own text (subject)
cannot inject lines into rendered files; a file reference stays inside the spec's directory unless
``--allow-outside-files`` says otherwise. Also `aiogen.output.keyscan` on every form of key material.
"""

from __future__ import annotations

import base64
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiogen.model.problems import AiogenError
from aiogen.output import keyscan
from aiogen.pki import pem
from tests.helpers import Run, aiogen, make_ca_pem

HEAD = "apiVersion: aiogen.io/v1alpha1\nkind: Topology\nmetadata: {name: t}\nspec:\n"
FAST = 10.0  # seconds: a refusal takes milliseconds; a hang (FIFO, /dev/zero) never ends

ROOT_PEM, ROOT_CERT, ROOT_KEY = make_ca_pem("Hostile Test Root")
EC_KEY = ec.generate_private_key(ec.SECP256R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def key_forms() -> dict[str, bytes]:
    """The same kind of secret in every encoding a file could carry it."""
    pkcs8 = EC_KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
    der = EC_KEY.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())
    body = b"".join(pkcs8.splitlines()[1:-1])
    p12 = pkcs12.serialize_key_and_certificates(b"x", EC_KEY, None, None, serialization.NoEncryption())
    wrapped = base64.encodebytes(pkcs8)  # 76-character lines, as `base64` prints them
    return {
        "pkcs8": pkcs8,
        "sec1": EC_KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                     serialization.NoEncryption()),
        "rsa-pkcs1": RSA_KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()),
        "encrypted": EC_KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.BestAvailableEncryption(b"pw")),
        "openssh": EC_KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                        serialization.NoEncryption()),
        "pgp": b"-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQVYBGR\n-----END PGP PRIVATE KEY BLOCK-----\n",
        "base64-pem": b"tls.key: " + base64.b64encode(pkcs8) + b"\n",
        "base64-pem-urlsafe": b'{"k": "' + base64.urlsafe_b64encode(b"xy" + pkcs8) + b'"}',
        "base64-pem-wrapped-indented": b"data:\n" + b"".join(b"    " + line + b"\n" for line in wrapped.splitlines()),
        "json-escaped-pem": b'{"key": "' + pkcs8.replace(b"\n", b"\\n") + b'"}',
        "pem-body-without-armour": body + b"\n",
        "der-base64-one-line": b"key: " + base64.b64encode(der) + b"\n",
        "der-raw": der,
        "encrypted-der-base64": b"k: " + base64.b64encode(EC_KEY.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"))) + b"\n",
        "pkcs12-raw": p12,
        "pkcs12-base64": b"pfx: " + base64.b64encode(p12) + b"\n",
        "rsa-der-base64": b"k: " + base64.b64encode(RSA_KEY.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption())) + b"\n",
    }


KEY_FORMS = key_forms()


def spec_with_root(tmp_path: Path, pem_bytes: bytes | None, file: str = "pki/root.pem") -> Path:
    (tmp_path / "pki").mkdir(exist_ok=True)
    if pem_bytes is not None:
        (tmp_path / "pki/root.pem").write_bytes(pem_bytes)
    spec = tmp_path / "fleet.yaml"
    spec.write_text(
        HEAD
        + f"  roots:\n    r1: {{certificate: {{file: {file!r}}}}}\n"
        + "  clusters:\n"
        + "    - name: cl1\n"
        + "      pki: {mode: intermediate, root: r1, intermediate: {secret: {name: ica}}}\n",
        encoding="utf-8",
    )
    return spec


def pem_error(tmp_path: Path, pem_bytes: bytes) -> str:
    """The one message aiogen prints for a root PEM file, after checking it failed cleanly."""
    spec = spec_with_root(tmp_path, pem_bytes)
    start = time.perf_counter()
    run = aiogen("validate", spec)
    assert time.perf_counter() - start < FAST
    assert run.code == 1, run
    assert "Traceback" not in run.err and "internal error" not in run.err
    (line,) = run.err.splitlines()
    prefix = f"{spec}:6:30 spec.roots.r1.certificate.file: "
    assert line.startswith(prefix), line
    return line.removeprefix(prefix)


def assert_not_echoed(secret: bytes, *texts: str) -> None:
    """No 16-character run of the secret's non-armour text appears in any output."""
    lines = [ln for ln in secret.decode("ascii", "replace").splitlines() if ln and "-----" not in ln]
    for line in lines:
        for start in range(0, max(1, len(line) - 16), 8):
            chunk = line[start : start + 16]
            if len(chunk) == 16:
                for text in texts:
                    assert chunk not in text, "key material echoed"


# ---------------------------------------------------------------- private keys are refused, never echoed


def test_key_bearing_pem_is_refused_without_echoing_the_key(tmp_path: Path) -> None:
    secret = KEY_FORMS["pkcs8"]
    message = pem_error(tmp_path, ROOT_PEM.encode() + secret)
    assert message == (
        "pki/root.pem contains a private key; aiogen only takes public certificates "
        "(split the key out and keep it out of the repository)"
    )
    assert_not_echoed(secret, message)


@pytest.mark.parametrize("form", ["pkcs8", "sec1", "rsa-pkcs1", "encrypted", "openssh", "pgp"])
def test_every_armoured_key_is_refused(tmp_path: Path, form: str) -> None:
    message = pem_error(tmp_path, KEY_FORMS[form] + ROOT_PEM.encode())
    assert "contains a private key" in message
    assert_not_echoed(KEY_FORMS[form], message)


def test_key_hidden_under_a_certificate_label_is_refused(tmp_path: Path) -> None:
    body = KEY_FORMS["pkcs8"].split(b"-----")[2]
    disguised = b"-----BEGIN CERTIFICATE-----" + body + b"-----END CERTIFICATE-----\n"
    message = pem_error(tmp_path, disguised)
    assert message.startswith("pki/root.pem contains a private key (labelled CERTIFICATE)")
    assert_not_echoed(disguised, message)


def test_binary_der_key_is_refused_as_a_key(tmp_path: Path) -> None:
    message = pem_error(tmp_path, KEY_FORMS["der-raw"])
    assert message.startswith("pki/root.pem contains a private key (binary DER)")


def test_key_in_the_pem_is_not_echoed_by_any_command(tmp_path: Path) -> None:
    (tmp_path / "bundle.pem").write_bytes(ROOT_PEM.encode() + KEY_FORMS["sec1"])
    run = aiogen("ca", "lint", tmp_path / "bundle.pem")
    assert run.code == 1
    assert_not_echoed(KEY_FORMS["sec1"], run.out, run.err)


# ---------------------------------------------------------------- garbage, truncated, oversized


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "pki/root.pem holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)"),
        (b"hello\n", "pki/root.pem holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)"),
        (b"\xff\xfe\x00garbage", "pki/root.pem is binary, not PEM text (DER? convert it with `openssl x509 -inform der`)"),
        (ROOT_PEM.encode()[:300], "pki/root.pem: the PEM block at line 1 is not closed (truncated file?)"),
        (ROOT_PEM.encode()[:200] + b"\n-----END CERTIFICATE-----\n",
         "pki/root.pem: PEM block 1 (line 1) is not valid base64"),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
         "pki/root.pem: PEM block 1 (line 1) is not a valid X.509 certificate"),
        (b"-----END CERTIFICATE-----\n", "pki/root.pem: line 1 ends a PEM block that never began"),
        (b"-----BEGIN CERTIFICATE-----\n" + ROOT_PEM.encode(),
         "pki/root.pem: the PEM block at line 1 is not closed before line 2"),
        (ROOT_PEM.encode().replace(b"-----END CERTIFICATE-----", b"-----END X509 CRL-----"),
         "pki/root.pem: the PEM block at line 1 begins as CERTIFICATE but ends as X509 CRL"),
        (ROOT_PEM.encode().replace(b"CERTIFICATE-----\n", b"CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\n", 1),
         "pki/root.pem: the PEM block at line 1 has headers; trust-manager rejects PEM headers"),
        (b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n",
         "pki/root.pem: PEM block 1 (line 1) is a X509 CRL; only CERTIFICATE blocks are accepted"),
        (b"-----BEGIN CERTIFICATE----\nAAAA\n-----END CERTIFICATE-----\n",
         "pki/root.pem: line 1 is not a well-formed PEM boundary"),
        (ROOT_PEM.encode() * 11, "pki/root.pem holds more than 10 PEM blocks; at most 10 are accepted"),
    ],
)
def test_broken_pem_gives_one_clean_error(tmp_path: Path, content: bytes, message: str) -> None:
    assert pem_error(tmp_path, content) == message


def test_crlf_and_surrounding_text_are_accepted(tmp_path: Path) -> None:
    text = b"Subject: CN=whatever\r\n" + ROOT_PEM.encode().replace(b"\n", b"\r\n") + b"trailing words\r\n"
    run = aiogen("validate", spec_with_root(tmp_path, text), "--now", "2025-06-01")
    assert run.code == 0, run.err


def test_oversized_pem_is_refused_without_reading_it(tmp_path: Path) -> None:
    spec = spec_with_root(tmp_path, None)
    with (tmp_path / "pki/root.pem").open("wb") as handle:
        handle.truncate(pem.MAX_PEM_BYTES + 1)  # sparse
    run = aiogen("validate", spec)
    assert run.code == 1
    assert f"is {pem.MAX_PEM_BYTES + 1} bytes; a certificate file may be at most {pem.MAX_PEM_BYTES}" in run.err


def test_a_megabyte_of_unclosed_begin_lines_is_refused_in_linear_time() -> None:
    data = b"-----BEGIN CERTIFICATE-----\n" * (pem.MAX_PEM_BYTES // 28)
    start = time.perf_counter()
    with pytest.raises(pem.PemError, match="not closed before line 2"):
        pem.parse_certificates(data, source="x.pem")
    assert time.perf_counter() - start < 0.1  # the old regex took minutes


def test_a_megabyte_of_begin_lines_without_newlines_is_linear_too() -> None:
    data = (b"-----BEGIN CERTIFICATE-----" * (pem.MAX_PEM_BYTES // 27))[: pem.MAX_PEM_BYTES]
    start = time.perf_counter()
    with pytest.raises(pem.PemError):
        pem.parse_certificates(data, source="x.pem")
    assert time.perf_counter() - start < 0.5


def _der() -> bytes:
    return ROOT_CERT.public_bytes(serialization.Encoding.DER)  # type: ignore[attr-defined,no-any-return]


@settings(max_examples=60, deadline=1000, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 255)), min_size=1, max_size=4),
       cut=st.integers(0, 10_000))
def test_corrupted_certificates_only_ever_raise_pem_error(flips: list[tuple[int, int]], cut: int) -> None:
    """Bit flips and truncations anywhere in the DER: parse + summarize fail only with PemError."""
    der = bytearray(_der())
    for offset, mask in flips:
        der[offset % len(der)] ^= mask
    data = bytes(der[: max(1, len(der) - cut % 40)])
    armoured = b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(data) + b"-----END CERTIFICATE-----\n"
    try:
        for cert in pem.parse_certificates(armoured, source="fuzz.pem"):
            pem.summarize(cert)
    except pem.PemError as error:
        assert "fuzz.pem" in str(error)


def test_a_certificate_whose_two_signature_algorithms_differ_is_no_root_and_no_crash(tmp_path: Path) -> None:
    """The signature algorithm outside the signed part is not the one inside: cryptography refuses to
    verify it or name its hash; the certificate reads as not self-signed, and as a root it is a
    located error that says why, never an internal error."""
    der = bytearray(_der())
    oid = bytes.fromhex("06082a8648ce3d040302")  # ecdsa-with-SHA256, in the TBS and after it
    outer = der.rindex(oid)
    assert der.index(oid) < outer
    der[outer + len(oid) - 1] = 0x09  # 1.2.840.10045.4.3.9 outside: no algorithm cryptography knows
    armoured = b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(bytes(der)) + b"-----END CERTIFICATE-----\n"
    (summary,) = pem.summaries(armoured, source="mismatch.pem")
    assert summary.self_signed is False and summary.subject == ROOT_CERT.subject.rfc4514_string()
    message = pem_error(tmp_path, armoured)
    assert "names itself as its issuer, but its signature does not verify with its own key" in message


# ---------------------------------------------------------------- the certificate's own text


def _root_with_subject(attributes: list[Any]) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(attributes)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(start).not_valid_after(start + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_subject_text_cannot_inject_lines_into_the_ca_bundle(tmp_path: Path) -> None:
    """A root whose subject carries a newline and a PEM block must not add a root to ca-bundle.pem."""
    evil = ROOT_PEM.strip()
    root = _root_with_subject([
        x509.NameAttribute(NameOID.COMMON_NAME, "innocent root"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "x\n" + evil + "\n# \u202e"),
    ])
    spec = spec_with_root(tmp_path, root.encode())
    out = tmp_path / "out"
    run = aiogen("render", spec, "-o", out, "--now", "2025-06-01")
    assert run.code == 0, run.err
    bundle = (out / "cl1/ca-bundle.pem").read_text()
    assert [line for line in bundle.splitlines() if "-----" in line] == [
        "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"]
    comment = next(line for line in bundle.splitlines() if line.startswith("# r1:"))
    assert "\\u000a\\u002d----BEGIN CERTIFICATE" in comment and "\\u202e" in comment
    certs = x509.load_pem_x509_certificates(bundle.encode())
    assert len(certs) == 1 and certs[0].subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "innocent root"


def test_printable_escapes_every_line_break_and_control() -> None:
    assert pem.printable("CN=a\nb\r\x00\u2028\u202e\x85") == "CN=a\\u000ab\\u000d\\u0000\\u2028\\u202e\\u0085"
    assert pem.printable("CN=Zürich ü 😀") == "CN=Zürich ü 😀"
    assert pem.printable("OU=-----BEGIN X-----") == "OU=\\u002d----BEGIN X\\u002d----"


# ---------------------------------------------------------------- references outside the spec's directory


def test_dotdot_reference_is_refused(tmp_path: Path) -> None:
    (tmp_path / "outside.pem").write_text(ROOT_PEM)
    work = tmp_path / "repo"
    work.mkdir()
    spec = spec_with_root(work, None, file="../outside.pem")
    run = aiogen("validate", spec)
    assert run.code == 1
    assert run.err == (
        f"{spec}:6:30 spec.roots.r1.certificate.file: '../outside.pem' is outside the spec's directory "
        "(move the file next to the spec, or pass --allow-outside-files)\n"
    )
    assert aiogen("validate", spec, "--allow-outside-files", "--now", "2025-06-01").code == 0


@pytest.mark.parametrize("file", ["/etc/passwd", "pki/../../outside.pem", "pki/../../../../../../etc/shadow"])
def test_absolute_and_climbing_references_are_refused(tmp_path: Path, file: str) -> None:
    (tmp_path / "outside.pem").write_text(ROOT_PEM)
    work = tmp_path / "repo"
    work.mkdir()
    run = aiogen("validate", spec_with_root(work, None, file=file))
    assert run.code == 1 and "is outside the spec's directory" in run.err
    assert "root:" not in run.err  # nothing of /etc/passwd


def test_symlink_out_of_the_spec_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "outside.pem").write_text(ROOT_PEM)
    work = tmp_path / "repo"
    (work / "pki").mkdir(parents=True)
    (work / "pki/root.pem").symlink_to(tmp_path / "outside.pem")
    run = aiogen("validate", spec_with_root(work, None))
    assert run.code == 1 and "'pki/root.pem' is outside the spec's directory" in run.err


def test_read_pem_file_refuses_special_files(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.pem"
    os.mkfifo(fifo)
    with pytest.raises(pem.PemError, match=r"fifo\.pem is not a regular file"):
        pem.read_pem_file(fifo, source="fifo.pem")
    with pytest.raises(pem.PemError, match="is not a regular file"):
        pem.read_pem_file(Path("/dev/zero"), source="/dev/zero")
    (tmp_path / "ok.pem").write_text(ROOT_PEM)
    assert pem.read_pem_file(tmp_path / "ok.pem", source="ok.pem") == ROOT_PEM.encode()


def test_pem_reference_to_a_fifo_does_not_hang(tmp_path: Path) -> None:
    spec = spec_with_root(tmp_path, None)
    fifo = tmp_path / "pki/root.pem"
    os.mkfifo(fifo)
    result: dict[str, Run] = {}
    thread = threading.Thread(target=lambda: result.update(run=aiogen("validate", spec)), daemon=True)
    thread.start()
    thread.join(1.5)
    hung = thread.is_alive()
    if hung:  # release the blocked reader: a writer that closes at once gives it end-of-file
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(5)
    assert not hung, "aiogen blocked on a FIFO named as a PEM file"
    assert result["run"].code == 1 and "not a regular file" in result["run"].err


def test_pem_reference_with_a_nul_byte_is_a_located_error(tmp_path: Path) -> None:
    spec = spec_with_root(tmp_path, None)
    spec.write_text(spec.read_text().replace("'pki/root.pem'", '"pki/root\\0.pem"'))
    run = aiogen("validate", spec)
    assert (run.code, "internal error" in run.err) == (1, False), run.err
    assert run.err.startswith(f"{spec}:6:30 spec.roots.r1.certificate.file: ")


# ---------------------------------------------------------------- keyscan: every form found, no false alarm


@pytest.mark.parametrize("form", sorted(KEY_FORMS))
def test_keyscan_finds_every_form_of_key_material(form: str) -> None:
    found = keyscan.find_private_key(KEY_FORMS[form])
    assert found is not None, form
    assert_not_echoed(KEY_FORMS[form], found)


def test_keyscan_finds_keys_in_text_too() -> None:
    assert keyscan.find_private_key(KEY_FORMS["base64-pem-wrapped-indented"].decode()) == "base64-encoded private key"


def _cert_texts() -> list[Any]:
    from tests.helpers import EXAMPLES

    pems = [p.read_bytes() for p in sorted(EXAMPLES.rglob("*.pem"))]
    ders = [x509.load_pem_x509_certificate(p).public_bytes(serialization.Encoding.DER) for p in pems]
    csr = (x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
           .sign(EC_KEY, hashes.SHA256()).public_bytes(serialization.Encoding.DER))
    return [*pems, *ders, *(base64.b64encode(d) for d in ders), csr, base64.b64encode(csr),
            base64.b64encode(b"".join(pems)), ROOT_PEM, "0123456789abcdef" * 8]


@pytest.mark.parametrize("index", range(len(_cert_texts())))
def test_keyscan_never_mistakes_certificates_for_keys(index: int) -> None:
    assert keyscan.find_private_key(_cert_texts()[index]) is None


def _one_by_one(named: dict[str, str]) -> str | None:
    try:
        for name, text in named.items():
            keyscan.assert_no_private_key(name, text)
    except AiogenError as error:
        return str(error)
    return None


def _all_at_once(named: dict[str, str]) -> str | None:
    try:
        keyscan.assert_no_private_key_in(named)
    except AiogenError as error:
        return str(error)
    return None


@pytest.mark.parametrize("form", sorted(KEY_FORMS))
def test_one_scan_of_a_clusters_files_refuses_what_a_scan_of_each_does(form: str) -> None:
    """-o DIR scans a cluster's files joined (keyscan.assert_no_private_key_in): the same file is refused,
    wherever the key stands among them, and certificates, or a marker split across two files, are not."""
    key = KEY_FORMS[form].decode("utf-8", "surrogateescape")
    certs = [t.decode("ascii") if isinstance(t, bytes) else t for t in _cert_texts() if not isinstance(t, bytes)
             or t.isascii()]
    for place in range(4):
        named = {f"c/{index}.yaml": certs[index % len(certs)] for index in range(4)}
        named[f"c/{place}.yaml"] = key
        assert _all_at_once(named) == _one_by_one(named) is not None, (form, place)
        assert f"refusing to write c/{place}.yaml" in (_all_at_once(named) or "")
    assert _all_at_once({f"c/{i}": text for i, text in enumerate(certs)}) is None
    split = {"c/a.yaml": "x: PRIVATE", "c/b.yaml": " KEY-----\n", "c/c.pem": "-----BEGIN RSA PRIV",
             "c/d.pem": "ATE KEY-----\n"}
    assert _all_at_once(split) == _one_by_one(split) is None


@pytest.mark.parametrize("example", ["fleet.yaml", "lab.yaml", "lab-intermediate.yaml", "single-root-keyvault.yaml"])
def test_rendered_examples_pass_the_keyscan(tmp_path: Path, example: str) -> None:
    from tests.helpers import EXAMPLES

    run = aiogen("render", EXAMPLES / example, "-o", tmp_path / "out", "--now", "2026-01-15")
    assert run.code == 0, run.err
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file():
            assert keyscan.find_private_key(path.read_bytes()) is None, path


# ---------------------------------------------------------------- characters YAML cannot carry


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("name: cl1\n", "name: cl1\n      pki: {mode: single-root, root: {selfSigned: {commonName: \"r\\x7f\"}}}\n#"),
        ("spec:\n", "spec:\n  defaults:\n    trust:\n      clients:\n        - name: mqtt\n"
                    "          namespaceSelector: {matchLabels: {\"k\\x85\\x9b\": v}}\n"),
    ],
)
def test_control_characters_in_values_are_a_located_error_or_escaped(tmp_path: Path, old: str, new: str) -> None:
    spec = spec_with_root(tmp_path, ROOT_PEM.encode())
    spec.write_text(spec.read_text().replace(old, new, 1))
    run = aiogen("render", spec, "-o", tmp_path / "out", "--now", "2025-06-01")
    assert "internal error" not in run.err, run.err
    assert run.code in (0, 1)
