"""Azure-managed broker resources (`brokerResources: azure`) and the ARM trust parameters file.

The template's resource `properties` are validated against schemas derived from the Azure SDK
models (tests/upstream/aio/*.arm-properties.schema.json, SOURCES.md), its envelope against the
skeleton written from AIO's own release template; the trust parameters file against the ARM
parameters-file shape with AIO's `trustConfig`.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from tests.helpers import EXAMPLE_SPECS, EXAMPLES, REPO
from tests.regen_golden import rendered_tree

AIO = REPO / "tests" / "upstream" / "aio"
LISTENERS = "Microsoft.IoTOperations/instances/brokers/listeners"
AUTHENTICATIONS = "Microsoft.IoTOperations/instances/brokers/authentications"
PROPERTY_SCHEMAS = {LISTENERS: "brokerlistener.arm-properties.schema.json",
                    AUTHENTICATIONS: "brokerauthentication.arm-properties.schema.json"}
KINDS = {LISTENERS: "BrokerListener", AUTHENTICATIONS: "BrokerAuthentication"}


def schema_errors(schema_file: str, instance: Any) -> list[str]:
    validator = Draft202012Validator(json.loads((AIO / schema_file).read_text()))
    return [f"{e.json_path}: {e.message}" for e in validator.iter_errors(instance)]


def template_errors(template: dict[str, Any]) -> list[str]:
    errors = schema_errors("arm-broker-template.skeleton.schema.json", template)
    for resource in template["resources"]:
        errors += [f"{resource['name']} {e}" for e in schema_errors(PROPERTY_SCHEMAS[resource["type"]],
                                                                   resource["properties"])]
    return errors


def child_name(resource: dict[str, Any]) -> str:
    match = re.fullmatch(r"\[format\('\{0\}/\{1\}/\{2\}', parameters\('instanceName'\), "
                         r"parameters\('brokerName'\), '([a-z0-9-]+)'\)\]", resource["name"])
    assert match, resource["name"]
    return match.group(1)


def azure_trees() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for spec in EXAMPLE_SPECS:
        for path, text in rendered_tree(spec).items():
            if path.endswith("/broker/azuredeploy.json"):
                out.append((f"{spec.stem}/{path}", json.loads(text)))
    return out


def test_some_example_renders_azure_managed_broker_resources() -> None:
    assert [name for name, _ in azure_trees()] == ["azure-managed/plant-porto/broker/azuredeploy.json"]


@pytest.mark.parametrize(("name", "template"), azure_trees(), ids=lambda v: v if isinstance(v, str) else "")
def test_template_validates_against_the_sdk_derived_schemas(name: str, template: dict[str, Any]) -> None:
    assert template_errors(template) == []
    assert "variables" not in template
    assert set(template["parameters"]) == {"instanceName", "brokerName", "customLocationName"}
    assert template["parameters"]["brokerName"]["defaultValue"] == "default"
    for resource in template["resources"]:
        assert resource["apiVersion"] == "2025-10-01"
        assert resource["extendedLocation"] == {
            "name": "[resourceId('Microsoft.ExtendedLocation/customLocations', parameters('customLocationName'))]",
            "type": "CustomLocation"}
        assert "location" not in resource
    # a listener depends on the authentications of this template it references, and on nothing else
    made = {child_name(r) for r in template["resources"] if r["type"] == AUTHENTICATIONS}
    for listener in (r for r in template["resources"] if r["type"] == LISTENERS):
        refs = sorted({p["authenticationRef"] for p in listener["properties"]["ports"]} & made)
        assert listener.get("dependsOn", []) == [
            f"[resourceId('{AUTHENTICATIONS}', parameters('instanceName'), parameters('brokerName'), '{ref}')]"
            for ref in refs]
    text = json.dumps(template, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    spec_stem, path = name.split("/", 1)
    assert rendered_tree(EXAMPLES / f"{spec_stem}.yaml")[path] == text, "keys sorted, byte-stable"


def test_the_schemas_reject_what_arm_would_reject() -> None:
    """The checks bite: brokerRef has no place in ARM properties, enums are PascalCase, ports are literals."""
    (_, template), = azure_trees()
    listener = next(r for r in template["resources"] if r["type"] == LISTENERS)
    for change, expected in (
        ({"brokerRef": "default"}, "Additional properties are not allowed ('brokerRef' was unexpected)"),
        ({"serviceType": "loadBalancer"}, "'loadBalancer' is not one of"),
        ({"ports": [{"port": "[parameters('port')]"}]}, "\"[parameters('port')]\" is not of type 'integer'"),
    ):
        broken = {**listener["properties"], **change}
        errors = schema_errors(PROPERTY_SCHEMAS[LISTENERS], broken)
        assert any(expected in e for e in errors), (change, errors)


def test_azure_form_carries_exactly_what_the_kubernetes_form_would(tmp_path: Path) -> None:
    """Same listeners and authentications, same settings: only the form differs, and never both."""
    text = (EXAMPLES / "azure-managed.yaml").read_text()
    shutil.copytree(EXAMPLES / "pki", tmp_path / "pki")
    kubernetes_spec = tmp_path / "kubernetes.yaml"
    kubernetes_spec.write_text(text.replace("brokerResources: azure", "brokerResources: kubernetes"))
    azure = rendered_tree(EXAMPLES / "azure-managed.yaml")
    kubernetes = rendered_tree(kubernetes_spec)
    template = json.loads(azure["plant-porto/broker/azuredeploy.json"])
    objects = {(yaml.safe_load(t)["kind"], yaml.safe_load(t)["metadata"]["name"]): yaml.safe_load(t)
               for p, t in kubernetes.items()
               if p.startswith("plant-porto/broker/") and p.endswith(".yaml") and not p.endswith("kustomization.yaml")}
    assert len(objects) == len(template["resources"]) == 2
    for resource in template["resources"]:
        obj = objects[(KINDS[resource["type"]], child_name(resource))]
        assert resource["properties"] == {k: v for k, v in obj["spec"].items() if k != "brokerRef"}
    assert not [p for p in azure if p.startswith("plant-porto/") and "/broker" in p
                and p.endswith(".yaml") and not p.endswith("kustomization.yaml")]
    assert "plant-porto/broker/azuredeploy.json" not in kubernetes
    # everything else is the same
    rest = {p: t for p, t in azure.items() if not p.startswith("plant-porto/broker/") and not p.endswith("INSTALL.md")}
    assert rest == {p: t for p, t in kubernetes.items()
                    if not p.startswith("plant-porto/broker/") and not p.endswith("INSTALL.md")}


def test_a_value_arm_would_evaluate_is_escaped(tmp_path: Path) -> None:
    """A literal string in brackets would be an ARM expression: it is written as `[[...]`."""
    shutil.copytree(EXAMPLES / "pki", tmp_path / "pki")
    spec = tmp_path / "spec.yaml"
    spec.write_text((EXAMPLES / "azure-managed.yaml").read_text().replace(
        "attributes: {group: sensors}", "attributes: {group: '[sensors]'}"))
    template = json.loads(rendered_tree(spec)["plant-porto/broker/azuredeploy.json"])
    auth = next(r for r in template["resources"] if r["type"] == AUTHENTICATIONS)
    x509 = auth["properties"]["authenticationMethods"][0]["x509Settings"]
    assert x509["authorizationAttributes"]["sensors"]["attributes"] == {"group": "[[sensors]"}


@pytest.mark.parametrize("spec", EXAMPLE_SPECS, ids=lambda p: p.stem)
def test_trust_parameters_file_is_an_arm_parameters_file(spec: Path) -> None:
    tree = rendered_tree(spec)
    for cluster in sorted({p.split("/", 1)[0] for p in tree}):
        parameters = json.loads(tree[f"{cluster}/aio-trust-settings.json"])
        assert schema_errors("arm-deployment-parameters.schema.json", parameters) == []
        settings = parameters["parameters"]["trustConfig"]["value"]["settings"]
        cli = (f"--trust-settings configMapName={settings['configMapName']} configMapKey={settings['configMapKey']} "
               f"issuerKind={settings['issuerKind']} issuerName={settings['issuerName']}")
        assert tree[f"{cluster}/aio-trust-settings.txt"].splitlines()[-1] == cli


@pytest.mark.parametrize("spec", EXAMPLE_SPECS, ids=lambda p: p.stem)
def test_install_md_lists_the_steps_in_order_with_the_rendered_names(spec: Path) -> None:
    tree = rendered_tree(spec)
    for cluster in sorted({p.split("/", 1)[0] for p in tree}):
        lines = [line.strip() for line in tree[f"{cluster}/INSTALL.md"].splitlines()]
        settings = json.loads(tree[f"{cluster}/aio-trust-settings.json"])["parameters"]["trustConfig"]["value"]
        settings = settings["settings"]

        def at(prefix: str, lines: list[str] = lines) -> int:
            (index,) = [i for i, line in enumerate(lines) if line.startswith(prefix)]
            return index

        init = at("az iot ops init")
        assert lines[init] == f"az iot ops init --cluster {cluster} -g <RESOURCE_GROUP> --user-trust"
        apply = at("kubectl apply -k prerequisites/")
        wait = at("kubectl wait --for=condition=Ready")
        issuer = f"{settings['issuerKind'].lower()}/{settings['issuerName']}"
        assert lines[wait].split()[3] == issuer
        create = at("az iot ops create")
        assert lines[create + 2] == tree[f"{cluster}/aio-trust-settings.txt"].splitlines()[-1]
        azure = f"{cluster}/broker/azuredeploy.json" in tree
        broker = at("az deployment group create" if azure else "kubectl apply -k broker/")
        assert init < apply < wait < create < broker
        # the names INSTALL.md waits for are rendered objects
        objects = [yaml.safe_load(t) for p, t in tree.items()
                   if p.startswith(f"{cluster}/prerequisites/") and not p.endswith("kustomization.yaml")]
        assert any(o["kind"] == settings["issuerKind"] and o["metadata"]["name"] == settings["issuerName"]
                   for o in objects)
        assert any(o["kind"] == "Bundle" and o["metadata"]["name"] == settings["configMapName"]
                   and o["spec"]["target"]["configMap"]["key"] == settings["configMapKey"] for o in objects)


# ---------------------------------------------------------------- against AIO's own release templates

RELEASE = AIO / "arm-release-2510"


def arm_type_schema(node: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema for one ARM user-defined type (languageVersion 2.0, as Bicep compiles it):
    every declared property is required unless `nullable`, `allowedValues` is an enum, a
    `discriminator` picks one of its mapped types, `$ref` points into `definitions`."""
    if "$ref" in node:
        return {"$ref": node["$ref"].replace("#/definitions/", "#/$defs/")}
    if "discriminator" in node:
        return {"oneOf": [arm_type_schema(t) for t in node["discriminator"]["mapping"].values()]}
    schema: dict[str, Any] = {}
    if "type" in node:
        schema["type"] = {"string": "string", "int": "integer", "bool": "boolean", "object": "object",
                          "array": "array", "securestring": "string", "secureObject": "object"}[node["type"]]
    if "allowedValues" in node:
        schema["enum"] = node["allowedValues"]
    if "properties" in node:
        schema["properties"] = {k: arm_type_schema(v) for k, v in node["properties"].items()}
        schema["required"] = sorted(k for k, v in node["properties"].items() if not v.get("nullable"))
        schema["additionalProperties"] = False  # stricter than ARM: aiogen writes nothing undeclared
    return schema


