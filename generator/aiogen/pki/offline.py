"""Offline CA material (``aiogen ca``): mint a root or an intermediate, write its output set, lint files.

* `mint_root`: a self-signed root for a fleet, to be kept offline.
* `mint_intermediate`: a per-cluster intermediate signed by that root, in every form the cluster
  needs: the chain a cert-manager CA Secret's ``tls.crt`` wants (intermediates, never the root;
  https://cert-manager.io/docs/configuration/ca/) and Key Vault's PEM and PFX import forms.
* `lint_files`: check certificate files (chains, bundles), one finding per problem.

Outputs are written all-or-nothing through `aiogen.output.fs`: every file goes to a temporary name
in the target directory (created 0600 for keys, so a key is never readable by others even
briefly) and is linked into place only when all of them are written. An existing output is never
replaced without ``force``. SIGTERM and SIGINT while writing remove the temporaries; one left by a
``kill -9`` is removed by the next ``aiogen ca`` run writing into that directory.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from aiogen.model.clock import parse_instant
from aiogen.model.problems import AiogenError, Problem
from aiogen.output import fs
from aiogen.output.keyscan import assert_no_private_key
from aiogen.pki.authority import CertificateAuthority, IssuanceRefused
from aiogen.pki.certificate_template import TemplateError, dns_name_constraints
from aiogen.pki.chain import common_name, is_ca
from aiogen.pki.keys import KeySpec, UnsupportedKeyError, load_private_key, same_public_key
from aiogen.pki.lint import Finding, lint_certificates
from aiogen.pki.pem import PemError, parse_certificates, summarize

_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_ISO = "%Y-%m-%dT%H:%M:%SZ"
ROOT_SUFFIXES = (".pem", ".key")
INTERMEDIATE_SUFFIXES = (".pem", ".chain.pem", ".key", ".kv.pem", ".pfx")
KEY_MODE = 0o600
CERT_MODE = 0o644
# A CA must outlive what it signs and the days a rollover takes (docs/rollover.md): anything
# shorter than a day is a typo (1s, 1h) that would mint a CA expiring before it is deployed.
MIN_CA_VALIDITY = timedelta(days=1)


@dataclass(frozen=True)
class Subject:
    common_name: str
    organization: str | None
    key: str  # a KeySpec spelling
    validity: str  # a duration, as given


def mint_root(out: Path, name: str, subject: Subject, *, force: bool) -> list[str]:
    """Mint a root into OUT/NAME.pem and OUT/NAME.key; returns the lines saying what was written."""
    name = check_name(name)
    validity = ca_validity(subject.validity)
    now = _now()
    outputs = Outputs(out, name, ROOT_SUFFIXES)
    outputs.check_free(force=force)
    try:
        root = CertificateAuthority.root(subject.common_name, not_before=now, not_after=now + validity,
                                         key=KeySpec.parse(subject.key), organization=subject.organization)
    except TemplateError as error:
        raise AiogenError.single(str(error), hint="fix --common-name/--organization") from None
    outputs.add(".pem", root.cert_pem, CERT_MODE, _describe(root.certificate))
    outputs.add(".key", root.private_key_pem(), KEY_MODE, "private key: keep it offline")
    return outputs.write(force=force)


@dataclass(frozen=True)
class IntermediateOptions:
    root_cert: Path
    root_key: Path
    path_length: int
    permitted_dns: Sequence[str]
    pfx_password_file: Path | None


def mint_intermediate(out: Path, name: str, subject: Subject, options: IntermediateOptions, *,
                      force: bool) -> list[str]:
    """Mint an intermediate signed by the root in ``options``; returns the lines saying what was written."""
    name = check_name(name)
    validity = ca_validity(subject.validity)
    if options.path_length < 0:
        raise AiogenError.single(f"--path-length {options.path_length} is negative", hint="use 0 or more")
    password = _read_password(options.pfx_password_file) if options.pfx_password_file else None
    outputs = Outputs(out, name, INTERMEDIATE_SUFFIXES)
    outputs.check_free(force=force)
    signer = load_signer(options.root_cert, options.root_key)
    try:  # structure before dates: a signer that may not sign CAs is refused whatever the validity
        signer.check_may_sign_ca(options.path_length)
    except IssuanceRefused as error:
        raise AiogenError.single(str(error), hint="change the intermediate's options") from None
    now = _now()
    _check_inside(signer.certificate, now, validity, subject.validity)
    organization = subject.organization or _organization(signer.certificate)
    try:
        constraints = dns_name_constraints(list(options.permitted_dns)) if options.permitted_dns else None
        intermediate = signer.child_ca(subject.common_name, not_before=now, not_after=now + validity,
                                       key=KeySpec.parse(subject.key), path_length=options.path_length,
                                       name_constraints=constraints, organization=organization)
    except (TemplateError, IssuanceRefused) as error:
        raise AiogenError.single(str(error), hint="change the intermediate's options") from None
    outputs.add(".pem", intermediate.cert_pem, CERT_MODE, _describe(intermediate.certificate))
    outputs.add(".chain.pem", intermediate.chain_pem, CERT_MODE, "chain without the root: a CA Secret's tls.crt")
    outputs.add(".key", intermediate.private_key_pem(), KEY_MODE, "private key")
    outputs.add(".kv.pem", intermediate.private_key_and_chain_pem(), KEY_MODE, "key + chain, Key Vault PEM import")
    pfx_note = "password-protected" if password else "no password"
    outputs.add(".pfx", intermediate.pfx(password), KEY_MODE, f"PKCS#12 for Key Vault import, {pfx_note}")
    return outputs.write(force=force)


def load_signer(cert_path: Path, key_path: Path) -> CertificateAuthority:
    """The root (or any CA) from its files, with every mistake turned into one clear line."""
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
    label = common_name(head)
    if not is_ca(head):
        raise AiogenError.single(f"{cert_path}: {label!r} is not a CA certificate (no BasicConstraints CA:TRUE)",
                                 hint="pass the root CA's certificate, not a leaf")
    try:
        usage = head.extensions.get_extension_for_class(x509.KeyUsage).value
        if not usage.key_cert_sign:
            raise AiogenError.single(f"{cert_path}: {label!r} may not sign certificates (its KeyUsage lacks "
                                     "keyCertSign)", hint="reissue the root with the cert sign usage")
    except x509.ExtensionNotFound:
        pass
    if not same_public_key(key, head.public_key()):
        raise AiogenError.single(f"{key_path} is not the private key of {label!r} in {cert_path}",
                                 hint="pass the key written together with that certificate")
    return CertificateAuthority(head, key, certs[1:])


def _check_inside(root: x509.Certificate, now: datetime, validity: timedelta, text: str) -> None:
    """The intermediate must lie inside the root's validity; say how long the root has left."""
    label = common_name(root)
    start, end = root.not_valid_before_utc, root.not_valid_after_utc
    if now < start:
        raise AiogenError.single(f"the root {label!r} is not valid until {start:{_ISO}}",
                                 hint="check this machine's clock, or wait until the root is valid")
    if now >= end:
        raise AiogenError.single(f"the root {label!r} expired on {end:{_ISO}}",
                                 hint="mint a new root and roll clients over to it")
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
        raise AiogenError.single(f"{path} is empty", hint="write the PFX password into it, or leave the option out")
    return password


