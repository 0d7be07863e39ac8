"""Shared test helpers: paths, in-process CLI runs, and small real certificates for specs."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
EXAMPLE_SPECS = sorted(EXAMPLES.glob("*.yaml"))


@dataclass
class Run:
    code: int
    out: str
    err: str


def aiogen(*args: str | Path) -> Run:
    """Run the CLI in-process (fast), capturing stdout and stderr."""
    from aiogen.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exit_:  # argparse usage errors
            code = int(exit_.code or 0)
    return Run(code, out.getvalue(), err.getvalue())


def make_ca_pem(
    common_name: str,
    *,
    issuer: tuple[object, object] | None = None,
    not_before: datetime | None = None,
    lifetime: timedelta = timedelta(days=3650),
    ca: bool = True,
    curve: str = "P-256",
    rsa_bits: int | None = None,
) -> tuple[str, object, object]:
    """A certificate PEM plus (certificate, key) for issuing children. Real keys, real signatures."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID

    key: object
    if rsa_bits:
        key = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    else:
        key = ec.generate_private_key(ec.SECP384R1() if curve == "P-384" else ec.SECP256R1())
    start = not_before or datetime(2025, 1, 1, tzinfo=UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    issuer_cert, issuer_key = issuer if issuer else (None, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_cert.subject if issuer_cert is not None else name)  # type: ignore[attr-defined]
        .public_key(key.public_key())  # type: ignore[attr-defined]
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + lifetime)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    cert = builder.sign(issuer_key, hashes.SHA256())  # type: ignore[arg-type]
    return cert.public_bytes(serialization.Encoding.PEM).decode(), cert, key


def key_pem(key: object) -> str:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(  # type: ignore[attr-defined,no-any-return]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