def release_parameter_errors(template_file: str, parameters: dict[str, Any]) -> list[str]:
    """Problems of a parameters file's values against the parameters a release template declares."""
    template = json.loads((RELEASE / template_file).read_text())
    errors = [f"{name}: not a parameter of {template_file}" for name in parameters["parameters"]
              if name not in template["parameters"]]
    defs = {name: arm_type_schema(node) for name, node in template.get("definitions", {}).items()}
    for name, entry in parameters["parameters"].items():
        if name in template["parameters"]:
            schema = {**arm_type_schema(template["parameters"][name]), "$defs": defs}
            errors += [f"{name}{e.json_path[1:]}: {e.message}"
                       for e in Draft202012Validator(schema).iter_errors(entry["value"])]
    return errors


@pytest.mark.parametrize("spec", EXAMPLE_SPECS, ids=lambda p: p.stem)
def test_trust_parameters_fit_the_aio_release_templates(spec: Path) -> None:
    """`aio-trust-settings.json` is a parameters file for AIO 2510's instance and enablement templates."""
    tree = rendered_tree(spec)
    for cluster in sorted({p.split("/", 1)[0] for p in tree}):
        parameters = json.loads(tree[f"{cluster}/aio-trust-settings.json"])
        for template_file in ("azure-iot-operations-instance.json", "azure-iot-operations-enablement.json"):
            assert release_parameter_errors(template_file, parameters) == [], (cluster, template_file)


