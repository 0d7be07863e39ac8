"""Move a rotation one phase forward in the spec file, keeping the user's comments and layout.

`advance` is the only aiogen command that edits a spec. It changes the rotation's `phase` and adds
the date the new phase began to `started`; after `retire` it *finishes* the rotation: each moved
cluster's `pki.next` becomes its `pki` (or, for a client root, the new root replaces the old one
in `trustedClientRoots`), the rotation entry goes, and so does the old root's definition once
nothing names it. The rendered output of a finished rotation is the same as in retire.

The edit is a ruamel.yaml round trip (comments, key order, flow or block style and quoting are
kept). The indentation settings are the ones that reproduce the unedited file exactly, so the
diff shows only the lines the step changes. Before anything is written, both specs are resolved
and `rollout.check` must find the step safe; `minDwell` and the leaf lifetime rule must be met.
"""

from __future__ import annotations

import difflib
import io
import os
import stat
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from aiogen.model.phases import StepPhase
from aiogen.model.plan import Plan, RotationState
from aiogen.model.problems import EXIT_CHECK_FAILED, AiogenError, Problem
from aiogen.output import fs
from aiogen.pipeline import plan_from_text
from aiogen.rollout import check as rollout_check
from aiogen.rollout import schedule
from aiogen.rollout.report import RolloutReport
from aiogen.yamlio.document import MAX_BYTES
from aiogen.yamlio.read import decode, read_text

# (mapping indent, sequence indent, dash offset) candidates, most common first.
_INDENTS = ((2, 4, 2), (2, 2, 0), (4, 4, 2), (4, 6, 4), (2, 3, 1), (4, 4, 0), (3, 5, 2))


@dataclass(frozen=True)
class Advanced:
    """The result of one step: the new spec text and what the step did."""

    text: str
    rotation: str
    old_phase: str
    new_phase: StepPhase
    day: date
    report: RolloutReport
    plan: Plan  # the proposed Plan
    notes: tuple[str, ...]  # formatting drift, definitions removed at finish
    next_step: schedule.Step | None
    source: str = ""  # the text read: pass it to `write_spec` as ``expected``


def advance(path: Path, rotation_name: str, now: datetime, *, allow_outside_files: bool = False,
            display: str | None = None) -> Advanced:
    """Compute the spec after one step of ``rotation_name``; raise `AiogenError` when it may not be taken."""
    name = display or str(path)
    text = read_text(path, display=name)
    base_dir = path.resolve().parent
    deployed = plan_from_text(text, source=name, base_dir=base_dir, now=now, allow_outside_files=allow_outside_files)
    rotation = _find(deployed, rotation_name, name)
    step = schedule.remaining_steps(deployed, rotation)[0]
    if step.ready is None:
        raise AiogenError((Problem(f"rotation {rotation.name}: aiogen cannot tell when {step.phase} becomes safe: "
                                   f"{step.because}"),), exit_code=EXIT_CHECK_FAILED)
    if now < step.ready:
        assert step.earliest is not None
        raise AiogenError((Problem(
            f"rotation {rotation.name} may not move from {rotation.phase} to {step.phase} before "
            f"{step.earliest.isoformat()} (now: {now.date().isoformat()}): {step.because}",
            hint="wait, or pass --now if the clock is wrong"),), exit_code=EXIT_CHECK_FAILED)
    day = now.date()
    new_text, notes = edit(text, rotation, step.phase, day, deployed)
    try:
        proposed = plan_from_text(new_text, source=f"{name} (advanced)", base_dir=base_dir, now=now,
                                  allow_outside_files=allow_outside_files)
    except AiogenError as error:  # a bug in the edit, or a spec the step cannot express
        raise AiogenError((Problem(f"rotation {rotation.name}: the spec after {step.phase} does not resolve"),
                           *error.problems), warnings=error.warnings) from None
    report = rollout_check.check(deployed, proposed, now, deployed_name=name, proposed_name=f"{name} ({step.phase})")
    if not report.safe:
        raise AiogenError((*report.problems(),
                           Problem(f"refusing to move rotation {rotation.name} to {step.phase}: the step is not safe; "
                                   f"{name} is unchanged")), exit_code=EXIT_CHECK_FAILED)
    following = proposed.rotation(rotation.name)
    next_step = schedule.remaining_steps(proposed, following)[0] if following is not None else None
    return Advanced(new_text, rotation.name, rotation.phase, step.phase, day, report, proposed, tuple(notes), next_step,
                    text)


def _find(plan: Plan, rotation_name: str, spec_name: str) -> RotationState:
    found = plan.rotation(rotation_name)
    if found is None:
        known = ", ".join(r.name for r in plan.rotations)
        raise AiogenError.single(f"{spec_name}: no rotation named {rotation_name!r}",
                                 hint=f"rotations: {known}" if known else "the spec has no rotations")
    return found


