"""Why did a check fail? Said in the domain's words (the raw errors stay in ``--json``)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from cryptography import x509

from aiogen.model.dialing import name_matches
from aiogen.simulate.material import ThrowawayPki, fingerprint

if TYPE_CHECKING:
    from aiogen.simulate.planning import Job
    from aiogen.simulate.running import Group
    from aiogen.simulate.verdicts import Verdict


def diagnose(job: Job, verdict: Verdict, group: Group, pki: ThrowawayPki, at: datetime) -> str:
    """Say in the domain's words why a check failed (the raw errors stay in --json)."""
    pop, server = job.client.population, job.server
    leaf = group.chain[0]
    hostname = pop.hostname or ""
    if verdict.path is not None:
        names = _san_names(leaf)
        if not name_matches(hostname, names):
            listed = ", ".join(names) or "no names"
            return f"the certificate names {listed}, not {hostname} (the name {pop.kind} clients dial)"
        trusted = [r.name for r in job.client.roots]
        chain_root = server.signer.root.name
        if chain_root not in trusted:
            return (f"the server's chain ends at root {chain_root}, which these clients do not trust "
                    f"(they trust {', '.join(trusted) or 'nothing'})")
        for cert in group.chain:
            label = pki.names.get(fingerprint(cert), cert.subject.rfc4514_string())
            if cert.not_valid_after_utc <= at:
                return f"{label} expired on {cert.not_valid_after_utc.date().isoformat()}"
        return f"path validation failed: {verdict.path}"
    if server.require_client_cert and pop.device_root is None:
        return "the port requires a client certificate (X.509 authentication) and these clients have none"
    if verdict.client_path is not None and pop.device_root is not None:
        held = [r.name for r in server.client_roots or ()]
        auth = server.cluster.client_auth
        config_map = auth.config_map if auth else "client-ca"
        if pop.device_root.name not in held:
            return (f"the device certificate chains to client root {pop.device_root.name}, which is missing from the "
                    f"broker's client-CA ConfigMap {config_map} (it holds {', '.join(held) or 'nothing'})")
        return f"client certificate path validation failed: {verdict.client_path}"
    outcome = verdict.outcome
    sides = [f"client: {outcome.client_error}" if outcome.client_error else "",
             f"server: {outcome.server_error}" if outcome.server_error else ""]
    return "handshake failed (" + "; ".join(s for s in sides if s) + ")"


def _san_names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [*san.get_values_for_type(x509.DNSName), *(str(ip) for ip in san.get_values_for_type(x509.IPAddress))]