def test_the_release_template_check_bites() -> None:
    parameters = json.loads(rendered_tree(EXAMPLES / "fleet.yaml")["plant-berlin/aio-trust-settings.json"])
    settings = parameters["parameters"]["trustConfig"]["value"]["settings"]
    broken = json.loads(json.dumps(parameters))
    broken["parameters"]["trustConfig"]["value"]["settings"] = {**settings, "issuerKind": "clusterIssuer"}
    broken["parameters"]["brokerListener"] = {"value": {}}
    errors = release_parameter_errors("azure-iot-operations-instance.json", broken)
    assert "brokerListener: not a parameter of azure-iot-operations-instance.json" in errors
    assert any(e.startswith("trustConfig: ") and "is not valid under any of the given schemas" in e for e in errors)
    del broken["parameters"]["trustConfig"]["value"]["settings"]["issuerName"]
    broken["parameters"]["trustConfig"]["value"]["settings"]["issuerKind"] = "Issuer"
    schema = {**arm_type_schema({"$ref": "#/definitions/_1.TrustBundleSettings"}),
              "$defs": {k: arm_type_schema(v) for k, v in json.loads(
                  (RELEASE / "azure-iot-operations-instance.json").read_text())["definitions"].items()}}
    assert [e.message for e in Draft202012Validator(schema).iter_errors(
        broken["parameters"]["trustConfig"]["value"]["settings"])] == ["'issuerName' is a required property"]