# ---------------------------------------------------------------- writing the spec back


def write_spec(path: Path, text: str, *, expected: str | None = None) -> None:
    """Replace the spec file ``path`` by ``text`` through `aiogen.output.fs` (temporary sibling + rename).

    A symbolic link is written through: resolved once, then its target is replaced atomically in
    its own directory (the link, and the relative PEM paths beside the real spec, stay intact).
    Mode and (when this process may set them: root) owner and group are kept. Refused: a file that
    is not writable (0444: read-only on purpose) and a file with other hard links, which a rename
    would silently split from the new spec (edit through one name, or write --dry-run's output).
    ``expected`` (the text `advance` read): the file must still hold it, so a link swapped to
    another file, or an edit made meanwhile, is never overwritten by a spec computed from other
    bytes. SIGTERM and SIGHUP unwind like Ctrl-C (the temporary goes); a temporary a killed run
    left beside the spec is removed first.
    """
    target = Path(os.path.realpath(path))
    try:
        directory = fs.open_root(target.parent)
    except OSError as error:
        raise AiogenError.single(f"cannot write {path}: {error.strerror}") from None
    try:
        info = fs.lstat_at(directory, target.name)
        if info is None or not stat.S_ISREG(info.st_mode):
            raise AiogenError.single(f"cannot write {path}: {'it is gone' if info is None else 'not a regular file'}")
        if not info.st_mode & 0o222 or not os.access(target, os.W_OK):
            raise AiogenError.single(
                f"{path} is read-only (mode {stat.S_IMODE(info.st_mode):04o}); rollout advance will not replace it",
                hint="make it writable (chmod u+w) if it is meant to change, or use --dry-run")
        if info.st_nlink > 1:
            raise AiogenError.single(
                f"{path} has {info.st_nlink} hard links; replacing it would leave the other names with the old spec",
                hint="edit it through one name (cp it to a new file and move that over it), or use --dry-run")
        fs.remove_temporaries(directory, recursive=False, prefix=f"{target.name}.")
        if expected is not None and _current_text(directory, target.name) != expected:
            raise AiogenError.single(
                f"{path} changed while rollout advance ran (or now names another file); it is left as it is",
                hint="run rollout advance again on the file as it is now")
        with fs.signals_unwind():
            fs.replace(directory, target.name, text.encode("utf-8"), stat.S_IMODE(info.st_mode),
                       owner=(info.st_uid, info.st_gid))
    except OSError as error:
        raise AiogenError.single(f"cannot write {path}: {error.strerror}") from None
    finally:
        os.close(directory)


def _current_text(directory: int, name: str) -> str | None:
    try:
        data = fs.read_file(directory, name, at_most=MAX_BYTES)
    except fs.NotRegularFile:
        return None
    try:
        return None if data is None else decode(data, name)
    except AiogenError:
        return None


# ---------------------------------------------------------------- the round-trip edit


def _yaml(indent: tuple[int, int, int]) -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt", pure=True)
    yaml.preserve_quotes = True
    yaml.width = 1 << 20  # never fold a line the user wrote on one
    yaml.allow_duplicate_keys = False
    mapping, sequence, offset = indent
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def _dump(yaml: Any, data: Any) -> str:
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def _faithful_yaml(text: str) -> tuple[Any, Any, int]:
    """The round-trip settings that reproduce ``text`` best, its data, and how many lines drift."""
    data = _yaml(_INDENTS[0]).load(text)
    guess = _guess_indent(text)
    candidates = ([guess] if guess else []) + [i for i in _INDENTS if i != guess]
    best: tuple[int, Any] | None = None
    for indent in candidates:
        yaml = _yaml(indent)
        dumped = _dump(yaml, data)
        if dumped == text:
            return yaml, data, 0
        drift = sum(1 for line in difflib.ndiff(text.splitlines(), dumped.splitlines()) if line[:1] in "+-")
        if best is None or drift < best[0]:
            best = (drift, yaml)
    assert best is not None
    return best[1], data, best[0]


def _guess_indent(text: str) -> tuple[int, int, int] | None:
    """(mapping, sequence, offset) as the file's first nested mapping and first block sequence show them."""
    mapping: int | None = None
    offset: int | None = None
    previous: tuple[int, str] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        if previous is not None and previous[1].endswith(":") and not previous[1].startswith("- "):
            if stripped.startswith("- ") and offset is None:
                offset = indent - previous[0]
            elif not stripped.startswith("- ") and mapping is None and indent > previous[0]:
                mapping = indent - previous[0]
        previous = (indent, stripped)
        if mapping is not None and offset is not None:
            return (mapping, offset + 2, offset)
    return None


