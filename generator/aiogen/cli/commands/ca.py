"""``aiogen ca``: offline CA material and certificate lint.

* ``ca root``: a self-signed root for a fleet, to be kept offline.
* ``ca intermediate``: a per-cluster intermediate signed by that root, written in every form the
  cluster needs: the chain a cert-manager CA Secret's ``tls.crt`` wants (intermediates, never the
  root; reference/cert-manager.md §3.2) and Key Vault's PEM and PFX import forms.
* ``ca lint``: check certificate files (chains, bundles) and report one line per finding.

Outputs are written all-or-nothing: every file goes to a temporary name in the target directory
(created 0600 for keys, so a key is never readable by others even briefly) and is renamed into
place only when all of them are written. An existing output is never replaced without --force.

Only the standard library is imported here at module level; ``cryptography`` is loaded by ``run``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from aiogen.model.problems import EXIT_CHECK_FAILED, EXIT_OK, AiogenError, Problem

if TYPE_CHECKING:
    from cryptography import x509

    from aiogen.pki.authority import CertificateAuthority

NAME = "ca"
HELP = "Offline CA material: mint a shared root or a per-cluster intermediate, lint certificate files."

# The same spellings as aiogen.pki.keys.KeySpec (a test keeps them equal); weaker keys are not offered.
KEY_CHOICES = ("Ec256", "Ec384", "Rsa2048", "Rsa3072", "Rsa4096")

_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_ISO = "%Y-%m-%dT%H:%M:%SZ"
ROOT_SUFFIXES = (".pem", ".key")
INTERMEDIATE_SUFFIXES = (".pem", ".chain.pem", ".key", ".kv.pem", ".pfx")
_KEY_MODE = 0o600
_CERT_MODE = 0o644


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="ca_action", metavar="ACTION", required=True)

    root = actions.add_parser(
        "root",
        help="create a self-signed root CA (keep its key offline)",
        description="Create a self-signed root CA: DIR/NAME.pem (certificate) and DIR/NAME.key (0600).",
    )
    _add_output_arguments(root)
    root.add_argument("--common-name", required=True, metavar="CN", help="subject CN (at most 64 characters)")
    root.add_argument("--key", choices=KEY_CHOICES, default="Ec256", help="key algorithm (default: Ec256)")
    root.add_argument("--validity", default="20y", metavar="DURATION", help="lifetime: 20y, 7300d, 175200h")
    root.add_argument("--organization", metavar="ORG", help="subject O")
    root.set_defaults(ca_run=_run_root)

    intermediate = actions.add_parser(
        "intermediate",
        help="create an intermediate CA signed by a root (one per cluster)",
        description="Create an intermediate CA signed by --root-cert/--root-key: DIR/NAME.pem, "
        "DIR/NAME.chain.pem (the intermediates without the root: a cert-manager CA Secret's tls.crt), "
        "DIR/NAME.key, and the Key Vault import forms DIR/NAME.kv.pem and DIR/NAME.pfx (all three 0600).",
    )
    intermediate.add_argument(
        "--root-cert", required=True, type=Path, metavar="FILE", help="the signing CA's certificate"
    )
    intermediate.add_argument(
        "--root-key", required=True, type=Path, metavar="FILE", help="the signing CA's private key"
    )
    _add_output_arguments(intermediate)
    intermediate.add_argument(
        "--common-name", required=True, metavar="CN", help="subject CN (at most 64 characters)"
    )
    intermediate.add_argument(
        "--key", choices=KEY_CHOICES, default="Ec256", help="key algorithm (default: Ec256)"
    )
    intermediate.add_argument("--validity", default="3y", metavar="DURATION", help="lifetime (default: 3y)")
    intermediate.add_argument("--organization", metavar="ORG", help="subject O (default: the root's)")
    intermediate.add_argument(
        "--path-length",
        type=int,
        default=0,
        metavar="N",
        help="how many CA levels may sit below it (default: 0, it issues leaves only)",
    )
    intermediate.add_argument(
        "--permitted-dns",
        nargs="+",
        action="extend",
        default=[],
        metavar="DOMAIN",
        help="name constraint: it may only issue for these DNS domains and their subdomains",
    )
    intermediate.add_argument(
        "--pfx-password-file",
        type=Path,
        metavar="FILE",
        help="protect NAME.pfx with the password in FILE (default: no password)",
    )
    intermediate.set_defaults(ca_run=_run_intermediate)

    lint = actions.add_parser(
        "lint",
        help="check certificate files: chain order, CA flags, path length, lifetimes, usages",
        description="Check certificate files (a chain, a served tls.crt or a bundle of roots) and print "
        "one line per finding: FILE: SUBJECT: SEVERITY: what is wrong; what to do. "
        "Exits 3 when any finding is an error.",
    )
    lint.add_argument("files", nargs="+", type=Path, metavar="FILE")
    lint.add_argument(
        "--now", metavar="DATE", help="check validity at DATE (2026-01-31 or ISO 8601) instead of now"
    )
    lint.add_argument(
        "--warn-within",
        default="30d",
        metavar="DURATION",
        help="warn about certificates that expire within DURATION (default: 30d)",
    )
    lint.set_defaults(ca_run=_run_lint)


def _add_output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", required=True, type=Path, metavar="DIR", help="output directory (created 0700)"
    )
    parser.add_argument("--name", required=True, metavar="NAME", help="base name of the output files")
    parser.add_argument("--force", action="store_true", help="replace existing output files")


def run(args: argparse.Namespace) -> int:
    action: Callable[[argparse.Namespace], int] = args.ca_run
    return action(args)


# -- ca root ---------------------------------------------------------------------------------------


def _run_root(args: argparse.Namespace) -> int:
    from aiogen.pki.authority import CertificateAuthority
    from aiogen.pki.certificate_template import TemplateError
    from aiogen.pki.keys import KeySpec

    name = _check_name(args.name)
    validity = _duration(args.validity, "--validity")
    now = _now()
    outputs = _Outputs(args.out, name, ROOT_SUFFIXES)
    outputs.check_free(force=args.force)
    try:
        root = CertificateAuthority.root(
            args.common_name,
            not_before=now,
            not_after=now + validity,
            key=KeySpec.parse(args.key),
            organization=args.organization,
        )
    except TemplateError as error:
        raise AiogenError.single(str(error), hint="fix --common-name/--organization") from None
    outputs.add(".pem", root.cert_pem, _CERT_MODE, _describe(root.certificate))
    outputs.add(".key", root.private_key_pem(), _KEY_MODE, "private key: keep it offline")
    outputs.write(force=args.force)
    return EXIT_OK


# -- ca intermediate -------------------------------------------------------------------------------


def _run_intermediate(args: argparse.Namespace) -> int:
    from aiogen.pki.authority import IssuanceRefused
    from aiogen.pki.certificate_template import TemplateError, dns_name_constraints
    from aiogen.pki.keys import KeySpec

    name = _check_name(args.name)
    validity = _duration(args.validity, "--validity")
    if args.path_length < 0:
        raise AiogenError.single(f"--path-length {args.path_length} is negative", hint="use 0 or more")
    password = _read_password(args.pfx_password_file) if args.pfx_password_file else None
    outputs = _Outputs(args.out, name, INTERMEDIATE_SUFFIXES)
    outputs.check_free(force=args.force)
    signer = _load_signer(args.root_cert, args.root_key)
    try:  # structure before dates: a signer that may not sign CAs is refused whatever the validity
        signer.check_may_sign_ca(args.path_length)
    except IssuanceRefused as error:
        raise AiogenError.single(str(error), hint="change the intermediate's options") from None
    now = _now()
    _check_inside(signer.certificate, now, validity, args.validity)
    organization = args.organization or _organization(signer.certificate)
    try:
        constraints = dns_name_constraints(args.permitted_dns) if args.permitted_dns else None
        intermediate = signer.child_ca(
            args.common_name,
            not_before=now,
            not_after=now + validity,
            key=KeySpec.parse(args.key),
            path_length=args.path_length,
            name_constraints=constraints,
            organization=organization,
        )
    except (TemplateError, IssuanceRefused) as error:
        raise AiogenError.single(str(error), hint="change the intermediate's options") from None
    outputs.add(".pem", intermediate.cert_pem, _CERT_MODE, _describe(intermediate.certificate))
    outputs.add(
        ".chain.pem", intermediate.chain_pem, _CERT_MODE, "chain without the root: a CA Secret's tls.crt"
    )
    outputs.add(".key", intermediate.private_key_pem(), _KEY_MODE, "private key")
    outputs.add(
        ".kv.pem", intermediate.private_key_and_chain_pem(), _KEY_MODE, "key + chain, Key Vault PEM import"
    )
    pfx_note = "password-protected" if password else "no password"
    outputs.add(".pfx", intermediate.pfx(password), _KEY_MODE, f"PKCS#12 for Key Vault import, {pfx_note}")
    outputs.write(force=args.force)
    return EXIT_OK


def _load_signer(cert_path: Path, key_path: Path) -> CertificateAuthority:
    """The root (or any CA) from its files, with every mistake turned into one clear line."""
    from cryptography import x509

    from aiogen.pki.authority import CertificateAuthority
    from aiogen.pki.keys import UnsupportedKeyError, load_private_key, same_public_key
    from aiogen.pki.pem import PemError, parse_certificates

    cert_bytes = _read(cert_path, "--root-cert", "pass the root certificate written by `aiogen ca root`")
    key_bytes = _read(key_path, "--root-key", "pass the root key written by `aiogen ca root`")
    try:
        certs = parse_certificates(cert_bytes, source=str(cert_path))
    except PemError as error:
        raise AiogenError.single(str(error), hint="--root-cert takes the root's certificate PEM") from None
    try:
        key = load_private_key(key_bytes, source=str(key_path))
    except (PemError, UnsupportedKeyError) as error:
        raise AiogenError.single(str(error), hint="--root-key takes the root's PEM private key") from None
    head = certs[0]
    label = _label(head)
    try:
        constraints = head.extensions.get_extension_for_class(x509.BasicConstraints).value
        is_ca = constraints.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise AiogenError.single(
            f"{cert_path}: {label!r} is not a CA certificate (no BasicConstraints CA:TRUE)",
            hint="pass the root CA's certificate, not a leaf",
        )
    try:
        usage = head.extensions.get_extension_for_class(x509.KeyUsage).value
        if not usage.key_cert_sign:
            raise AiogenError.single(
                f"{cert_path}: {label!r} may not sign certificates (its KeyUsage lacks keyCertSign)",
                hint="reissue the root with the cert sign usage",
            )
    except x509.ExtensionNotFound:
        pass
    if not same_public_key(key, head.public_key()):
        raise AiogenError.single(
            f"{key_path} is not the private key of {label!r} in {cert_path}",
            hint="pass the key written together with that certificate",
        )
    return CertificateAuthority(head, key, certs[1:])


def _check_inside(root: x509.Certificate, now: datetime, validity: timedelta, text: str) -> None:
    """The intermediate must lie inside the root's validity; say how long the root has left."""
    label = _label(root)
    start, end = root.not_valid_before_utc, root.not_valid_after_utc
    if now < start:
        raise AiogenError.single(
            f"the root {label!r} is not valid until {start:{_ISO}}",
            hint="check this machine's clock, or wait until the root is valid",
        )
    if now >= end:
        raise AiogenError.single(
            f"the root {label!r} expired on {end:{_ISO}}", hint="mint a new root and roll clients over to it"
        )
    left = end - now
    if now + validity > end:
        raise AiogenError.single(
            f"--validity {text} would end on {now + validity:{_ISO}}, after the root {label!r} expires "
            f"({end:{_ISO}}); the root has {left.days}d left",
            hint=f"pass --validity {left.days}d or less",
        )


