"""`aiogen explain FIELD.PATH`: a field's documentation from the shipped JSON Schema."""

from __future__ import annotations

import json

import pytest

from aiogen.model.fielddoc import explain, load_schema
from tests.helpers import REPO, aiogen


def test_a_list_field_with_implicit_items() -> None:
    run = aiogen("explain", "spec.clusters.broker.listeners")
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[0] == "FIELD:    spec.clusters.broker.listeners <[]Listener>"
    assert "DEFAULT:  []" in lines
    fields = run.out.split("\nFIELDS:\n", 1)[1]
    assert "  name\t<string> -required-" in fields.splitlines()
    assert "  ports\t<[]ListenerPort> -required-" in fields.splitlines()
    assert aiogen("explain", "spec.clusters[0].broker.listeners[2]").out == run.out


def test_allowed_values_default_and_constraints() -> None:
    protocol = aiogen("explain", "spec.clusters.broker.listeners.ports.protocol").out.splitlines()
    assert protocol[:3] == ["FIELD:    spec.clusters.broker.listeners.ports.protocol <string>",
                            'DEFAULT:  "Mqtt"', "ALLOWED:  Mqtt, WebSockets"]
    port = aiogen("explain", "spec.clusters.broker.listeners.ports.port").out.splitlines()
    assert port[0] == "FIELD:    spec.clusters.broker.listeners.ports.port <integer> -required-"
    assert "MUST BE:  at least 1; at most 65535" in port


def test_descriptions_come_from_the_schema() -> None:
    schema = load_schema()
    expected = schema["$defs"]["CertificateFile"]["properties"]["file"].get("description", "")
    run = aiogen("explain", "spec.roots.contoso-root-2025.certificate.file")
    assert run.code == 0, run.err
    body = run.out.split("DESCRIPTION:\n", 1)[1]
    assert (expected or "(no description)") in " ".join(body.split())
    assert explain(schema, "spec.roots.certificate.file").type == "string"  # a map key may be left out too


def test_the_schema_read_is_the_shipped_one() -> None:
    assert load_schema() == json.loads((REPO / "generator/aiogen/schemas/topology.schema.json").read_text())


@pytest.mark.parametrize(("path", "message"), [
    ("spec.clusters.brokr", "spec.clusters.brokr: no such field in spec.clusters (did you mean spec.clusters.broker?)"),
    ("spec.clusters.broker.listeners.prots",
     "spec.clusters.broker.listeners.prots: no such field in spec.clusters.broker.listeners "
     "(did you mean spec.clusters.broker.listeners.ports?)"),
    ("spek", "spek: no such field in the spec (did you mean spec?)"),
    ("spec.clusters.name.first",
     "spec.clusters.name.first: spec.clusters.name has no fields (it is a string) "
     "(see `aiogen explain spec.clusters.name`)"),
])
def test_a_path_that_does_not_exist(path: str, message: str) -> None:
    run = aiogen("explain", path)
    assert (run.code, run.out, run.err) == (1, "", message + "\n")


def test_nothing_far_enough_lists_the_fields() -> None:
    run = aiogen("explain", "spec.zzz")
    assert run.code == 1
    assert run.err.startswith("spec.zzz: no such field in spec (fields of spec: defaults, roots, clientRoots, clusters")
