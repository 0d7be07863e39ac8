"""The conformance harness itself: reference manifests pass, known-bad manifests fail for the right reason."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.conformance import (
    cel_rules_not_evaluated,
    known_kinds,
    schema_for,
    upstream_dir,
    validate_resource,
)

FIXTURES = Path(__file__).parent / "fixtures" / "conformance"
SDK_DEV = upstream_dir() / "aio" / "sdk-dev-manifests"
EDGE_AI = upstream_dir() / "peer-manifests" / "edge-ai-trust"

# Plausible values for the ${VARS} Edge AI's apply-trust.sh fills in with envsubst.
EDGE_AI_VARS = {
    "TF_AIO_CONFIGMAP_NAME": "azure-iot-operations-aio-ca-trust-bundle",
    "TF_AIO_CONFIGMAP_KEY": "ca.crt",
    "TF_AIO_ISSUER_KIND": "ClusterIssuer",
    "TF_AIO_ISSUER_NAME": "azure-iot-operations-aio-certificate-issuer",
    "TF_SSE_USER_ASSIGNED_CLIENT_ID": "00000000-0000-0000-0000-000000000001",
    "TF_KEY_VAULT_NAME": "kv-aiogen-test",
    "TF_AZURE_TENANT_ID": "00000000-0000-0000-0000-000000000002",
}


def load_all(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def envsubst(text: str, values: dict[str, str]) -> str:
    out = re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], text)
    assert "${" not in out
    return out


def edge_ai_documents(**overrides: str) -> list[dict[str, Any]]:
    values = {**EDGE_AI_VARS, **overrides}
    return [
        doc for path in sorted(EDGE_AI.glob("*.yaml")) for doc in load_all(envsubst(path.read_text(), values))
    ]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (doc,) = [d for d in docs if d["kind"] == kind]
    return copy.deepcopy(doc)


def cert_man() -> list[dict[str, Any]]:
    return load_all((SDK_DEV / "cert-man.yaml").read_text())


def aio_example(name: str) -> list[dict[str, Any]]:
    return load_all((FIXTURES / name).read_text())


# --- reference manifests that must pass ------------------------------------------------------


def test_sdk_dev_pki_manifests_conform() -> None:
    docs = cert_man()
    assert [d["kind"] for d in docs] == ["ClusterIssuer", "ClusterIssuer", "Certificate", "Bundle"]
    for doc in docs:
        assert validate_resource(doc) == []


def test_edge_ai_trust_manifests_conform_after_envsubst() -> None:
    docs = edge_ai_documents()
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == ["Bundle", "ClusterIssuer", "SecretProviderClass", "SecretSync", "ServiceAccount"]
    for doc in docs:
        assert validate_resource(doc) == []


def test_edge_ai_issuer_as_namespaced_issuer_lacks_a_namespace() -> None:
    # customer-issuer.yaml has no metadata.namespace: with TF_AIO_ISSUER_KIND=Issuer it lands
    # in whatever namespace kubectl's context has. The harness insists on an explicit one.
    issuer = by_kind(edge_ai_documents(TF_AIO_ISSUER_KIND="Issuer"), "Issuer")
    assert validate_resource(issuer) == [
        "Issuer azure-iot-operations-aio-certificate-issuer: $.metadata: 'namespace' is a required property"
    ]


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.glob("aio-md-*.yaml")))
def test_aio_reference_examples_conform(fixture: str) -> None:
    for doc in aio_example(fixture):
        assert validate_resource(doc) == []


def test_aio_fixtures_name_their_source() -> None:
    """Each AIO example fixture says which upstream page or file it follows."""
    for fixture in sorted(FIXTURES.glob("aio-md-*.yaml")):
        header = fixture.read_text().split("\napiVersion:", 1)[0]
        assert "https://" in header, fixture.name


def test_sdk_dev_broker_manifests_fail_only_on_lower_case_enums() -> None:
    # Microsoft's SDK dev manifests spell enums clusterIp/loadBalancer/automatic/serviceAccountToken;
    # the derived schema has ARM's PascalCase only (tests/upstream/SOURCES.md).
    docs = load_all((SDK_DEV / "broker-listeners.yaml").read_text())
    errors = [e for doc in docs for e in validate_resource(doc)]
    assert errors == [
        "BrokerAuthentication azure-iot-operations/default: $.spec.authenticationMethods[0].method: "
        "'serviceAccountToken' is not one of ['Custom', 'ServiceAccountToken', 'X509']",
        "BrokerListener azure-iot-operations/default: $.spec.ports[0].tls.mode: "
        "'automatic' is not one of ['Automatic', 'Manual']",
        "BrokerListener azure-iot-operations/default: $.spec.serviceType: "
        "'clusterIp' is not one of ['ClusterIp', 'LoadBalancer', 'NodePort']",
        "BrokerListener azure-iot-operations/default-external: $.spec.ports[1].tls.mode: "
        "'automatic' is not one of ['Automatic', 'Manual']",
        "BrokerListener azure-iot-operations/default-external: $.spec.ports[2].tls.mode: "
        "'automatic' is not one of ['Automatic', 'Manual']",
        "BrokerListener azure-iot-operations/default-external: $.spec.serviceType: "
        "'loadBalancer' is not one of ['ClusterIp', 'LoadBalancer', 'NodePort']",
    ]
    pascal = {"clusterIp": "ClusterIp", "loadBalancer": "LoadBalancer", "automatic": "Automatic"}
    fixed = (SDK_DEV / "broker-listeners.yaml").read_text()
    for lower, upper in [*pascal.items(), ("serviceAccountToken", "ServiceAccountToken")]:
        fixed = re.sub(rf"(: ){lower}\b", rf"\g<1>{upper}", fixed)
    assert [e for doc in load_all(fixed) for e in validate_resource(doc)] == []


# --- negative cases --------------------------------------------------------------------------


def root_certificate() -> dict[str, Any]:
    return by_kind(cert_man(), "Certificate")


def trust_bundle() -> dict[str, Any]:
    return by_kind(cert_man(), "Bundle")


def external_listener() -> dict[str, Any]:
    return aio_example("aio-md-7.1-automatic-tls.yaml")[0]


def test_unknown_field_in_certificate_spec() -> None:
    cert = root_certificate()
    cert["spec"]["renewBeforePercent"] = 30  # the real field is renewBeforePercentage
    assert validate_resource(cert) == [
        "Certificate cert-manager/azure-iot-operations-aio-selfsigned-root: $.spec: unknown field "
        "'renewBeforePercent' (the API server would drop it; "
        "schema: cert-manager/cert-manager.io_certificates.yaml)"
    ]


def test_unknown_field_deep_in_certificate() -> None:
    cert = root_certificate()
    cert["spec"]["privateKey"]["rotation"] = "Never"
    (error,) = validate_resource(cert)
    assert "$.spec.privateKey: unknown field 'rotation'" in error


def test_certificate_missing_secret_name() -> None:
    cert = root_certificate()
    del cert["spec"]["secretName"]
    assert validate_resource(cert) == [
        "Certificate cert-manager/azure-iot-operations-aio-selfsigned-root: $.spec: "
        "'secretName' is a required property"
    ]


def test_certificate_enum_and_type_errors() -> None:
    cert = root_certificate()
    cert["spec"]["privateKey"]["algorithm"] = "Ec256"  # AIO's spelling, not cert-manager's
    cert["spec"]["privateKey"]["size"] = "2048"
    errors = validate_resource(cert)
    assert len(errors) == 2
    assert "$.spec.privateKey.algorithm: 'Ec256' is not one of ['RSA', 'ECDSA', 'Ed25519'" in errors[0]
    assert "$.spec.privateKey.size: '2048' is not of type 'integer'" in errors[1]


def test_bundle_source_with_two_kinds() -> None:
    bundle = trust_bundle()
    bundle["spec"]["sources"][0]["configMap"] = {"name": "pinned-roots", "key": "roots.pem"}
    assert validate_resource(bundle) == [
        "Bundle azure-iot-operations-aio-ca-trust-bundle: $.spec.sources[0]: "
        "exactly one of the fields in [configMap secret inLine useDefaultCAs] must be set"
    ]


def test_bundle_secret_source_with_name_and_selector() -> None:
    bundle = trust_bundle()
    bundle["spec"]["sources"][0]["secret"]["selector"] = {"matchLabels": {"a": "b"}}
    assert validate_resource(bundle) == [
        "Bundle azure-iot-operations-aio-ca-trust-bundle: $.spec.sources[0].secret: "
        "exactly one of the fields in [name selector] must be set"
    ]


def test_bundle_use_default_cas_false_still_counts_as_a_source_kind() -> None:
    # CEL has() is true for `useDefaultCAs: false`, so it cannot share an item with a secret.
    bundle = trust_bundle()
    bundle["spec"]["sources"][0]["useDefaultCAs"] = False
    assert len(validate_resource(bundle)) == 1


def test_bundle_target_needs_configmap_or_secret() -> None:
    bundle = trust_bundle()
    del bundle["spec"]["target"]["configMap"]
    assert validate_resource(bundle) == [
        "Bundle azure-iot-operations-aio-ca-trust-bundle: $.spec.target: "
        "at least one of the fields in [configMap secret] must be set"
    ]


def test_bundle_with_namespace() -> None:
    bundle = trust_bundle()
    bundle["metadata"]["namespace"] = "cert-manager"
    assert validate_resource(bundle) == [
        "Bundle cert-manager/azure-iot-operations-aio-ca-trust-bundle: $.metadata: "
        "metadata.namespace must not be set: Bundle is cluster-scoped"
    ]


def test_cluster_issuer_with_namespace() -> None:
    issuer = cert_man()[0]
    issuer["metadata"]["namespace"] = "cert-manager"
    assert validate_resource(issuer) == [
        "ClusterIssuer cert-manager/azure-iot-operations-aio-selfsigned-root: $.metadata: "
        "metadata.namespace must not be set: ClusterIssuer is cluster-scoped"
    ]


def test_broker_listener_kubernetes_casing_of_service_type() -> None:
    listener = external_listener()
    listener["spec"]["serviceType"] = "clusterIP"  # Kubernetes' spelling; AIO's is ClusterIp
    assert validate_resource(listener) == [
        "BrokerListener azure-iot-operations/external-mqtts: $.spec.serviceType: "
        "'clusterIP' is not one of ['ClusterIp', 'LoadBalancer', 'NodePort']"
    ]


def test_broker_listener_v1beta1_private_key_shape() -> None:
    listener = external_listener()
    tls_spec = listener["spec"]["ports"][0]["tls"]["certManagerCertificateSpec"]
    tls_spec["privateKey"] = {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"}
    errors = validate_resource(listener)
    prefix = (
        "BrokerListener azure-iot-operations/external-mqtts: "
        "$.spec.ports[0].tls.certManagerCertificateSpec.privateKey"
    )
    assert errors[0].startswith(f"{prefix}: unknown field 'size'")
    assert errors[1] == f"{prefix}.algorithm: 'ECDSA' is not one of {schema_enum('PrivateKeyAlgorithm')}"


def schema_enum(name: str) -> list[str]:
    schema = schema_for("mqttbroker.iotoperations.azure.com/v1", "BrokerListener")
    enum: list[str] = schema["$defs"][name]["enum"]
    return enum


def test_broker_listener_port_out_of_range() -> None:
    listener = external_listener()
    listener["spec"]["ports"][1]["port"] = 70000
    assert validate_resource(listener) == [
        "BrokerListener azure-iot-operations/external-mqtts: $.spec.ports[1].port: 70000 is outside 0-65535"
    ]


def test_broker_listener_without_namespace() -> None:
    listener = external_listener()
    del listener["metadata"]["namespace"]
    assert validate_resource(listener) == [
        "BrokerListener external-mqtts: $.metadata: 'namespace' is a required property"
    ]


def test_configmap_with_non_string_value() -> None:
    (configmap, _auth) = aio_example("aio-md-7.3-x509-auth.yaml")[:2]
    configmap["data"]["replicas"] = 3
    assert validate_resource(configmap) == [
        "ConfigMap azure-iot-operations/client-ca: $.data.replicas: 3 is not of type 'string', 'null'"
    ]


def test_configmap_key_and_name_rules() -> None:
    (configmap,) = aio_example("aio-md-7.3-x509-auth.yaml")[:1]
    configmap["metadata"]["name"] = "Client_CA"
    configmap["data"]["client ca.pem"] = "x"
    assert validate_resource(configmap) == [
        "ConfigMap azure-iot-operations/Client_CA: $.data: "
        "key 'client ca.pem': only alphanumerics, '-', '_' and '.' allowed",
        "ConfigMap azure-iot-operations/Client_CA: $.metadata.name: 'Client_CA' is not a DNS-1123 subdomain "
        "(lower-case alphanumerics, '-' and '.', at most 253)",
    ]


def test_core_kind_unknown_field_and_status() -> None:
    sa = by_kind(edge_ai_documents(), "ServiceAccount")
    sa["automountToken"] = False  # the real field is automountServiceAccountToken
    sa["status"] = {}
    (error,) = validate_resource(sa)
    assert error.startswith(
        "ServiceAccount cert-manager/sa-federated-cred-sse: $: unknown field 'automountToken', 'status'"
    )


def test_secret_data_must_be_base64() -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "cert-manager"},
        "data": {"ca.crt": "-----BEGIN CERTIFICATE-----"},
    }
    assert validate_resource(secret) == [
        "Secret cert-manager/s: $.data[\"ca.crt\"]: '-----BEGIN CERTIFICATE-----' is not valid base64 data"
    ]


def test_secret_sync_duplicate_target_key_and_reserved_label() -> None:
    sync = by_kind(edge_ai_documents(), "SecretSync")
    sync["spec"]["secretObject"]["data"][1]["targetKey"] = "tls.key"
    sync["spec"]["secretObject"]["labels"] = {"secrets-store.sync.x-k8s.io/owner": "me"}
    assert validate_resource(sync) == [
        "SecretSync cert-manager/secret-sync-custom-ca-cert: $.spec.secretObject.data[1]: "
        "duplicate entry targetKey='tls.key' (also at index 0)",
        "SecretSync cert-manager/secret-sync-custom-ca-cert: $.spec.secretObject.labels: "
        "Labels should not contain secrets-store.sync.x-k8s.io. This key is reserved for the controller.",
    ]


def test_missing_name_and_unknown_kind() -> None:
    cert = root_certificate()
    del cert["metadata"]["name"]
    assert validate_resource(cert) == [
        "Certificate cert-manager/<no name>: $.metadata: 'name' is a required property"
    ]
    assert validate_resource({"apiVersion": "cert-manager.io/v1alpha2", "kind": "Certificate"}) == [
        "Certificate <no name>: $: no schema for apiVersion 'cert-manager.io/v1alpha2' kind 'Certificate'"
    ]


# --- the schemas themselves ------------------------------------------------------------------


def test_schema_for_unknown_kind_raises_key_error() -> None:
    with pytest.raises(KeyError):
        schema_for("mqttbroker.iotoperations.azure.com/v1", "BrokerAuthorization")
    with pytest.raises(KeyError):
        schema_for("v1", "Pod")


def test_every_schema_is_self_contained_json_schema() -> None:
    """schema_for() output works with a plain jsonschema validator, no registry needed."""
    samples = {
        ("cert-manager.io/v1", "Certificate"): root_certificate(),
        ("v1", "ConfigMap"): aio_example("aio-md-7.3-x509-auth.yaml")[0],
        ("mqttbroker.iotoperations.azure.com/v1", "BrokerListener"): external_listener(),
    }
    for api_version, kind in known_kinds():
        schema = schema_for(api_version, kind)
        jsonschema.Draft202012Validator.check_schema(schema)
        sample = samples.get((api_version, kind))
        if sample is not None:
            jsonschema.Draft202012Validator(schema).validate(sample)


def test_schema_for_returns_a_copy() -> None:
    schema_for("cert-manager.io/v1", "Certificate")["properties"].clear()
    assert validate_resource(root_certificate()) == []


def test_structural_conversion_details() -> None:
    cert = schema_for("cert-manager.io/v1", "Certificate")
    spec = cert["properties"]["spec"]
    assert spec["additionalProperties"] is False
    assert {"issuerRef", "secretName"} <= set(spec["required"])
    assert "status" not in cert["properties"]
    issuer = schema_for("cert-manager.io/v1", "ClusterIssuer")
    solver = issuer["properties"]["spec"]["properties"]["acme"]["properties"]["solvers"]["items"]
    webhook_config = solver["properties"]["dns01"]["properties"]["webhook"]["properties"]["config"]
    assert webhook_config == {}  # x-kubernetes-preserve-unknown-fields: anything goes
    ingress = solver["properties"]["http01"]["properties"]["ingress"]
    pod_spec = ingress["properties"]["podTemplate"]["properties"]["spec"]
    limits = pod_spec["properties"]["resources"]["properties"]["limits"]["additionalProperties"]
    assert limits["type"] == ["integer", "string"]  # x-kubernetes-int-or-string
    assert "anyOf" not in limits


def test_every_cel_rule_in_the_crds_is_evaluated() -> None:
    # If a newer CRD copy adds a rule, add a check to conformance._CEL_CHECKS or list it here.
    assert cel_rules_not_evaluated() == []


def test_venafi_exactly_one_rule() -> None:
    issuer = cert_man()[1]
    issuer["spec"] = {
        "venafi": {
            "zone": "z",
            "tpp": {"url": "https://tpp", "credentialsRef": {"name": "c"}},
            "cloud": {"apiTokenSecretRef": {"name": "t"}},
        }
    }
    assert validate_resource(issuer) == [
        "ClusterIssuer azure-iot-operations-aio-certificate-issuer: $.spec.venafi: "
        "exactly one of tpp, cloud, or ngts must be configured"
    ]
