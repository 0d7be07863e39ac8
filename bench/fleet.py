"""Generated fleets for the benchmark: N clusters of one fixed, realistic shape.

Every cluster has:

* intermediate mode under a PEM root, the intermediate synced from Key Vault;
* three listener ports: a LoadBalancer listener with two ports (8883 MQTT, 8884 WebSockets) and a
  NodePort listener with one (8885, nodePort 30885). AIO allows one listener per service type and
  the default listener owns ClusterIp, so two listeners with three ports is the closest legal shape
  to "three listeners";
* X.509 client authentication on port 8883 for every other cluster (even indexes); the others
  use service account tokens;
* one fleet-wide serverRoot rotation in phase ``distribute``: every cluster carries ``pki.next``
  (the new root and a new Key Vault intermediate), so each renders both CA generations and trusts
  both roots.

Roots and the client root are EC P-256, self-signed, generated once per run (`write_pems`).
Standard library plus ``cryptography`` only (the venv has it: aiogen depends on it).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

ROOT_OLD = "bench-root-2025"
ROOT_NEW = "bench-root-2026"
CLIENT_ROOT = "bench-devices"
PEMS = {ROOT_OLD: "bench-root-2025.pem", ROOT_NEW: "bench-root-2026.pem", CLIENT_ROOT: "bench-devices.pem"}
SHAPE = ("intermediate mode, PEM roots (EC P-256), Key Vault intermediates; LoadBalancer listener with "
         "2 ports + NodePort listener with 1 port (3 listener ports); X.509 client auth on every other "
         "cluster; one serverRoot rotation (phase distribute) moving every cluster, pki.next on each")


def write_pems(directory: Path) -> None:
    """Self-signed EC P-256 CA certificates for the roots and the client root."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    for name, file in PEMS.items():
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "aiogen bench"),
                             x509.NameAttribute(NameOID.COMMON_NAME, name)])
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256())
        )
        from cryptography.hazmat.primitives.serialization import Encoding

        (directory / file).write_bytes(cert.public_bytes(Encoding.PEM))


def cluster_name(index: int) -> str:
    return f"plant-{index:05d}"


def _cluster(index: int) -> str:
    name = cluster_name(index)
    x509 = index % 2 == 0
    uid = f"6f1c2a9e-0000-4000-8000-{index:012d}"
    auth = (
        "        authentication:\n"
        "          x509:\n"
        f"            trustedClientRoots: [{CLIENT_ROOT}]\n"
        "            authorizationAttributes:\n"
        "              sensors:\n"
        '                subject: "CN = sensor"\n'
        "                attributes: {group: sensors}\n"
    ) if x509 else ""
    return (
        f"    - name: {name}\n"
        "      pki:\n"
        "        mode: intermediate\n"
        f"        root: {ROOT_OLD}\n"
        "        intermediate:\n"
        "          keyVault:\n"
        f"            vault: kv-{name}\n"
        f"            certificateSecret: {name}-ica-2025\n"
        f"            keySecret: {name}-ica-2025-key\n"
        f"            clientID: {uid}\n"
        "            tenantID: 72f988bf-0000-4000-8000-000000000000\n"
        "        next:\n"
        f"          root: {ROOT_NEW}\n"
        "          intermediate:\n"
        "            keyVault:\n"
        f"              vault: kv-{name}\n"
        f"              certificateSecret: {name}-ica-2026\n"
        f"              keySecret: {name}-ica-2026-key\n"
        f"              clientID: {uid}\n"
        "              tenantID: 72f988bf-0000-4000-8000-000000000000\n"
        "      broker:\n"
        "        listeners:\n"
        "          - name: plant-mqtts\n"
        "            serviceType: LoadBalancer\n"
        "            ports:\n"
        "              - port: 8883\n"
        f"                authentication: {'x509' if x509 else 'serviceAccountToken'}\n"
        "                tls:\n"
        f"                  san: {{dns: [mqtt.{name}.contoso.example], ip: [10.{index // 250 % 250}.{index % 250}.10], "
        "inClusterNames: true}\n"
        "              - port: 8884\n"
        "                protocol: WebSockets\n"
        "                authentication: serviceAccountToken\n"
        "                tls:\n"
        f"                  san: {{dns: [ws.{name}.contoso.example]}}\n"
        "          - name: plant-nodeport\n"
        "            serviceType: NodePort\n"
        "            ports:\n"
        "              - port: 8885\n"
        "                nodePort: 30885\n"
        "                authentication: serviceAccountToken\n"
        "                tls:\n"
        f"                  san: {{ip: [10.{index // 250 % 250}.{index % 250}.11]}}\n"
        + auth
    )


def spec_text(clusters: int, *, started: dt.date | None = None) -> str:
    """A Topology spec of ``clusters`` clusters (PEM paths relative to the spec's directory)."""
    if clusters < 1:
        raise ValueError("a fleet has at least one cluster")
    started = started or dt.date.today() - dt.timedelta(days=14)
    prepare, distribute = started, started + dt.timedelta(days=7)
    head = (
        "apiVersion: aiogen.io/v1alpha1\n"
        "kind: Topology\n"
        "metadata:\n"
        f"  name: bench-fleet-{clusters}\n"
        "spec:\n"
        "  defaults:\n"
        "    issuer: {kind: ClusterIssuer, name: contoso-aio-issuer}\n"
        "    trust:\n"
        "      aio: {name: contoso-aio-trust, key: ca.crt}\n"
        "      clients:\n"
        "        - name: contoso-mqtt-trust\n"
        "          namespaceSelector:\n"
        '            matchLabels: {contoso.io/mqtt-client: "true"}\n'
        "  roots:\n"
        f"    {ROOT_OLD}:\n"
        f"      certificate: {{file: {PEMS[ROOT_OLD]}}}\n"
        f"    {ROOT_NEW}:\n"
        f"      certificate: {{file: {PEMS[ROOT_NEW]}}}\n"
        "  clientRoots:\n"
        f"    {CLIENT_ROOT}:\n"
        f"      certificate: {{file: {PEMS[CLIENT_ROOT]}}}\n"
        "      maxLeafLifetime: 1y\n"
        "  rotations:\n"
        "    - name: root-2026\n"
        "      kind: serverRoot\n"
        f"      from: {ROOT_OLD}\n"
        f"      to: {ROOT_NEW}\n"
        "      phase: distribute\n"
        f"      started: {{prepare: {prepare.isoformat()}, distribute: {distribute.isoformat()}}}\n"
        "  clusters:\n"
    )
    return head + "".join(_cluster(i) for i in range(clusters))


def write_fleet(directory: Path, clusters: int) -> Path:
    """Write ``fleet-<N>.yaml`` next to the PEMs (which `write_pems` must have put in ``directory``)."""
    path = directory / f"fleet-{clusters}.yaml"
    path.write_text(spec_text(clusters), encoding="utf-8")
    return path


if __name__ == "__main__":
    import sys

    if len(sys.argv) < 2:
        print("usage: python bench/fleet.py DIR [CLUSTERS...]   (writes the PEMs and fleet-<N>.yaml into DIR)",
              file=sys.stderr)
        sys.exit(2)
    out = Path(sys.argv[1])
    write_pems(out)
    for count in sys.argv[2:]:
        print(write_fleet(out, int(count)))