def _read_password(path: Path) -> bytes:
    data = _read(path, "--pfx-password-file", "pass a file holding the PFX password")
    password = data.rstrip(b"\r\n")
    if not password:
        raise AiogenError.single(
            f"{path} is empty", hint="write the PFX password into it, or leave the option out"
        )
    return password


# -- ca lint ---------------------------------------------------------------------------------------


def _run_lint(args: argparse.Namespace) -> int:
    from aiogen.pki.lint import lint_certificates
    from aiogen.pki.pem import PemError, parse_certificates

    now = _parse_now(args.now) if args.now else _now()
    warn_within = _duration(args.warn_within, "--warn-within")
    problems: list[Problem] = []
    parsed: list[tuple[str, list[x509.Certificate]]] = []
    for path in args.files:
        source = str(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            problems.append(Problem(f"{source} does not exist", hint="check the path"))
            continue
        except IsADirectoryError:
            problems.append(Problem(f"{source} is a directory", hint="pass certificate files"))
            continue
        except OSError as error:
            problems.append(
                Problem(f"{source} cannot be read ({error.strerror})", hint="check its permissions")
            )
            continue
        try:
            parsed.append((source, parse_certificates(data, source=source)))
        except PemError as error:
            problems.append(Problem(str(error)))  # PemError says what to do; it never quotes a key
    if problems:
        raise AiogenError(tuple(problems))
    errors = warnings = 0
    for source, certs in parsed:
        for finding in lint_certificates(certs, source=source, now=now, warn_within=warn_within):
            print(finding.format())
            if finding.severity == "error":
                errors += 1
            else:
                warnings += 1
    print(
        f"aiogen ca lint: {len(parsed)} file(s), {errors} error(s), {warnings} warning(s)",
        file=sys.stderr,
    )
    return EXIT_CHECK_FAILED if errors else EXIT_OK


def _parse_now(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise AiogenError.single(
            f"--now {text!r} is not a date", hint="use 2026-01-31 or 2026-01-31T12:00:00Z"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# -- shared helpers --------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _duration(text: str, option: str) -> timedelta:
    from aiogen.model.durations import DurationError, parse_duration

    try:
        return parse_duration(text)
    except DurationError as error:
        raise AiogenError.single(f"{option}: {error}", hint="e.g. 3y, 1095d or 26280h") from None


def _check_name(name: str) -> str:
    if not _FILE_NAME.fullmatch(name):
        raise AiogenError.single(
            f"--name {name!r} is not a plain file name",
            hint="use letters, digits, '.', '_' and '-' (no '/'), e.g. contoso-root-2025",
        )
    return name


def _read(path: Path, option: str, hint: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise AiogenError.single(f"{option} {path} does not exist", hint=hint) from None
    except IsADirectoryError:
        raise AiogenError.single(f"{option} {path} is a directory", hint=hint) from None
    except OSError as error:
        raise AiogenError.single(f"{option} {path} cannot be read ({error.strerror})", hint=hint) from None


def _label(cert: x509.Certificate) -> str:
    from cryptography.x509.oid import NameOID

    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()


def _organization(cert: x509.Certificate) -> str | None:
    from cryptography.x509.oid import NameOID

    names = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(names[0].value) if names else None


def _describe(cert: x509.Certificate) -> str:
    from aiogen.pki.pem import summarize

    summary = summarize(cert)
    return (
        f"{summary.subject}, {summary.key_algorithm}, valid {summary.not_before:{_ISO}} to "
        f"{summary.not_after:{_ISO}}, SHA-256 {summary.sha256}"
    )


@dataclass(frozen=True)
class _Output:
    path: Path
    data: bytes
    mode: int
    note: str


class _Outputs:
    """A set of files written all-or-nothing into one directory."""

    def __init__(self, directory: Path, name: str, suffixes: Sequence[str]) -> None:
        self.directory = directory
        self.name = name
        self.suffixes = tuple(suffixes)
        self.files: list[_Output] = []

    def add(self, suffix: str, data: bytes, mode: int, note: str) -> None:
        assert suffix in self.suffixes, suffix
        if mode != _KEY_MODE:
            from aiogen.output.keyscan import assert_no_private_key

            assert_no_private_key(str(self.directory / f"{self.name}{suffix}"), data)
        self.files.append(_Output(self.directory / f"{self.name}{suffix}", data, mode, note))

    def paths(self) -> list[Path]:
        return [self.directory / f"{self.name}{suffix}" for suffix in self.suffixes]

    def check_free(self, *, force: bool) -> None:
        """Fail before any work if an output exists (every output this command may write)."""
        if self.directory.exists() and not self.directory.is_dir():
            raise AiogenError.single(f"--out {self.directory} is not a directory", hint="pass a directory")
        directories = [p for p in self.paths() if p.is_dir()]
        if directories:
            raise AiogenError.single(
                f"{directories[0]} is a directory", hint="remove it or choose another --name"
            )
        if force:
            return
        taken = [p for p in self.paths() if p.exists() or p.is_symlink()]
        if taken:
            raise AiogenError.single(
                f"{taken[0]} already exists" + (f" (and {len(taken) - 1} more)" if len(taken) > 1 else ""),
                hint="pass --force to replace it, or choose another --name or --out",
            )

    def write(self, *, force: bool) -> None:
        self.check_free(force=force)
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as error:
            raise AiogenError.single(
                f"cannot create {self.directory} ({error.strerror})", hint="choose another --out"
            ) from None
        temporaries: list[tuple[_Output, Path]] = []
        placed: list[Path] = []
        try:
            for output in self.files:
                temporaries.append((output, _write_temporary(output)))
            for output, temporary in temporaries:
                _place(temporary, output.path, force=force)
                placed.append(output.path)
        except BaseException:
            for _, temporary in temporaries:
                _unlink_quietly(temporary)
            if not force:  # only files this run created; with --force the old ones are gone already
                for path in placed:
                    _unlink_quietly(path)
            raise
        _fsync_directory(self.directory)
        for output in self.files:
            mode = "0600, " if output.mode == _KEY_MODE else ""
            print(f"wrote {output.path} ({mode}{output.note})")


def _write_temporary(output: _Output) -> Path:
    temporary = output.path.with_name(f".{output.path.name}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(temporary, flags, output.mode)
    except OSError as error:
        raise AiogenError.single(
            f"cannot write in {output.path.parent} ({error.strerror})", hint="choose another --out"
        ) from None
    try:
        os.fchmod(fd, output.mode)  # exact mode whatever the umask
        with os.fdopen(fd, "wb") as handle:
            handle.write(output.data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        _unlink_quietly(temporary)
        raise
    return temporary


def _place(temporary: Path, final: Path, *, force: bool) -> None:
    if force:
        try:
            os.replace(temporary, final)
        except IsADirectoryError:
            raise AiogenError.single(
                f"{final} is a directory", hint="remove it or choose another --name"
            ) from None
        return
    try:
        os.link(temporary, final)  # atomic and never clobbers: fails if final appeared meanwhile
    except FileExistsError:
        raise AiogenError.single(
            f"{final} already exists", hint="pass --force to replace it, or choose another --name or --out"
        ) from None
    except OSError:
        # No hard links on this file system: check, then rename (a tiny race, accepted).
        if final.exists() or final.is_symlink():
            raise AiogenError.single(f"{final} already exists", hint="pass --force to replace it") from None
        os.replace(temporary, final)
        return
    os.unlink(temporary)


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
