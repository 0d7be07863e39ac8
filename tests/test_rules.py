"""Every rule the resolver enforces (docs/spec.md "Rules aiogen enforces"), each with its text."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from tests import specs
from tests.helpers import aiogen, make_ca_pem
from tests.specs import Spec, cluster, port


def check(tmp_path: Path, pki_dir: Path, base: Spec, mutate: Callable[[Spec], None]) -> tuple[list[str], list[str]]:
    path = specs.write_spec(tmp_path, pki_dir, base, mutate)
    run = aiogen("validate", path)
    assert "Traceback" not in run.err and "internal error" not in run.err
    lines = run.err.splitlines()
    errors = [line.split(" ", 1)[1] for line in lines if not line.startswith("warning:") and " valid: " not in line]
    warnings = [line.split(" ", 2)[2] for line in lines if line.startswith("warning:")]
    assert (run.code != 0) == bool(errors), run
    return errors, warnings


def fleet(tmp_path: Path, pki_dir: Path, mutate: Callable[[Spec], None]) -> tuple[list[str], list[str]]:
    return check(tmp_path, pki_dir, specs.intermediate_fleet(), mutate)


def lab(tmp_path: Path, pki_dir: Path, mutate: Callable[[Spec], None]) -> tuple[list[str], list[str]]:
    return check(tmp_path, pki_dir, specs.lab(), mutate)


def root_ca(spec: Spec) -> dict[str, object]:
    return cluster(spec)["pki"]["root"]["selfSigned"]  # type: ignore[no-any-return]


def test_base_specs_are_valid(tmp_path: Path, pki_dir: Path) -> None:
    assert fleet(tmp_path, pki_dir, lambda s: None) == ([], [])
    (tmp_path / "lab").mkdir()
    assert lab(tmp_path / "lab", pki_dir, lambda s: None) == ([], [])


# -- CA certificates (https://cert-manager.io/docs/usage/certificate/)


def test_ca_common_name_at_most_64(tmp_path: Path, pki_dir: Path) -> None:
    errors, _ = lab(tmp_path, pki_dir, lambda s: root_ca(s).update(commonName="x" * 65))
    assert errors == ["spec.clusters[0].pki.root.selfSigned.commonName: is 65 characters; cert-manager allows at most 64"]


def test_ca_common_name_not_empty(tmp_path: Path, pki_dir: Path) -> None:
    errors, _ = lab(tmp_path, pki_dir, lambda s: root_ca(s).update(commonName=" "))
    assert errors == ["spec.clusters[0].pki.root.selfSigned.commonName: a CA needs a non-empty commonName "
                      "(cert-manager requires a CN or SAN)"]


@pytest.mark.parametrize(
    ("duration", "renew", "message"),
    [
        ("30m", "10m", "duration: 30m is shorter than cert-manager's minimum of 1h"),
        ("720h", "1m", "renewBefore: 1m is shorter than cert-manager's minimum of 5m"),
        ("720h", "720h", "renewBefore: 720h (30d) must be shorter than duration 720h (30d) "
                         "(cert-manager rejects renewBefore >= duration)"),
    ],
)
def test_ca_lifetime_bounds(tmp_path: Path, pki_dir: Path, duration: str, renew: str, message: str) -> None:
    def mutate(s: Spec) -> None:
        root_ca(s).update(duration=duration, renewBefore=renew)
        cluster(s)["leaf"] = {"duration": "1h", "renewBefore": "5m"}

    errors, _ = lab(tmp_path, pki_dir, mutate)
    assert f"spec.clusters[0].pki.root.selfSigned.{message}" in errors


def test_root_rotation_policy_always_is_a_warning(tmp_path: Path, pki_dir: Path) -> None:
    errors, warnings = lab(tmp_path, pki_dir, lambda s: root_ca(s).update(privateKey={"rotationPolicy": "Always"}))
    assert errors == []
    assert warnings == ["spec.clusters[0].pki.root.selfSigned.privateKey.rotationPolicy: Always gives the root a new "
                        "key at every renewal; leaves signed by the old key stop verifying "
                        "(https://cert-manager.io/docs/usage/certificate/#configuring-private-key-rotation) (use Never and roll the root over with a rotation)"]


# -- lifetimes nest (https://cert-manager.io/docs/usage/certificate/#renewal)


def test_leaf_outliving_in_cluster_root(tmp_path: Path, pki_dir: Path) -> None:
    errors, _ = lab(tmp_path, pki_dir, lambda s: root_ca(s).update(renewBefore="100h"))
    assert errors == [
        "spec.clusters[0].pki: listener lab-mqtts:8883 certificates last 720h (30d) but CA 'lab-1-root' renews only "
        "100h before it expires: a leaf issued just before the renewal outlives its CA (cert-manager does not "
        "shorten it) (make the CA's renewBefore at least 720h (30d), or shorten the leaf duration)"
    ]


def test_intermediate_outliving_in_cluster_root(tmp_path: Path, pki_dir: Path) -> None:
    def mutate(s: Spec) -> None:
        pki = cluster(s)["pki"]
        pki["mode"] = "intermediate"
        pki["root"]["selfSigned"].update(duration="10y", renewBefore="1y")
        pki["intermediate"] = {"inCluster": {"commonName": "ica", "duration": "2y", "renewBefore": "60d"}}

    errors, _ = lab(tmp_path, pki_dir, mutate)
    assert errors == [
        "spec.clusters[0].pki: intermediate 'aio-ca-issuer-lab-1-root' lasts 17520h (730d) but root 'lab-1-root' "
        "renews only 8760h (365d) before it expires: an intermediate issued just before the renewal outlives the "
        "root (make the root's renewBefore at least the intermediate's duration)"
    ]


def test_leaf_longer_than_its_intermediate(tmp_path: Path, pki_dir: Path) -> None:
    def mutate(s: Spec) -> None:
        cluster(s)["leaf"] = {"duration": "2000d", "renewBefore": "30d"}

    errors, _ = fleet(tmp_path, pki_dir, mutate)
    assert errors == [
        "spec.clusters[0].pki: listener mqtts:8883 certificates last 48000h (2000d), longer than CA "
        "'CN=Test Intermediate A' itself (43200h (1800d)) (shorten the leaf duration)"
    ]


# -- key families


def test_x509_port_needs_one_key_family(tmp_path: Path, pki_dir: Path) -> None:
    def mutate(s: Spec) -> None:
        s["spec"]["roots"]["root-a"]["certificate"]["file"] = "pki/rsa-root.pem"
        del cluster(s)["pki"]["intermediate"]["certificate"]

    errors, _ = fleet(tmp_path, pki_dir, mutate)
    assert errors == [
        "spec.clusters[0].broker.listeners[0].ports[0].tls.privateKey: leaf key Ec256 (EC) and root root-a (Rsa2048) "
        "are different key families; AIO X.509 authentication needs one family per chain (use an RSA key algorithm)"
    ]


def test_mixed_families_without_x509_is_a_warning(tmp_path: Path, pki_dir: Path) -> None:
    def mutate(s: Spec) -> None:
        s["spec"]["roots"]["root-a"]["certificate"]["file"] = "pki/rsa-root.pem"
        del cluster(s)["pki"]["intermediate"]["certificate"]
        port(s)["authentication"] = "serviceAccountToken"
        del cluster(s)["broker"]["authentication"]

    errors, warnings = fleet(tmp_path, pki_dir, mutate)
    assert errors == []
    assert warnings == ["spec.clusters[0].broker.listeners[0].ports[0].tls.privateKey: leaf key Ec256 (EC) and root "
                        "root-a (Rsa2048) are different key families"]


# -- listeners (https://learn.microsoft.com/azure/iot-operations/manage-mqtt-broker/howto-configure-brokerlistener)


def second_listener(s: Spec, **fields: object) -> None:
    listener = {"name": "other", "serviceType": "NodePort",
                "ports": [{"port": 8884, "authentication": "serviceAccountToken", "tls": {"san": {"ip": ["10.0.0.2"]}}}]}
    listener.update(fields)
    cluster(s)["broker"]["listeners"].append(listener)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda s: second_listener(s, ports=[{"port": 8883, "authentication": "none"}]),
         "listeners[1].ports[0].port: port 8883 is already used by listener 'mqtts'"),
        (lambda s: port(s).update(port=18883),
         "listeners[0].ports[0].port: port 18883 is already used by the default listener "
         "(18883 belongs to AIO's default listener)"),
        (lambda s: second_listener(s, name="default"),
         "listeners[1].name: listener name 'default' is taken by AIO's default listener"),
        (lambda s: second_listener(s, serviceName="aio-broker"),
         "listeners[1].serviceName: Service 'aio-broker' is taken by AIO's default listener"),
        (lambda s: second_listener(s, serviceType="LoadBalancer"),
         "listeners[1].serviceType: LoadBalancer is already used by listener 'mqtts' "
         "(AIO allows one listener per service type; add ports to that listener)"),
        (lambda s: second_listener(s, serviceType="ClusterIp"),
         "listeners[1].serviceType: ClusterIp is already used by the default listener (in-cluster ports belong on "
         "the default listener, which AIO manages; use LoadBalancer or NodePort)"),
        (lambda s: port(s).update(nodePort=30001),
         "listeners[0].ports[0].nodePort: nodePort needs serviceType NodePort (this listener is LoadBalancer)"),
        (lambda s: port(s).update(tls=None),
         "listeners[0].ports[0].authentication: X.509 client authentication needs TLS on the port"),
        (lambda s: port(s).update(tls={"mode": "Manual"}),
         "listeners[0].ports[0].tls.secretRef: Manual TLS needs secretRef: a kubernetes.io/tls Secret in the AIO "
         "namespace holding leaf + intermediates"),
        (lambda s: cluster(s)["broker"]["listeners"][0].update(name="mq"),
         "listeners[0].name: 'mq' must be 3-63 characters of lowercase letters, digits and '-', starting and ending "
         "alphanumeric (AIO resource name rule)"),
    ],
)
def test_listener_rules(tmp_path: Path, pki_dir: Path, mutate: Callable[[Spec], None], message: str) -> None:
    errors, _ = fleet(tmp_path, pki_dir, mutate)
    assert f"spec.clusters[0].broker.{message}" in errors


def test_x509_port_needs_client_roots(tmp_path: Path, pki_dir: Path) -> None:
    errors, _ = fleet(tmp_path, pki_dir, lambda s: cluster(s)["broker"].pop("authentication"))
    assert errors == ["spec.clusters[0].broker.listeners[0].ports[0].authentication: x509 needs "
                      "broker.authentication.x509 (the client roots the broker trusts)"]


def test_unauthenticated_external_port_is_a_warning(tmp_path: Path, pki_dir: Path) -> None:
    def mutate(s: Spec) -> None:
        port(s)["authentication"] = "none"

    errors, warnings = fleet(tmp_path, pki_dir, mutate)
    assert errors == []
    assert "spec.clusters[0].broker.listeners[0].ports[0].authentication: none: anyone who can reach this port can " \
           "connect" in warnings


def _token_port_without(san: dict[str, object] | None) -> Callable[[Spec], None]:
    def mutate(s: Spec) -> None:
        port(s)["authentication"] = "serviceAccountToken"
        cluster(s)["broker"].pop("authentication")
        if san is None:
            port(s)["tls"].pop("san")
        else:
            port(s)["tls"].update(san=san)
    return mutate


def test_no_san_on_external_listener_is_a_warning(tmp_path: Path, pki_dir: Path) -> None:
    errors, warnings = fleet(tmp_path, pki_dir, _token_port_without(None))
    assert errors == []
    assert warnings == ["spec.clusters[0].broker.listeners[0].ports[0].tls.san: no SAN: external clients will fail "
                        "hostname verification (add the DNS name or IP address clients dial)"]


# -- trust distribution (https://cert-manager.io/docs/trust/trust-manager/)


def test_client_bundle_needs_a_selector(tmp_path: Path, pki_dir: Path) -> None:
    def mutate(s: Spec) -> None:
        s["spec"]["defaults"] = {"trust": {"clients": [{"name": "mqtt-trust", "namespaceSelector": {}}]}}

    errors, _ = fleet(tmp_path, pki_dir, mutate)
    assert errors == ["spec.defaults.trust.clients[0].namespaceSelector: an empty selector targets every namespace "
                      "(and a future trust-manager only its own) (give matchLabels or matchExpressions)"]


def test_in_cluster_root_must_live_in_the_trust_namespace(tmp_path: Path, pki_dir: Path) -> None:
    errors, _ = lab(tmp_path, pki_dir, lambda s: cluster(s)["pki"].update(issuer={"kind": "Issuer"}))
    assert errors == [
        "spec.clusters[0].pki: in-cluster root 'lab-1-root' would live in namespace 'azure-iot-operations', but "
        "trust-manager reads Bundle sources only from the trust namespace 'cert-manager' "
        "(https://cert-manager.io/docs/trust/trust-manager/#trust-namespace) (use a ClusterIssuer with clusterResource == trust namespace, or bring a root by its PEM)"
    ]


def test_client_ca_config_map_must_not_be_a_bundle_target(tmp_path: Path, pki_dir: Path) -> None:
    def mutate(s: Spec) -> None:
        cluster(s)["broker"]["authentication"]["x509"]["clientCaConfigMap"] = "aio-trust-bundle"

    errors, _ = fleet(tmp_path, pki_dir, mutate)
    assert errors == ["spec.clusters[0].broker.authentication.x509.clientCaConfigMap: 'aio-trust-bundle' is also a "
                      "trust Bundle's name; trust-manager would overwrite the client CAs in the AIO namespace"]


# -- input PEMs


def test_root_must_be_self_signed(tmp_path: Path, pki_dir: Path) -> None:
    errors, _ = fleet(tmp_path, pki_dir, lambda s: s["spec"]["roots"]["root-a"]["certificate"].update(file="pki/ica-a.pem"))
    assert errors == ["spec.roots.root-a.certificate.file: 'CN=Test Intermediate A' is not self-signed (issued by "
                      "'CN=Test Root A'); a root must be (list intermediates under a cluster's "
                      "pki.intermediate.certificate instead)"]


def test_intermediate_chain_excludes_the_root(tmp_path: Path, pki_dir: Path) -> None:
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "chain.pem").write_text((pki_dir / "ica-a.pem").read_text() + (pki_dir / "root-a.pem").read_text())

    def mutate(s: Spec) -> None:
        cluster(s)["pki"]["intermediate"]["certificate"]["file"] = "pki/chain.pem"

    for name in ("root-a.pem", "root-b.pem", "ica-a.pem", "devices.pem", "rsa-root.pem"):
        (tmp_path / "pki" / name).write_text((pki_dir / name).read_text())
    errors, _ = fleet(tmp_path, pki_dir, mutate)
    assert errors == ["spec.clusters[0].pki.intermediate.certificate.file: certificate 2 ('CN=Test Root A') is a "
                      "self-signed root; the intermediate chain must exclude the root "
                      "(https://cert-manager.io/docs/configuration/ca/) "
                      "(remove the root from the file)"]


def test_intermediate_chain_order(tmp_path: Path, pki_dir: Path) -> None:
    _, root_cert, root_key = make_ca_pem("Order Root")
    _, mid_cert, mid_key = make_ca_pem("Order Mid", issuer=(root_cert, root_key))
    low, _, _ = make_ca_pem("Order Low", issuer=(mid_cert, mid_key))
    from cryptography.hazmat.primitives.serialization import Encoding

    (tmp_path / "pki").mkdir()
    for name in ("root-b.pem", "ica-a.pem", "devices.pem", "rsa-root.pem"):
        (tmp_path / "pki" / name).write_text((pki_dir / name).read_text())
    (tmp_path / "pki" / "root-a.pem").write_bytes(root_cert.public_bytes(Encoding.PEM))  # type: ignore[attr-defined]
    (tmp_path / "pki" / "chain.pem").write_text(mid_cert.public_bytes(Encoding.PEM).decode() + low)  # type: ignore[attr-defined]

    def mutate(s: Spec) -> None:
        cluster(s)["pki"]["intermediate"]["certificate"]["file"] = "pki/chain.pem"

    errors, _ = fleet(tmp_path, pki_dir, mutate)
    assert errors == ["spec.clusters[0].pki.intermediate.certificate.file: certificate 1 ('CN=Order Mid') is not "
                      "signed by certificate 2 ('CN=Order Low') (order the chain child first, then its issuer)"]


def test_expired_root_is_an_error_unless_allowed(tmp_path: Path, pki_dir: Path) -> None:
    def mutate(s: Spec) -> None:
        del cluster(s)["pki"]["intermediate"]["certificate"]

    path = specs.write_spec(tmp_path, pki_dir, specs.intermediate_fleet(), mutate)
    run = aiogen("validate", path, "--now", "2036-01-01")
    assert run.code == 1
    assert "spec.roots.root-a.certificate.file: 'CN=Test Root A' expired on 2034-12-30 (replace it, or set " \
           "allowExpired: true if you know why)" in run.err


# -- names


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda s: cluster(s).update(name="Plant_A"),
         "spec.clusters[0].name: 'Plant_A' must be a DNS-1123 label: lowercase letters, digits and '-', starting and "
         "ending alphanumeric"),
        (lambda s: cluster(s).update(namespaces={"aio": "x" * 64}),
         f"spec.clusters[0].namespaces.aio: namespace '{'x' * 64}' is 64 characters; a DNS-1123 label has at most 63"),
        (lambda s: cluster(s)["pki"]["intermediate"]["keyVault"].update(secretName="Bad Name"),
         "spec.clusters[0].pki.intermediate.keyVault.secretName: Secret name 'Bad Name' must be a DNS-1123 subdomain: "
         "lowercase letters, digits, '-' and '.', each dot-separated part starting and ending alphanumeric "
         "(set keyVault.secretName)"),
    ],
)
def test_kubernetes_names(tmp_path: Path, pki_dir: Path, mutate: Callable[[Spec], None], message: str) -> None:
    errors, _ = fleet(tmp_path, pki_dir, mutate)
    assert message in errors


def test_duplicate_cluster_names(tmp_path: Path, pki_dir: Path) -> None:
    def mutate(s: Spec) -> None:
        s["spec"]["clusters"].append(dict(cluster(s)))

    errors, _ = fleet(tmp_path, pki_dir, mutate)
    assert errors == ["spec.clusters[1].name: cluster 'plant-a' is already defined at clusters[0]"]


def test_durations_accept_friendly_forms() -> None:
    from aiogen.model.durations import format_duration, parse_duration

    assert parse_duration("1y") == timedelta(days=365)
    assert format_duration(parse_duration("30d")) == "720h"
    assert format_duration(parse_duration("1h30m")) == "1h30m"


def test_only_in_cluster_sans_on_external_listener_is_a_warning(tmp_path: Path, pki_dir: Path) -> None:
    errors, warnings = fleet(tmp_path, pki_dir, _token_port_without({"inClusterNames": True}))
    assert errors == []
    assert warnings == ["spec.clusters[0].broker.listeners[0].ports[0].tls.san: only in-cluster SANs: external "
                        "clients will fail hostname verification (add the DNS name or IP address clients dial)"]


@pytest.mark.parametrize(("san", "what"), [(None, "no SAN"), ({"inClusterNames": True}, "only in-cluster SANs")])
def test_an_external_x509_port_needs_a_name_devices_dial(tmp_path: Path, pki_dir: Path,
                                                          san: dict[str, object] | None, what: str) -> None:
    """Devices are outside the cluster: validate fails where simulate finds no name to dial."""
    def mutate(s: Spec) -> None:
        if san is None:
            port(s)["tls"].pop("san")
        else:
            port(s)["tls"].update(san=san)

    errors, _ = fleet(tmp_path, pki_dir, mutate)
    assert errors == [f"spec.clusters[0].broker.listeners[0].ports[0].tls.san: {what}: devices on this X.509 port "
                      "have no name to dial that the certificate holds (add the DNS name or IP address devices dial "
                      "to san.dns or san.ip)"]
