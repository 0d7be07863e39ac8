"""Bad input gives `file:line:col field.path: what is wrong` and a non-zero exit, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import aiogen, key_pem, make_ca_pem

HEAD = "apiVersion: aiogen.io/v1alpha1\nkind: Topology\nmetadata: {name: t}\nspec:\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fleet.yaml"
    path.write_text(text)
    return path


def lab_with(listener_port: str = "8883", extra: str = "", san: str = "{dns: [mqtt.example]}") -> str:
    return (
        HEAD
        + "  clusters:\n"
        + "    - name: lab-1\n"
        + "      pki: {mode: single-root, root: {selfSigned: {commonName: r}}}\n"
        + extra
        + "      broker:\n"
        + "        listeners:\n"
        + "          - name: lab-mqtts\n"
        + "            serviceType: LoadBalancer\n"
        + "            ports:\n"
        + f"              - port: {listener_port}\n"
        + "                authentication: serviceAccountToken\n"
        + f"                tls: {{san: {san}}}\n"
    )


def errors_of(tmp_path: Path, text: str) -> list[str]:
    run = aiogen("validate", write(tmp_path, text))
    assert run.code == 1, run
    assert "Traceback" not in run.err and "internal error" not in run.err
    return [line for line in run.err.splitlines() if not line.startswith("warning:")]


def test_valid_spec_passes(tmp_path: Path) -> None:
    run = aiogen("validate", write(tmp_path, lab_with()))
    assert run.code == 0, run.err
    assert "valid: 1 cluster(s)" in run.out


def test_malformed_yaml(tmp_path: Path) -> None:
    spec = write(tmp_path, HEAD + "  clusters: [\n")
    assert errors_of(tmp_path, spec.read_text())[0].startswith(f"{spec}:6:1: ")


def test_duplicate_key(tmp_path: Path) -> None:
    text = HEAD + "  clusters: []\n  clusters: []\n"
    assert errors_of(tmp_path, text) == [f"{tmp_path / 'fleet.yaml'}:6:3: duplicate key \"clusters\""]


def test_unknown_field(tmp_path: Path) -> None:
    text = lab_with(extra="      colour: blue\n")
    assert errors_of(tmp_path, text) == [
        f"{tmp_path / 'fleet.yaml'}:8:7 spec.clusters[0].colour: unknown field "
        "(check its spelling against schemas/topology.schema.json)"
    ]


def test_wrong_type(tmp_path: Path) -> None:
    assert errors_of(tmp_path, lab_with(listener_port='"8883"')) == [
        f"{tmp_path / 'fleet.yaml'}:13:23 spec.clusters[0].broker.listeners[0].ports[0].port: "
        "must be an integer, not a string"
    ]


def test_bad_duration(tmp_path: Path) -> None:
    text = lab_with().replace("commonName: r}", "commonName: r, duration: 10 years}")
    assert errors_of(tmp_path, text) == [
        f"{tmp_path / 'fleet.yaml'}:7:77 spec.clusters[0].pki.root.selfSigned.duration: "
        "'10 years' is not a duration; use Go form like 720h or 1h30m, or 30d / 1y"
    ]


@pytest.mark.parametrize(
    ("san", "message"),
    [
        ("{dns: [-bad.example]}", "dns[0]: '-bad.example' has an invalid label '-bad': letters, digits and '-', "
         "not starting or ending with '-'"),
        ("{dns: [a.*.example]}", "dns[0]: 'a.*.example' may hold a wildcard only as its whole first label (*.example.com)"),
        ("{ip: [10.0.0.300]}", "ip[0]: '10.0.0.300' is not an IPv4 or IPv6 address"),
        ("{dns: [a.example, A.example]}", "dns[1]: 'A.example' is listed twice"),
        ("{dns: [10.1.2.3]}", "dns[0]: '10.1.2.3' is an IP address; list it under san.ip instead"),
    ],
)
def test_bad_san(tmp_path: Path, san: str, message: str) -> None:
    (line,) = errors_of(tmp_path, lab_with(san=san))
    assert line.endswith(f"spec.clusters[0].broker.listeners[0].ports[0].tls.san.{message}")
    assert line.startswith(f"{tmp_path / 'fleet.yaml'}:15:")


def pinned_spec(file: str = "pki/root.pem") -> str:
    return (
        HEAD
        + f"  roots:\n    r1: {{certificate: {{file: {file}}}}}\n"
        + "  clusters:\n"
        + "    - name: cl1\n"
        + "      pki: {mode: intermediate, root: r1, intermediate: {secret: {name: ica}}}\n"
    )


def test_pem_that_is_not_a_certificate(tmp_path: Path) -> None:
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki/root.pem").write_text("hello\n")
    assert errors_of(tmp_path, pinned_spec()) == [
        f"{tmp_path / 'fleet.yaml'}:6:30 spec.roots.r1.certificate.file: pki/root.pem holds no PEM certificate "
        "(expected -----BEGIN CERTIFICATE-----)"
    ]


def test_pem_with_a_private_key_is_refused_without_echoing_it(tmp_path: Path) -> None:
    (tmp_path / "pki").mkdir()
    pem, _, key = make_ca_pem("Root")
    secret = key_pem(key)
    (tmp_path / "pki/root.pem").write_text(pem + secret)
    run = aiogen("validate", write(tmp_path, pinned_spec()))
    assert run.code == 1
    assert "contains a private key; aiogen only takes public certificates" in run.err
    body = secret.splitlines()[1]
    assert body not in run.err and body not in run.out


def test_chain_that_does_not_verify(tmp_path: Path) -> None:
    (tmp_path / "pki").mkdir()
    root, _, _ = make_ca_pem("Root One")
    _, other_cert, other_key = make_ca_pem("Root Two")
    ica, _, _ = make_ca_pem("Intermediate", issuer=(other_cert, other_key))
    (tmp_path / "pki/root.pem").write_text(root)
    (tmp_path / "pki/ica.pem").write_text(ica)
    text = pinned_spec().replace("{secret: {name: ica}}", "{secret: {name: ica}, certificate: {file: pki/ica.pem}}")
    (line,) = errors_of(tmp_path, text)
    assert line == (
        f"{tmp_path / 'fleet.yaml'}:9:99 spec.clusters[0].pki.intermediate.certificate.file: 'CN=Intermediate' is "
        "not signed by root 'r1' ('CN=Root One') (the intermediate must chain to the cluster's root)"
    )


def test_reference_to_undefined_root(tmp_path: Path) -> None:
    (tmp_path / "pki").mkdir()
    root, _, _ = make_ca_pem("Root One")
    (tmp_path / "pki/root.pem").write_text(root)
    text = pinned_spec().replace("root: r1,", "root: r9,")
    assert errors_of(tmp_path, text) == [
        f"{tmp_path / 'fleet.yaml'}:9:39 spec.clusters[0].pki.root: root 'r9' is not defined in spec.roots "
        "(defined: r1)"
    ]


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    text = lab_with(listener_port="18883", san="{dns: [-x], ip: [nope]}")
    lines = errors_of(tmp_path, text)
    assert len(lines) == 3
    assert "port 18883 is already used by the default listener" in lines[0]


def test_missing_spec_file(tmp_path: Path) -> None:
    run = aiogen("validate", tmp_path / "nope.yaml")
    assert run.code == 1
    assert run.err.strip() == f"{tmp_path / 'nope.yaml'}: no such file"


def test_failed_render_leaves_existing_output_exactly_as_it_was(tmp_path: Path) -> None:
    good = write(tmp_path, lab_with())
    out = tmp_path / "out"
    assert aiogen("render", good, "-o", out).code == 0
    before = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    good.write_text(lab_with(listener_port="18883"))
    run = aiogen("render", good, "-o", out)
    assert run.code == 1
    after = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert after == before