# ---------------------------------------------------------------- a broker stage with nothing in it


def no_listener_spec(tmp_path: Path, resources: str) -> Path:
    """examples/lab.yaml without its listeners, its broker resources managed the given way."""
    text = (EXAMPLES / "lab.yaml").read_text()
    text = text[:text.index("      broker:")] + f"      broker: {{resources: {resources}}}\n"
    spec = tmp_path / f"empty-{resources}.yaml"
    spec.write_text(text)
    return spec


def test_an_azure_managed_cluster_without_listeners_renders_a_valid_empty_template(tmp_path: Path) -> None:
    tree = rendered_tree(no_listener_spec(tmp_path, "azure"))
    template = json.loads(tree["lab-1/broker/azuredeploy.json"])
    assert template["resources"] == []
    assert template_errors(template) == []
    install = tree["lab-1/INSTALL.md"]
    assert "az deployment group create" not in install
    assert "no broker listeners or authentications of its own" in install


def test_a_kubernetes_cluster_without_listeners_is_not_told_to_apply_an_empty_stage(tmp_path: Path) -> None:
    """`kubectl apply -k` of an empty kustomization fails ("no objects passed to apply")."""
    tree = rendered_tree(no_listener_spec(tmp_path, "kubernetes"))
    assert yaml.safe_load(tree["lab-1/broker/kustomization.yaml"])["resources"] == []
    install = tree["lab-1/INSTALL.md"]
    assert "kubectl apply -k broker/" not in install
    assert "`broker/` deploys nothing" in install
