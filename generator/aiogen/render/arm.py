"""Broker listeners and authentications as an ARM deployment template, for brokers managed from Azure.

AIO does not sync broker resources created with kubectl to Azure, and the portal does not show
them (https://learn.microsoft.com/azure/iot-operations/manage-mqtt-broker/howto-configure-brokerlistener);
operators who manage listeners from Azure deploy them as `Microsoft.IoTOperations/instances/brokers/*`
resources instead. The template carries the same `spec` the BrokerListener/BrokerAuthentication
objects would (rendered by the same templates), minus `brokerRef`, which ARM expresses in the
resource name. Shape as in Azure/azure-iot-operations `release/azure-iot-operations-instance.json`:
three-segment names, `extendedLocation` of the custom location, no `location`; the instance and its
`default` broker already exist (`az iot ops create`), so they are addressed by name, not declared.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from aiogen.render.resource import Resource

API_VERSION = "2025-10-01"
TEMPLATE_SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
PARAMETERS_SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#"
CONTENT_VERSION = "1.0.0.0"
TEMPLATE_FILE = "azuredeploy.json"
LISTENERS = "Microsoft.IoTOperations/instances/brokers/listeners"
AUTHENTICATIONS = "Microsoft.IoTOperations/instances/brokers/authentications"
_TYPES = {"BrokerAuthentication": AUTHENTICATIONS, "BrokerListener": LISTENERS}


def broker_template(objects: Iterable[Resource], broker_ref: str, description: str) -> str:
    """The ARM template (JSON text, keys sorted) deploying these BrokerListener/BrokerAuthentication specs."""
    made = sorted(objects, key=lambda r: (r.kind != "BrokerAuthentication", r.name))
    authentications = {r.name for r in made if r.kind == "BrokerAuthentication"}
    template = {
        "$schema": TEMPLATE_SCHEMA,
        "contentVersion": CONTENT_VERSION,
        "metadata": {"description": description},
        "parameters": {
            "instanceName": _parameter("Name of the Azure IoT Operations instance (az iot ops create --name)."),
            "brokerName": _parameter("Name of the instance's broker; az iot ops create makes 'default'.",
                                     default=broker_ref),
            "customLocationName": _parameter(
                "Name of the custom location the instance runs on, in this deployment's resource group "
                "(az iot ops create --custom-location)."),
        },
        "resources": [_resource(r, authentications) for r in made],
    }
    return json.dumps(template, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _parameter(description: str, default: str | None = None) -> dict[str, Any]:
    parameter: dict[str, Any] = {"type": "string", "metadata": {"description": description}}
    if default is not None:
        parameter["defaultValue"] = default
    return parameter


def _literal(value: Any) -> Any:
    """A value ARM must not evaluate: a string in brackets is an expression unless it starts with `[[`
    (https://learn.microsoft.com/azure/azure-resource-manager/templates/template-expressions#escape-characters)."""
    if isinstance(value, str) and value.startswith("[") and value.endswith("]"):
        return "[" + value
    if isinstance(value, dict):
        return {_literal(k): _literal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_literal(v) for v in value]
    return value


def _resource(obj: Resource, authentications: set[str]) -> dict[str, Any]:
    properties = {k: _literal(v) for k, v in obj.obj["spec"].items() if k != "brokerRef"}
    resource: dict[str, Any] = {
        "type": _TYPES[obj.kind],
        "apiVersion": API_VERSION,
        "name": f"[format('{{0}}/{{1}}/{{2}}', parameters('instanceName'), parameters('brokerName'), '{obj.name}')]",
        # inline in every resource, as AIO's own templates write it (no expression for the object)
        "extendedLocation": {
            "name": "[resourceId('Microsoft.ExtendedLocation/customLocations', parameters('customLocationName'))]",
            "type": "CustomLocation",
        },
        "properties": properties,
    }
    # a listener never references an authentication that is not created yet (as AIO's own template does)
    refs = sorted({p["authenticationRef"] for p in properties.get("ports", ()) if p.get("authenticationRef")}
                  & authentications)
    if refs:
        resource["dependsOn"] = [
            f"[resourceId('{AUTHENTICATIONS}', parameters('instanceName'), parameters('brokerName'), '{ref}')]"
            for ref in refs
        ]
    return resource


def trust_parameters(issuer_name: str, issuer_kind: str, config_map_name: str, config_map_key: str) -> str:
    """An ARM parameters file with AIO's `trustConfig` (CustomerManaged), for the instance templates."""
    parameters = {
        "$schema": PARAMETERS_SCHEMA,
        "contentVersion": CONTENT_VERSION,
        "parameters": {
            "trustConfig": {
                "value": {
                    "source": "CustomerManaged",
                    "settings": {
                        "issuerName": issuer_name,
                        "issuerKind": issuer_kind,
                        "configMapName": config_map_name,
                        "configMapKey": config_map_key,
                    },
                },
            },
        },
    }
    return json.dumps(parameters, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