def edit(text: str, rotation: RotationState, step: StepPhase, day: date, plan: Plan
         ) -> tuple[str, list[str]]:
    """The spec text after ``step``; notes say what else changed (formatting drift, removed definitions)."""
    crlf = "\r\n" in text
    if crlf:  # edited as LF, written back in the file's own line-ending style
        text = text.replace("\r\n", "\n")
    yaml, data, drift = _faithful_yaml(text)
    notes: list[str] = []
    if drift:
        notes.append(f"ruamel.yaml could not reproduce this file's layout exactly ({drift} line(s) differ besides "
                     "the step); read the diff before committing")
    entries = data["spec"]["rotations"]
    entry = next(e for e in entries if e.get("name") == rotation.name)
    if step == "finish":
        notes += _finish(data, entry, rotation)
        entries.remove(entry)
        if len(entries) == 0:
            del data["spec"]["rotations"]
    else:
        entry["phase"] = _like(entry["phase"], step)
        entry["started"][step] = _date_like(entry["started"], data, day)
    dumped = _dump(yaml, data)
    return (dumped.replace("\n", "\r\n") if crlf else dumped), notes


def _like(old: Any, value: str) -> Any:
    """``value`` in the quoting style of ``old``."""
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

    if isinstance(old, DoubleQuotedScalarString):
        return DoubleQuotedScalarString(value)
    if isinstance(old, SingleQuotedScalarString):
        return SingleQuotedScalarString(value)
    return value


def _date_like(started: Any, data: Any, day: date) -> Any:
    """``day`` quoted as the file quotes its dates (so YAML 1.1 loaders still read a string), or plain."""
    rotations = (data.get("spec") or {}).get("rotations") or []
    for dates in (started, *((r.get("started") or {}) for r in rotations)):
        for value in dates.values():
            quoted = _like(value, day.isoformat())
            if type(quoted) is not str:  # a quoted scalar string
                return quoted
    return day


def _finish(data: Any, entry: Any, rotation: RotationState) -> list[str]:
    spec = data["spec"]
    clusters = [c for c in spec["clusters"] if c.get("name") in rotation.clusters]
    notes: list[str] = []
    if rotation.kind == "clientRoot":
        assert rotation.from_ is not None and rotation.to is not None
        for cluster in clusters:
            trusted = cluster["broker"]["authentication"]["x509"]["trustedClientRoots"]
            index = list(trusted).index(rotation.from_)
            if rotation.to in trusted:
                del trusted[index]
            else:
                trusted[index] = rotation.to
        notes += _drop_unused(spec, "clientRoots", rotation.from_, _client_root_references(spec, entry))
        return notes
    for cluster in clusters:
        pki = cluster["pki"]
        chain = pki["next"]
        pki["root"] = chain["root"]
        if "intermediate" in chain:
            pki["intermediate"] = chain["intermediate"]
        elif "intermediate" in pki:
            del pki["intermediate"]
        del pki["next"]
    if rotation.kind == "serverRoot" and rotation.from_ is not None:
        notes += _drop_unused(spec, "roots", rotation.from_, _root_references(spec, entry))
    return notes


def _root_references(spec: Any, finished: Any) -> set[str]:
    names: set[str] = set()
    for cluster in spec["clusters"]:
        pki = cluster["pki"]
        for ref in (pki.get("root"), (pki.get("next") or {}).get("root")):
            if isinstance(ref, str):
                names.add(ref)
    names |= _rotation_references(spec, finished)
    return names


def _client_root_references(spec: Any, finished: Any) -> set[str]:
    names: set[str] = set()
    for cluster in spec["clusters"]:
        x509 = ((cluster.get("broker") or {}).get("authentication") or {}).get("x509") or {}
        names.update(x509.get("trustedClientRoots") or [])
    return names | _rotation_references(spec, finished)


def _rotation_references(spec: Any, finished: Any) -> set[str]:
    return {value for r in spec.get("rotations") or [] if r is not finished
            for value in (r.get("from"), r.get("to")) if isinstance(value, str)}


def _drop_unused(spec: Any, section: str, name: str, references: set[str]) -> list[str]:
    definitions = spec.get(section)
    if not definitions or name not in definitions or name in references:
        return []
    certificate = (definitions[name].get("certificate") or {}).get("file")
    del definitions[name]
    if len(definitions) == 0:
        del spec[section]
    note = f"removed spec.{section}.{name}: nothing names it any more"
    if certificate:
        note += f" ({certificate} is no longer read; keep it or delete it)"
    return [note]