# -- lint ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LintResult:
    files: int
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return len(self.findings) - self.errors


def lint_files(paths: Sequence[Path], now_text: str | None, warn_within_text: str) -> LintResult:
    """Lint every file; unreadable or unparsable files are refused together, before any finding."""
    now = parse_now(now_text) if now_text else _now()
    warn_within = duration(warn_within_text, "--warn-within")
    problems: list[Problem] = []
    parsed: list[tuple[str, list[x509.Certificate]]] = []
    for path in paths:
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
            problems.append(Problem(f"{source} cannot be read ({error.strerror})", hint="check its permissions"))
            continue
        try:
            parsed.append((source, parse_certificates(data, source=source)))
        except PemError as error:
            problems.append(Problem(str(error)))  # PemError says what to do; it never quotes a key
    if problems:
        raise AiogenError(tuple(problems))
    findings = [finding for source, certs in parsed
                for finding in lint_certificates(certs, source=source, now=now, warn_within=warn_within)]
    return LintResult(len(parsed), tuple(findings))


def parse_now(text: str) -> datetime:
    try:
        return parse_instant(text)
    except ValueError:
        raise AiogenError.single(f"--now {text!r} is not a date",
                                 hint="use 2026-01-31 or 2026-01-31T12:00:00Z") from None


# -- shared helpers --------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def duration(text: str, option: str) -> timedelta:
    from aiogen.model.durations import DurationError, parse_duration

    try:
        return parse_duration(text)
    except DurationError as error:
        raise AiogenError.single(f"{option}: {error}", hint="e.g. 3y, 1095d or 26280h") from None


def ca_validity(text: str) -> timedelta:
    """--validity of a CA: a duration of at least `MIN_CA_VALIDITY`."""
    validity = duration(text, "--validity")
    if validity < MIN_CA_VALIDITY:
        raise AiogenError.single(
            f"--validity {text} is shorter than 1d: a CA must outlive the certificates it signs and the "
            "days it takes to distribute it, so it would expire before it is in use",
            hint="pass --validity 1d or more (roots usually live years: 20y; intermediates 3y)")
    return validity


def check_name(name: str) -> str:
    if not _FILE_NAME.fullmatch(name):
        raise AiogenError.single(f"--name {name!r} is not a plain file name",
                                 hint="use letters, digits, '.', '_' and '-' (no '/'), e.g. contoso-root-2025")
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


def _organization(cert: x509.Certificate) -> str | None:
    names = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(names[0].value) if names else None


