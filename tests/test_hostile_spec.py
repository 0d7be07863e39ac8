"""Hostile spec values (issue 13, items 7-9): bounded echo, invalid values stopped before they
reach a manifest, every problem located where the value was written, once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import aiogen

HEAD = "apiVersion: aiogen.io/v1alpha1\nkind: Topology\nmetadata: {name: t}\nspec:\n"
LAB = "      pki: {mode: single-root, root: {selfSigned: {commonName: r}}}\n"
GUID = "00000000-0000-4000-8000-000000000001"


def run_validate(tmp_path: Path, text: str) -> tuple[int, list[str], str]:
    path = tmp_path / "fleet.yaml"
    path.write_text(text)
    run = aiogen("validate", path)
    assert "Traceback" not in run.err and "internal error" not in run.err
    errors = [line.removeprefix(f"{path}:") for line in run.err.splitlines() if not line.startswith("warning:")]
    return run.code, errors, run.err


def errors_of(tmp_path: Path, text: str) -> list[str]:
    code, errors, err = run_validate(tmp_path, text)
    assert code == 1, err
    return errors


def lab(extra: str = "", port: str = "", name: str = "lab-1") -> str:
    return (
        HEAD + extra + "  clusters:\n" + f"    - name: {name}\n" + LAB
        + "      broker:\n        listeners:\n          - name: lab-mqtts\n            serviceType: LoadBalancer\n"
        + "            ports:\n              - port: 8883\n                authentication: serviceAccountToken\n"
        + f"                tls: {{san: {{dns: [mqtt.example]{port}}}}}\n"
    )


# -- 7: echo is bounded


def test_undefined_root_among_many_lists_a_bounded_few(tmp_path: Path) -> None:
    roots = "".join(f"    root-{i:04d}: {{selfSigned: {{commonName: r{i}}}}}\n" for i in range(1000))
    clusters = "".join(f"    - name: plant-{i:04d}\n      pki: {{mode: single-root, root: nowhere}}\n" for i in range(1000))
    code, errors, err = run_validate(tmp_path, HEAD + "  roots:\n" + roots + "  clusters:\n" + clusters)
    assert code == 1
    assert errors[0] == (
        "1008:38 spec.clusters[0].pki.root: root 'nowhere' is not defined in spec.roots (defined: root-0000, "
        "root-0001, root-0002, root-0003, root-0004, root-0005, root-0006, root-0007, root-0008, root-0009 "
        "and 990 more)"
    )
    assert len(errors) == 1000
    assert max(len(line) for line in err.splitlines()) < 500
    assert len(err) < 500_000  # was 62 MB: every line listed all 1,000 roots


def test_a_megabyte_value_is_quoted_bounded(tmp_path: Path) -> None:
    big = "a" * 1_000_000
    errors = errors_of(tmp_path, lab(port=f", ip: [{big}]"))
    assert errors == [
        "15:55 spec.clusters[0].broker.listeners[0].ports[0].tls.san.ip[0]: "
        f"'{'a' * 63}… (1000002 chars) is not an IPv4 or IPv6 address"
    ]


def test_a_megabyte_duration_is_quoted_bounded(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, lab(extra=f"  defaults: {{leaf: {{duration: {'9' * 1_000_000}x}}}}\n"))
    assert errors == [
        f"5:31 spec.defaults.leaf.duration: '{'9' * 63}… (1000003 chars) is not a duration; use Go form like "
        "720h or 1h30m, or 30d / 1y"
    ]


def test_a_bad_default_namespace_is_reported_once_at_the_default(tmp_path: Path) -> None:
    clusters = "".join(f"    - name: plant-{i}\n" + LAB for i in range(5))
    errors = errors_of(tmp_path, HEAD + "  defaults: {namespaces: {aio: Bad_NS}}\n  clusters:\n" + clusters)
    assert errors == [
        "5:32 spec.defaults.namespaces.aio: namespace 'Bad_NS' must be a DNS-1123 label: lowercase letters, "
        "digits and '-', starting and ending alphanumeric"
    ]


# -- 8: invalid values never reach a manifest


@pytest.mark.parametrize(
    ("ip", "message"),
    [
        ("'fe80::1%eth0'", "'fe80::1%eth0' has an IPv6 zone (%...); a certificate holds the address only"),
        ("'١٢٧.0.0.1'", "'١٢٧.0.0.1' is not an IPv4 or IPv6 address"),
    ],
)
def test_ip_san_with_a_zone_or_foreign_digits(tmp_path: Path, ip: str, message: str) -> None:
    assert errors_of(tmp_path, lab(port=f", ip: [{ip}]")) == [
        f"15:55 spec.clusters[0].broker.listeners[0].ports[0].tls.san.ip[0]: {message}"
    ]


def bundle(selector: str) -> str:
    return lab(extra=f"  defaults:\n    trust:\n      clients:\n        - name: mqtt\n          namespaceSelector: {selector}\n")


def test_label_key_and_values_follow_kubernetes_rules(tmp_path: Path) -> None:
    selector = "{matchLabels: {'bad key!': v, team: 'a b'}, matchExpressions: [{key: 'Bad_/x', operator: In, values: ['-x']}]}"
    path = "spec.defaults.trust.clients[0].namespaceSelector"
    assert errors_of(tmp_path, bundle(selector)) == [
        f"9:57 {path}.matchLabels['bad key!']: 'bad key!' must be a label key: at most 63 letters, digits, '-', "
        "'_' and '.', starting and ending alphanumeric (optionally after a DNS subdomain prefix and '/')",
        f"9:66 {path}.matchLabels.team: 'a b' must be a label value: at most 63 letters, digits, '-', '_' and '.', "
        "starting and ending alphanumeric",
        f"9:99 {path}.matchExpressions[0].key: 'Bad_/x' must be a label key: its prefix before '/' must be a DNS-1123 "
        "subdomain",
        f"9:132 {path}.matchExpressions[0].values[0]: '-x' must be a label value: at most 63 letters, digits, '-', "
        "'_' and '.', starting and ending alphanumeric",
    ]


def key_vault_lab(vault: str = "kv-lab", client: str = GUID, tenant: str = GUID) -> str:
    return (
        HEAD + "  roots:\n    r1: {certificate: {file: root.pem}}\n  clusters:\n    - name: lab-1\n"
        + "      pki:\n        mode: intermediate\n        root: r1\n        intermediate:\n          keyVault:\n"
        + f"            vault: {vault}\n            certificateSecret: ica\n            keySecret: ica-key\n"
        + f"            clientID: {client}\n            tenantID: {tenant}\n"
    )


@pytest.mark.parametrize(
    ("vault", "client", "tenant", "message"),
    [
        ("kv-lab", "c1", GUID, "17:23 {p}.clientID: 'c1' is not a GUID (like 00000000-0000-0000-0000-000000000000)"),
        ("kv-lab", GUID, "tenant", "18:23 {p}.tenantID: 'tenant' is not a GUID (like 00000000-0000-0000-0000-000000000000)"),
    ]
    + [
        ("'" + vault + "'", GUID, GUID, "14:20 {p}.vault: '" + vault + "' is not a Key Vault name: 3-24 letters, digits "
         "and '-', starting with a letter, ending with a letter or digit, no consecutive '-'")
        for vault in ("kv", "k" * 25, "1kv", "kv-", "kv--lab", "kv_lab")
    ],
)
def test_azure_names_azure_accepts(tmp_path: Path, vault: str, client: str, tenant: str, message: str) -> None:
    from tests.helpers import make_ca_pem

    (tmp_path / "root.pem").write_text(make_ca_pem("Root")[0])
    errors = errors_of(tmp_path, key_vault_lab(vault, client, tenant))
    assert errors == [message.format(p="spec.clusters[0].pki.intermediate.keyVault")]


@pytest.mark.parametrize("duration", ["٧٢٠h", "７２０h"])
def test_durations_take_ascii_digits_only(tmp_path: Path, duration: str) -> None:
    assert errors_of(tmp_path, lab(extra=f"  defaults: {{leaf: {{duration: {duration}}}}}\n")) == [
        f"5:31 spec.defaults.leaf.duration: '{duration}' has non-ASCII digits; write durations with 0-9, like 720h"
    ]


@pytest.mark.parametrize(("cn", "shown"), [('"r\\0x"', "'r\\x00x'"), ('"a\\nb"', "'a\\nb'"), ('"a\\tb"', "'a\\tb'")])
def test_common_name_without_control_characters(tmp_path: Path, cn: str, shown: str) -> None:
    text = HEAD + "  clusters:\n    - name: lab-1\n" + f"      pki: {{mode: single-root, root: {{selfSigned: {{commonName: {cn}}}}}}}\n"
    assert errors_of(tmp_path, text) == [
        "7:64 spec.clusters[0].pki.root.selfSigned.commonName: must not hold control characters (a newline, NUL, "
        "tab, ...)"
    ]


@pytest.mark.parametrize("name", ["a", "ab"])
def test_cluster_names_have_at_least_three_characters(tmp_path: Path, name: str) -> None:
    assert errors_of(tmp_path, lab(name=name)) == [
        f"6:13 spec.clusters[0].name: '{name}' is shorter than 3 characters (docs/spec.md)"
    ]


# -- 9: located where the value was written, once


def test_a_too_short_default_leaf_is_reported_once_at_the_default(tmp_path: Path) -> None:
    ports = "".join(
        f"              - port: {8883 + i}\n                authentication: serviceAccountToken\n"
        "                tls: {san: {dns: [mqtt.example]}}\n"
        for i in range(3)
    )
    text = (
        HEAD + "  defaults: {leaf: {duration: 1s}}\n  clusters:\n    - name: lab-1\n" + LAB
        + "      broker:\n        listeners:\n          - name: lab-mqtts\n            serviceType: LoadBalancer\n"
        + "            ports:\n" + ports
    )
    assert errors_of(tmp_path, text) == [
        "5:31 spec.defaults.leaf.duration: 1s is shorter than cert-manager's minimum of 1h",
        "5:20 spec.defaults.leaf.renewBefore: 240h (10d) must be shorter than duration 1s "
        "(cert-manager rejects renewBefore >= duration)",
    ]


def test_a_private_key_in_a_spec_string_is_a_located_error(tmp_path: Path) -> None:
    key = "-----BEGIN PRIVATE KEY-----\\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\\n-----END PRIVATE KEY-----\\n"
    errors = errors_of(tmp_path, lab(extra=f'  defaults: {{organization: "{key}"}}\n'))
    assert errors == [
        "5:28 spec.defaults.organization: holds a private key; a spec names key material (keyVault, secret), "
        "never holds it (remove it, and keep the key in Azure Key Vault or a Kubernetes Secret)"
    ]
    assert "MIGHAgEA" not in "".join(errors)


def test_an_empty_file_name_says_so(tmp_path: Path) -> None:
    text = HEAD + "  roots:\n    r1: {certificate: {file: ''}}\n  clusters:\n    - name: lab-1\n" + (
        "      pki: {mode: intermediate, root: r1, intermediate: {secret: {name: ica}}}\n"
    )
    assert errors_of(tmp_path, text) == [
        "6:30 spec.roots.r1.certificate.file: the file name is empty (name a PEM file, relative to the spec file)"
    ]


def test_organization_without_control_characters(tmp_path: Path) -> None:
    """The subject O= of in-cluster CAs: written on the CA, or fleet-wide in spec.defaults."""
    text = (
        HEAD + '  defaults: {organization: "a\\nb"}\n  clusters:\n    - name: lab-1\n'
        + '      pki: {mode: single-root, root: {selfSigned: {commonName: r, organization: "x\\0"}}}\n'
    )
    assert errors_of(tmp_path, text) == [
        "5:28 spec.defaults.organization: must not hold control characters (a newline, NUL, tab, ...)",
        "8:81 spec.clusters[0].pki.root.selfSigned.organization: must not hold control characters (a newline, NUL, "
        "tab, ...)",
    ]
