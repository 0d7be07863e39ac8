"""Which certificates does the spec name? Every PEM file read and parsed before any rule runs.

The rules in this package are pure functions of the Topology and these inputs: no rule opens a
file. A problem reading a file (missing, outside the spec's directory, not PEM) is reported at
the spec field that names it; the field then has no certificates and the rules on it are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from aiogen.model.record import field, record
from aiogen.resolve.context import Context
from aiogen.yamlio.document import MAX_SHOWN, PathKey, shown

if TYPE_CHECKING:  # the Topology's classes, for annotations: resolve never builds one
    from aiogen.model import spec
    from aiogen.pki.pem import CertSummary

S: PathKey = ("spec",)


@record
class PemInputs:
    """The certificates of every PEM file the spec names, by the path of its ``file`` field."""

    by_field: dict[PathKey, tuple[CertSummary, ...]] = field(default_factory=dict)

    def certificates(self, path: PathKey) -> tuple[CertSummary, ...] | None:
        """The certificates of the file named at ``path`` (None: absent or unreadable, already reported)."""
        return self.by_field.get(path)


def pem_fields(topology: spec.Topology) -> Iterator[tuple[PathKey, str]]:
    """Every ``certificate.file`` of the spec, with its path, in the order the spec reads."""
    for name, root in topology.spec.roots.items():
        if root.certificate is not None:
            yield (*S, "roots", name, "certificate", "file"), root.certificate.file
    for name, client_root in topology.spec.client_roots.items():
        yield (*S, "clientRoots", name, "certificate", "file"), client_root.certificate.file
    for index, cluster in enumerate(topology.spec.clusters):
        chains: list[tuple[PathKey, spec.Pki | spec.Chain]] = [((*S, "clusters", index, "pki"), cluster.pki)]
        if cluster.pki.next is not None:
            chains.append(((*S, "clusters", index, "pki", "next"), cluster.pki.next))
        for path, chain in chains:
            if not isinstance(chain.root, str) and chain.root.certificate is not None:
                yield (*path, "root", "certificate", "file"), chain.root.certificate.file
            if chain.intermediate is not None and chain.intermediate.certificate is not None:
                yield (*path, "intermediate", "certificate", "file"), chain.intermediate.certificate.file


def read_inputs(topology: spec.Topology, ctx: Context) -> PemInputs:
    """Read and parse every PEM file the spec names; each file once, each problem at its field."""
    inputs = PemInputs()
    for path, relative in pem_fields(topology):
        certs = _read(ctx, path, relative, ctx.pem_cache)
        if certs is not None:
            inputs.by_field[path] = certs
    ctx.certificates_by_field.update(inputs.by_field)
    return inputs


def _read(
    ctx: Context, path: PathKey, relative: str, by_target: dict[str, tuple[CertSummary, ...] | None]
) -> tuple[CertSummary, ...] | None:
    from aiogen.pki import pem

    if not relative.strip():
        ctx.error(path, "the file name is empty", f"name a PEM file, relative to {ctx.paths_relative_to}")
        return None
    try:
        target = (ctx.base_dir / relative).resolve()
    except (OSError, ValueError):
        ctx.error(path, f"{shown(relative)} is not a usable file name")
        return None
    key = str(target)
    if key in by_target:
        return by_target[key]
    by_target[key] = None
    if not ctx.allow_outside_files and not target.is_relative_to(ctx.base_dir.resolve()):
        ctx.error(
            path,
            f"{shown(relative)} is outside the spec's directory",
            "move the file next to the spec, or pass --allow-outside-files",
        )
        return None
    try:
        source = relative if len(relative) <= MAX_SHOWN else shown(relative)
        data = pem.read_pem_file(target, source=source)
        certs = pem.summaries(data, source=source)
    except FileNotFoundError:
        ctx.error(path, f"{shown(relative)} does not exist (paths are relative to {ctx.paths_relative_to})")
        return None
    except pem.PemError as error:
        ctx.error(path, str(error))
        return None
    except OSError as error:
        ctx.error(path, f"cannot read {shown(relative)}: {error.strerror}")
        return None
    by_target[key] = certs
    return certs