def _describe(cert: x509.Certificate) -> str:
    summary = summarize(cert)
    return (f"{summary.subject}, {summary.key_algorithm}, valid {summary.not_before:{_ISO}} to "
            f"{summary.not_after:{_ISO}}, SHA-256 {summary.sha256}")


# -- the output set --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Output:
    path: Path
    data: bytes
    mode: int
    note: str


class Outputs:
    """A set of files written all-or-nothing into one directory, through `aiogen.output.fs`."""

    def __init__(self, directory: Path, name: str, suffixes: Sequence[str]) -> None:
        self.directory = directory
        self.name = name
        self.suffixes = tuple(suffixes)
        self.files: list[_Output] = []

    def add(self, suffix: str, data: bytes, mode: int, note: str) -> None:
        assert suffix in self.suffixes, suffix
        if mode != KEY_MODE:
            assert_no_private_key(str(self.directory / f"{self.name}{suffix}"), data)
        self.files.append(_Output(self.directory / f"{self.name}{suffix}", data, mode, note))

    def paths(self) -> list[Path]:
        return [self.directory / f"{self.name}{suffix}" for suffix in self.suffixes]

    def check_free(self, *, force: bool) -> None:
        """Fail before any work if an output exists (every output this command may write).

        First removes the temporaries a killed run left in the directory (they may hold a key).
        """
        if self.directory.exists() and not self.directory.is_dir():
            raise AiogenError.single(f"--out {self.directory} is not a directory", hint="pass a directory")
        _remove_leftovers(self.directory)
        directories = [p for p in self.paths() if p.is_dir()]
        if directories:
            raise AiogenError.single(f"{directories[0]} is a directory", hint="remove it or choose another --name")
        if force:
            return
        taken = [p for p in self.paths() if p.exists() or p.is_symlink()]
        if taken:
            raise AiogenError.single(
                f"{taken[0]} already exists" + (f" (and {len(taken) - 1} more)" if len(taken) > 1 else ""),
                hint="pass --force to replace it, or choose another --name or --out",
            )

    def write(self, *, force: bool) -> list[str]:
        """Write every file; returns one line per file written, as `aiogen ca` prints them."""
        self.check_free(force=force)
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            directory = fs.open_root(self.directory)
        except OSError as error:
            raise AiogenError.single(f"cannot create {self.directory} ({error.strerror})",
                                     hint="choose another --out") from None
        try:
            with fs.signals_unwind():
                self._write_all(directory, force=force)
            fs.fsync_directory(directory)
        finally:
            os.close(directory)
        return [f"wrote {o.path} ({'0600, ' if o.mode == KEY_MODE else ''}{o.note})" for o in self.files]

    def _write_all(self, directory: int, *, force: bool) -> None:
        temporaries: list[tuple[_Output, str]] = []
        placed: list[str] = []
        try:
            for output in self.files:
                try:
                    temporary = fs.temporary_name(output.path.name)
                    temporaries.append((output, temporary))  # before it exists: a signal still removes it
                    fs.write_new(directory, temporary, output.data, output.mode, sync=True)
                except OSError as error:
                    raise AiogenError.single(f"cannot write in {output.path.parent} ({error.strerror})",
                                             hint="choose another --out") from None
            for output, temporary in temporaries:
                _place(directory, temporary, output.path, force=force)
                placed.append(output.path.name)
        except BaseException:
            for _, temporary in temporaries:
                _unlink_quietly(directory, temporary)
            if not force:  # only files this run created; with --force the old ones are gone already
                for name in placed:
                    _unlink_quietly(directory, name)
            raise


def _remove_leftovers(directory: Path) -> None:
    try:
        fd = fs.open_root(directory)
    except OSError:
        return
    try:
        fs.remove_temporaries(fd, recursive=False)
    finally:
        os.close(fd)


def _place(directory: int, temporary: str, final: Path, *, force: bool) -> None:
    name = final.name
    if force:
        try:
            os.replace(temporary, name, src_dir_fd=directory, dst_dir_fd=directory)
        except IsADirectoryError:
            raise AiogenError.single(f"{final} is a directory", hint="remove it or choose another --name") from None
        return
    try:  # atomic and never clobbers: fails if final appeared meanwhile
        os.link(temporary, name, src_dir_fd=directory, dst_dir_fd=directory, follow_symlinks=False)
    except FileExistsError:
        raise AiogenError.single(f"{final} already exists",
                                 hint="pass --force to replace it, or choose another --name or --out") from None
    except OSError:
        # No hard links on this file system: check, then rename (a tiny race, accepted).
        if fs.lstat_at(directory, name) is not None:
            raise AiogenError.single(f"{final} already exists", hint="pass --force to replace it") from None
        os.replace(temporary, name, src_dir_fd=directory, dst_dir_fd=directory)
        return
    os.unlink(temporary, dir_fd=directory)


def _unlink_quietly(directory: int, name: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(name, dir_fd=directory)
