"""Conformance harness: does a rendered resource match the real API it will be applied to?

Tests import this module (``from tests.conformance import validate_resource``) and check every
resource aiogen renders against the schema the API server would use:

* cert-manager, trust-manager and secrets-store kinds: the ``openAPIV3Schema`` of the served
  version in the upstream CRD copies under ``tests/upstream/`` (sources, licences and checksums
  in ``tests/upstream/SOURCES.md``), converted to JSON Schema 2020-12 by
  `_structural_to_json_schema`;
* AIO ``BrokerListener`` / ``BrokerAuthentication``: the derived ``spec`` schemas in
  ``tests/upstream/aio/*.spec.schema.json`` wrapped into a whole-object schema;
* core kinds (ConfigMap, Secret, ServiceAccount, Namespace, RBAC): the strict Kubernetes
  schemas shipped inside the ``kubernetes-validate`` package, pinned to `KUBERNETES_VERSION`.

It is stricter than an API server in one deliberate way: an unknown field is an error. A
structural CRD schema silently prunes unknown fields, so for a renderer an unknown field is
data that would vanish on apply, i.e. a bug.
"""

from __future__ import annotations

import base64
import copy
import functools
import importlib.resources
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import jsonschema
import yaml
from jsonschema.exceptions import ValidationError

# Core schemas come from kubernetes-validate's data files; 1.32 is the kubectl on the CI machine.
KUBERNETES_VERSION = "1.32"

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

# Core kinds we render or may render, and whether each is namespaced. kubernetes-validate's
# schemas carry no scope, so it is listed here.
_CORE_KINDS: dict[tuple[str, str], bool] = {
    ("v1", "ConfigMap"): True,
    ("v1", "Secret"): True,
    ("v1", "ServiceAccount"): True,
    ("v1", "Namespace"): False,
    ("rbac.authorization.k8s.io/v1", "Role"): True,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): True,
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): False,
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): False,
}

# All four kinds of the AIO broker API group are namespaced (AIO docs:
# https://learn.microsoft.com/azure/iot-operations/manage-mqtt-broker/howto-configure-brokerlistener).
_AIO_NAMESPACED = True

_YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# --------------------------------------------------------------------------------------------
# Where the reference data lives
# --------------------------------------------------------------------------------------------


def upstream_dir() -> Path:
    """The upstream copies (CRDs, AIO schemas, reference manifests): ``tests/upstream/``."""
    return Path(__file__).resolve().parent / "upstream"


def crds_dir() -> Path:
    """The CRD copies: one folder per upstream project (``aio/`` holds the derived AIO schemas)."""
    return upstream_dir()


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _KindSchema:
    """What the harness knows about one apiVersion/kind."""

    api_version: str
    kind: str
    namespaced: bool
    source: str  # where the schema came from, for error messages
    schema: dict[str, Any]  # self-contained JSON Schema 2020-12 for the whole object


def known_kinds() -> list[tuple[str, str]]:
    """Every (apiVersion, kind) the harness can validate, sorted."""
    return sorted(_registry())


def schema_for(api_version: str, kind: str) -> dict[str, Any]:
    """The whole-object JSON Schema (2020-12, self-contained) for ``apiVersion``/``kind``.

    Raises KeyError for a kind the harness has no schema for.
    """
    return copy.deepcopy(_kind_schema(api_version, kind).schema)


def kind_origin(api_version: str, kind: str) -> str:
    """Who installs a kind's schema: ``core`` (Kubernetes), or the upstream folder of its CRD copy
    (``cert-manager``, ``trust-manager``, ``secrets-store``, ``aio``); ``unknown`` for any other kind."""
    source = _registry().get((api_version, kind))
    if source is None:
        return "unknown"
    if source.origin.startswith("kubernetes-validate"):
        return "core"
    return source.origin.split("/", 1)[0]


def validate_resource(obj: Mapping[str, Any]) -> list[str]:
    """Every conformance problem of one resource, as readable lines; ``[]`` when it is valid.

    Each line names the resource (``Kind namespace/name``) and the JSON path of the problem.
    """
    if not isinstance(obj, Mapping):
        return [f"resource is a {type(obj).__name__}, not a mapping"]
    label = _label(obj)
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return [f"{label}: $: apiVersion and kind must both be set to strings"]
    try:
        info = _kind_schema(api_version, kind)
    except KeyError:
        return [f"{label}: $: no schema for apiVersion {api_version!r} kind {kind!r}"]
    validator = _validator(api_version, kind)
    problems = [(list(err.absolute_path), _describe(err, info)) for err in validator.iter_errors(dict(obj))]
    problems += _object_rules(obj, info)
    problems.sort(key=lambda p: ([str(part) for part in p[0]], p[1]))
    return [f"{label}: {_json_path(path)}: {message}" for path, message in problems]


def cel_rules_not_evaluated() -> list[str]:
    """CEL rules (``x-kubernetes-validations``) in the loaded CRDs that have no Python check."""
    for api_version, kind in _registry():
        _kind_schema(api_version, kind)  # converting a schema records its unknown rules
    return sorted(_UNEVALUATED_CEL)


# --------------------------------------------------------------------------------------------
# Registry of kinds
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    namespaced: bool
    origin: str
    load: Callable[[], dict[str, Any]]  # builds the whole-object schema


@functools.cache
def _registry() -> dict[tuple[str, str], _Source]:
    sources: dict[tuple[str, str], _Source] = {}
    for path in sorted(crds_dir().glob("*/*.yaml")):
        if path.parent.name == "aio":
            continue
        crd = _load_yaml(path)
        if crd.get("kind") != "CustomResourceDefinition":
            continue
        spec = crd["spec"]
        for version in spec["versions"]:
            if not version.get("served", False):
                continue
            api_version = f"{spec['group']}/{version['name']}"
            kind = spec["names"]["kind"]
            sources[(api_version, kind)] = _Source(
                namespaced=spec["scope"] == "Namespaced",
                origin=str(path.relative_to(crds_dir())),
                load=functools.partial(_crd_object_schema, path, version["name"]),
            )
    for path in sorted((crds_dir() / "aio").glob("*.spec.schema.json")):
        spec_schema = json.loads(path.read_text(encoding="utf-8"))
        # title: "BrokerListener spec (mqttbroker.iotoperations.azure.com/v1)"
        match = re.fullmatch(r"(\w+) spec \(([\w.-]+/\w+)\)", spec_schema.get("title", ""))
        if match is None:
            raise ValueError(f"{path}: cannot tell the kind from its title {spec_schema.get('title')!r}")
        kind, api_version = match.groups()
        sources[(api_version, kind)] = _Source(
            namespaced=_AIO_NAMESPACED,
            origin=f"aio/{path.name}",
            load=functools.partial(_aio_object_schema, path),
        )
    for (api_version, kind), namespaced in _CORE_KINDS.items():
        sources[(api_version, kind)] = _Source(
            namespaced=namespaced,
            origin=f"kubernetes-validate v{KUBERNETES_VERSION} strict",
            load=functools.partial(_core_object_schema, api_version, kind),
        )
    return sources


@functools.cache
def _kind_schema(api_version: str, kind: str) -> _KindSchema:
    source = _registry().get((api_version, kind))
    if source is None:
        raise KeyError(f"no schema for apiVersion {api_version!r} kind {kind!r}")
    schema = source.load()
    _require_metadata(schema, kind, source.namespaced)
    return _KindSchema(api_version, kind, source.namespaced, source.origin, schema)


@functools.cache
def _validator(api_version: str, kind: str) -> jsonschema.protocols.Validator:
    schema = _kind_schema(api_version, kind).schema
    validator: jsonschema.protocols.Validator = _Validator(schema, format_checker=_FORMATS)
    return validator


def _require_metadata(schema: dict[str, Any], kind: str, namespaced: bool) -> None:
    """Every object needs metadata.name; namespaced kinds need a namespace, others must not have one."""
    schema.setdefault("required", [])
    for key in ("apiVersion", "kind", "metadata"):
        if key not in schema["required"]:
            schema["required"].append(key)
    meta: dict[str, Any] = {"$ref": f"#/$defs/{_OBJECT_META}", "type": "object"}
    if namespaced:
        meta["required"] = ["name", "namespace"]
    else:
        meta["required"] = ["name"]
        meta["not"] = {"required": ["namespace"]}
        meta["$comment"] = f"{kind} is cluster-scoped: metadata.namespace must not be set"
    schema["properties"]["metadata"] = meta


@functools.cache
def _load_yaml(path: Path) -> dict[str, Any]:
    """A parsed YAML file; cached, so callers must not mutate it."""
    with path.open(encoding="utf-8") as handle:
        loaded = yaml.load(handle, Loader=_YAML_LOADER)  # a safe loader (C or pure Python)
    if not isinstance(loaded, dict):
        raise ValueError(f"{path}: expected one YAML mapping")
    return loaded


# --------------------------------------------------------------------------------------------
# Kubernetes core schemas (kubernetes-validate, strict: unknown fields rejected)
# --------------------------------------------------------------------------------------------


@functools.cache
def _k8s_schema_dir() -> Path:
    root = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema"
    path = Path(str(root)) / f"v{KUBERNETES_VERSION}.0-local-strict"
    if not path.is_dir():
        raise FileNotFoundError(
            f"kubernetes-validate has no schemas for Kubernetes {KUBERNETES_VERSION} ({path})"
        )
    return path


@functools.cache
def _k8s_definitions() -> dict[str, Any]:
    defs = json.loads((_k8s_schema_dir() / "_definitions.json").read_text(encoding="utf-8"))
    result: dict[str, Any] = defs["$defs"]
    return result


def _k8s_refs_to_local(node: Any, needed: set[str]) -> Any:
    """Copy ``node`` with every ``…_definitions.json#/$defs/X`` ref made local; collect the Xs."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and "#/$defs/" in value:
                name = value.split("#/$defs/", 1)[1]
                needed.add(name)
                out[key] = f"#/$defs/{name}"
            elif key == "description":
                continue
            else:
                out[key] = _k8s_refs_to_local(value, needed)
        return out
    if isinstance(node, list):
        return [_k8s_refs_to_local(item, needed) for item in node]
    return node


def _with_k8s_defs(schema: dict[str, Any], extra_defs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Make ``schema`` self-contained: add the closure of Kubernetes definitions it refers to."""
    needed: set[str] = {_OBJECT_META}
    local: dict[str, Any] = _k8s_refs_to_local(schema, needed)
    defs: dict[str, Any] = dict(extra_defs or {})
    all_defs = _k8s_definitions()
    pending = sorted(needed)
    while pending:
        name = pending.pop()
        if name in defs:
            continue
        found: set[str] = set()
        defs[name] = _k8s_refs_to_local(all_defs[name], found)
        pending.extend(sorted(found - defs.keys()))
    local["$defs"] = dict(sorted(defs.items()))
    local["$schema"] = JSON_SCHEMA_DIALECT
    return local


def _core_object_schema(api_version: str, kind: str) -> dict[str, Any]:
    # kubernetes-validate's file naming: rbac.authorization.k8s.io/v1 -> rbac-v1, v1 -> v1
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = _k8s_schema_dir() / f"{kind.lower()}-{group_version}.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema.pop("$id", None)
    schema.pop("x-kubernetes-group-version-kind", None)
    schema["properties"]["apiVersion"] = {"const": api_version}
    schema["properties"]["kind"] = {"const": kind}
    schema["additionalProperties"] = False
    return _with_k8s_defs(schema)


# --------------------------------------------------------------------------------------------
# AIO: derived spec schemas wrapped into whole objects
# --------------------------------------------------------------------------------------------


def _aio_object_schema(path: Path) -> dict[str, Any]:
    spec_schema = json.loads(path.read_text(encoding="utf-8"))
    match = re.fullmatch(r"(\w+) spec \(([\w.-]+/\w+)\)", spec_schema["title"])
    assert match is not None  # checked in _registry
    kind, api_version = match.groups()
    spec_defs: dict[str, Any] = spec_schema.pop("$defs", {})
    for key in ("$schema", "$id"):
        spec_schema.pop(key, None)
    spec_name = f"{kind}Spec"
    if spec_name in spec_defs:
        raise ValueError(f"{path}: $defs already has {spec_name}")
    spec_defs[spec_name] = spec_schema
    schema: dict[str, Any] = {
        "$comment": f"{kind} {api_version}: whole object around the derived spec schema {path.name}",
        "type": "object",
        "properties": {
            "apiVersion": {"const": api_version},
            "kind": {"const": kind},
            "metadata": {},
            "spec": {"$ref": f"#/$defs/{spec_name}"},
        },
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
    }
    return _with_k8s_defs(schema, spec_defs)


# --------------------------------------------------------------------------------------------
# CRDs: OpenAPI v3 structural schema -> JSON Schema 2020-12
# --------------------------------------------------------------------------------------------


def _crd_object_schema(path: Path, version_name: str) -> dict[str, Any]:
    crd = _load_yaml(path)
    spec = crd["spec"]
    (version,) = [v for v in spec["versions"] if v["name"] == version_name]
    api_version = f"{spec['group']}/{version_name}"
    kind = spec["names"]["kind"]
    origin = f"{path.name} {version_name}"
    schema = _structural_to_json_schema(version["schema"]["openAPIV3Schema"], origin, "")
    # Rendered manifests carry no status; dropping it from the known fields makes it an error.
    schema["properties"].pop("status", None)
    schema["properties"]["apiVersion"] = {"const": api_version}
    schema["properties"]["kind"] = {"const": kind}
    schema["additionalProperties"] = False
    return _with_k8s_defs(schema)


# OpenAPI keywords kept as they are: value validations JSON Schema 2020-12 reads the same way.
_KEPT = (
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "minimum",
    "maximum",
    "multipleOf",
    "uniqueItems",
    "required",
    "format",
    "x-kubernetes-list-map-keys",
)
# OpenAPI keywords with no validation meaning here.
_DROPPED = frozenset(
    {
        "description",
        "default",
        "example",
        "title",
        "x-kubernetes-map-type",
        "x-kubernetes-embedded-resource",
    }
)


def _structural_to_json_schema(
    node: Mapping[str, Any], origin: str, path: str, *, in_logic: bool = False
) -> dict[str, Any]:
    """Convert one node of a structural OpenAPI v3 schema (as Kubernetes reads it).

    * ``nullable: true`` adds ``null`` to the type (and to an enum).
    * ``x-kubernetes-int-or-string`` becomes ``type: [integer, string]``.
    * An object with no ``x-kubernetes-preserve-unknown-fields`` and no ``additionalProperties``
      gets ``additionalProperties: false``: the API server would prune anything else.
      Not inside anyOf/allOf/oneOf/not, whose branches only restrict values.
    * ``x-kubernetes-list-type: set`` becomes ``uniqueItems``; ``map`` keeps its
      ``x-kubernetes-list-map-keys``, checked by a custom keyword.
    * ``x-kubernetes-validations`` stay, checked by a custom keyword (see `_CEL_CHECKS`).
    """
    out: dict[str, Any] = {}
    preserve = bool(node.get("x-kubernetes-preserve-unknown-fields"))
    int_or_string = bool(node.get("x-kubernetes-int-or-string"))
    for key, value in node.items():
        if key in _DROPPED or key in {"nullable", "x-kubernetes-preserve-unknown-fields"}:
            continue
        if key == "type":
            out["type"] = value
        elif key == "x-kubernetes-int-or-string":
            out["type"] = ["integer", "string"]
        elif key in _KEPT:
            out[key] = copy.deepcopy(value)
        elif key == "properties":
            out["properties"] = {
                name: _structural_to_json_schema(sub, origin, f"{path}.{name}", in_logic=in_logic)
                for name, sub in value.items()
            }
        elif key == "items":
            out["items"] = _structural_to_json_schema(value, origin, f"{path}[]", in_logic=in_logic)
        elif key == "additionalProperties":
            out["additionalProperties"] = (
                value
                if isinstance(value, bool)
                else _structural_to_json_schema(value, origin, f"{path}{{}}", in_logic=in_logic)
            )
        elif key in {"anyOf", "allOf", "oneOf"}:
            if int_or_string and key == "anyOf":
                continue  # the [integer, string] pair that comes with int-or-string
            out[key] = [_structural_to_json_schema(sub, origin, path, in_logic=True) for sub in value]
        elif key == "not":
            out["not"] = _structural_to_json_schema(value, origin, path, in_logic=True)
        elif key in {"exclusiveMinimum", "exclusiveMaximum"}:
            # OpenAPI 3.0: a boolean that qualifies minimum/maximum
            if value is True:
                bound = "minimum" if key == "exclusiveMinimum" else "maximum"
                out[key] = node[bound]
                out.pop(bound, None)
        elif key == "x-kubernetes-list-type":
            if value == "set":
                out["uniqueItems"] = True
        elif key == "x-kubernetes-validations":
            out[key] = [_known_cel_rule(rule, origin, path) for rule in value]
        else:
            raise ValueError(f"{origin}: {path or '.'}: OpenAPI keyword {key!r} is not handled")
    if "exclusiveMinimum" in out:
        out.pop("minimum", None)
    if "exclusiveMaximum" in out:
        out.pop("maximum", None)
    if node.get("nullable"):
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    is_object = node.get("type") == "object" or "properties" in node
    if is_object and not preserve and not in_logic and "additionalProperties" not in node:
        out["additionalProperties"] = False
    return out


# --------------------------------------------------------------------------------------------
# CEL rules (x-kubernetes-validations): the ones in our CRDs, as explicit Python checks
# --------------------------------------------------------------------------------------------
#
# Each check is keyed by the rule's message (plus its fieldPath, since two ClusterBundle rules
# share a message) and pinned to the exact CEL text it stands for: if upstream changes a rule
# under the same message, loading the CRD fails instead of checking the wrong thing. A rule
# with no entry here is recorded in `_UNEVALUATED_CEL` and skipped.
#
# Evaluated (every rule in the CRD copies as of this writing, 12 distinct, 17 occurrences):
#   trust.cert-manager.io Bundle v1alpha1
#     spec.sources[]                 exactly one of [configMap secret inLine useDefaultCAs]
#     spec.sources[].configMap       exactly one of [name selector]
#     spec.sources[].secret          exactly one of [name selector]
#     spec.target                    at least one of [configMap secret]
#     spec.target.additionalFormats  at least one of [jks pkcs12]
#   trust-manager.io ClusterBundle v1alpha2
#     spec.sourceRefs[]              exactly one of [name selector]
#     spec.target                    at least one of [configMap secret]
#     spec.target.{configMap,secret}.data[]  password / profile only with format PKCS12
#     spec.target.{configMap,secret}.metadata.{labels,annotations}  no trust-manager.io/ prefix
#   cert-manager.io Issuer / ClusterIssuer v1
#     spec.venafi                    exactly one of tpp, cloud, ngts
#   secret-sync.x-k8s.io SecretSync v1alpha1
#     spec.secretObject.annotations  keys and values < 253 chars; no secrets-store.sync.x-k8s.io prefix
#     spec.secretObject.labels       keys and values < 63 chars; no secrets-store.sync.x-k8s.io prefix
# Not evaluated: none today; `cel_rules_not_evaluated()` lists any a newer CRD copy adds.
#
# Semantics notes: CEL has() is true for a present field whatever its value (so
# `useDefaultCAs: false` counts as set); a null value counts as absent, as the API server drops
# nulls of non-nullable fields before CEL runs. CEL string size() counts code points, as len().


@dataclass(frozen=True)
class _CelCheck:
    rule: str  # the CEL text, whitespace-normalised
    holds: Callable[[Any], bool]


def _has(obj: Any, field: str) -> bool:
    return isinstance(obj, Mapping) and obj.get(field) is not None


def _fields_entry(fields: tuple[str, ...], quantity: str) -> dict[tuple[str, str], _CelCheck]:
    """kubebuilder's generated ExactlyOneOf / AtLeastOneOf rule: its message and its check."""
    exactly = quantity == "exactly one"
    has_list = ",".join(f"has(self.{f})" for f in fields)
    rule = f"[{has_list}].filter(x,x==true).size() {'==' if exactly else '>='} 1"

    def holds(obj: Any) -> bool:
        count = sum(_has(obj, f) for f in fields)
        return count == 1 if exactly else count >= 1

    message = f"{quantity} of the fields in [{' '.join(fields)}] must be set"
    return {(message, ""): _CelCheck(rule, holds)}


def _map_all(pred: Callable[[str, Any], bool]) -> Callable[[Any], bool]:
    return lambda obj: not isinstance(obj, Mapping) or all(pred(str(k), v) for k, v in obj.items())


def _only_pkcs12(field: str) -> _CelCheck:
    return _CelCheck(
        f"!has(self.{field}) || (has(self.format) && self.format == 'PKCS12')",
        lambda obj: not _has(obj, field) or (_has(obj, "format") and obj["format"] == "PKCS12"),
    )


_SSC_RESERVED = "secrets-store.sync.x-k8s.io"
_SSC_RESERVED_MESSAGE = f"should not contain {_SSC_RESERVED}. This key is reserved for the controller."

_CEL_CHECKS: dict[tuple[str, str], _CelCheck] = {
    **_fields_entry(("configMap", "secret", "inLine", "useDefaultCAs"), "exactly one"),
    **_fields_entry(("name", "selector"), "exactly one"),
    **_fields_entry(("configMap", "secret"), "at least one"),
    **_fields_entry(("jks", "pkcs12"), "at least one"),
    ("may only be set when format is 'PKCS12'", ".password"): _only_pkcs12("password"),
    ("may only be set when format is 'PKCS12'", ".profile"): _only_pkcs12("profile"),
    ("must not use forbidden domains as prefixes (e.g., trust-manager.io)", ""): _CelCheck(
        "self.all(k, !k.startsWith('trust-manager.io/'))",
        _map_all(lambda k, _v: not k.startswith("trust-manager.io/")),
    ),
    ("exactly one of tpp, cloud, or ngts must be configured", ""): _CelCheck(
        "(has(self.tpp) ? 1 : 0) + (has(self.cloud) ? 1 : 0) + (has(self.ngts) ? 1 : 0) == 1",
        lambda obj: sum(_has(obj, f) for f in ("tpp", "cloud", "ngts")) == 1,
    ),
    ("Annotations should have < 253 characters for both keys and values.", ""): _CelCheck(
        "(self.all(x, x.size() < 253 && self[x].size() < 253) == true)",
        _map_all(lambda k, v: len(k) < 253 and len(str(v)) < 253),
    ),
    (f"Annotations {_SSC_RESERVED_MESSAGE}", ""): _CelCheck(
        "(self.all(x, x.startsWith('secrets-store.sync.x-k8s.io') == false))",
        _map_all(lambda k, _v: not k.startswith(_SSC_RESERVED)),
    ),
    ("Labels should have < 63 characters for both keys and values.", ""): _CelCheck(
        "(self.all(x, x.size() < 63 && self[x].size() < 63) == true)",
        _map_all(lambda k, v: len(k) < 63 and len(str(v)) < 63),
    ),
    (f"Labels {_SSC_RESERVED_MESSAGE}", ""): _CelCheck(
        "(self.all(x, x.startsWith('secrets-store.sync.x-k8s.io') == false))",
        _map_all(lambda k, _v: not k.startswith(_SSC_RESERVED)),
    ),
}

_UNEVALUATED_CEL: set[str] = set()


def _normalise_cel(rule: str) -> str:
    return " ".join(rule.split())


def _known_cel_rule(rule: Mapping[str, Any], origin: str, path: str) -> dict[str, Any]:
    """Keep a CEL rule for the validator; fail loudly if a known message now has another rule."""
    message = str(rule.get("message") or rule.get("messageExpression") or rule["rule"])
    field_path = str(rule.get("fieldPath", ""))
    check = _CEL_CHECKS.get((message, field_path))
    if check is None:
        _UNEVALUATED_CEL.add(f"{origin} {path or '.'}: {message} [{_normalise_cel(rule['rule'])}]")
    elif _normalise_cel(rule["rule"]) != check.rule:
        raise ValueError(
            f"{origin} {path}: CEL rule for {message!r} changed upstream:\n"
            f"  CRD:     {_normalise_cel(rule['rule'])}\n  checked: {check.rule}"
        )
    return {"message": message, "fieldPath": field_path}


def _cel_keyword(
    validator: Any, rules: list[dict[str, Any]], instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if not isinstance(instance, Mapping):
        return  # a type error, reported by the schema; the API server would not run CEL on it
    for rule in rules:
        check = _CEL_CHECKS.get((rule["message"], rule["fieldPath"]))
        if check is not None and not check.holds(instance):
            field_path = [part for part in rule["fieldPath"].split(".") if part]
            yield ValidationError(rule["message"], path=field_path)


def _list_map_keys_keyword(
    validator: Any, keys: list[str], instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    """``x-kubernetes-list-type: map``: no two items may share the same key fields."""
    if not isinstance(instance, list):
        return
    seen: dict[tuple[str, ...], int] = {}
    for index, item in enumerate(instance):
        if not isinstance(item, Mapping):
            continue
        key = tuple(json.dumps(item.get(k), sort_keys=True) for k in keys)
        if key in seen:
            shown = ", ".join(f"{k}={item.get(k)!r}" for k in keys)
            yield ValidationError(f"duplicate entry {shown} (also at index {seen[key]})", path=[index])
        else:
            seen[key] = index


# Draft 2020-12 plus the two Kubernetes extensions above (cast: extend() is untyped in the stubs).
_Validator = cast(Callable[..., Any], jsonschema.validators.extend)(
    jsonschema.Draft202012Validator,
    {"x-kubernetes-validations": _cel_keyword, "x-kubernetes-list-map-keys": _list_map_keys_keyword},
)

# --------------------------------------------------------------------------------------------
# Formats the API server checks
# --------------------------------------------------------------------------------------------


def _is_int32(value: object) -> bool:
    return not isinstance(value, int) or -(2**31) <= value < 2**31


def _is_int64(value: object) -> bool:
    return not isinstance(value, int) or -(2**63) <= value < 2**63


def _is_base64(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        base64.b64decode(value, validate=True)
    except ValueError:
        return False
    return True


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _RFC3339.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


_FORMATS = jsonschema.FormatChecker(formats=())
_FORMATS.checkers.update(
    {
        "int32": (_is_int32, ()),
        "int64": (_is_int64, ()),
        "byte": (_is_base64, ()),
        "date-time": (_is_date_time, ()),
    }
)


# --------------------------------------------------------------------------------------------
# Object-level rules the API server applies outside the schema (ObjectMeta validation)
# --------------------------------------------------------------------------------------------

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")

_Problem = tuple[list[str | int], str]


def _dns_label_problem(value: str) -> str | None:
    if len(value) > 63 or not _DNS1123_LABEL.fullmatch(value):
        return f"{value!r} is not a DNS-1123 label (lower-case alphanumerics and '-', at most 63)"
    return None


def _dns_subdomain_problem(value: str) -> str | None:
    if len(value) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(value):
        return f"{value!r} is not a DNS-1123 subdomain (lower-case alphanumerics, '-' and '.', at most 253)"
    return None


def _qualified_key_problem(key: str) -> str | None:
    """Label/annotation key: ``[prefix/]name``, prefix a DNS subdomain, name at most 63."""
    prefix, _, name = key.rpartition("/")
    if prefix and _dns_subdomain_problem(prefix):
        return f"key {key!r}: prefix is not a DNS-1123 subdomain"
    if not name or len(name) > 63 or not _QUALIFIED_NAME.fullmatch(name):
        return f"key {key!r} is not a qualified name (alphanumerics, '-', '_', '.', at most 63)"
    return None


def _object_rules(obj: Mapping[str, Any], info: _KindSchema) -> list[_Problem]:
    problems: list[_Problem] = []
    meta = obj.get("metadata")
    if isinstance(meta, Mapping):
        name, namespace = meta.get("name"), meta.get("namespace")
        if isinstance(name, str):
            problem = _dns_label_problem(name) if info.kind == "Namespace" else _dns_subdomain_problem(name)
            if problem:
                problems.append((["metadata", "name"], problem))
        if isinstance(namespace, str) and (problem := _dns_label_problem(namespace)):
            problems.append((["metadata", "namespace"], problem))
        for field in ("labels", "annotations"):
            entries = meta.get(field)
            if not isinstance(entries, Mapping):
                continue
            for key, value in entries.items():
                if problem := _qualified_key_problem(str(key)):
                    problems.append((["metadata", field], problem))
                bad_value = isinstance(value, str) and (len(value) > 63 or not _LABEL_VALUE.fullmatch(value))
                if field == "labels" and bad_value:
                    problems.append((["metadata", field, str(key)], f"{value!r} is not a valid label value"))
    if (info.api_version, info.kind) in {("v1", "ConfigMap"), ("v1", "Secret")}:
        fields = ("data", "binaryData") if info.kind == "ConfigMap" else ("data", "stringData")
        seen: dict[str, str] = {}
        for field in fields:
            entries = obj.get(field)
            if not isinstance(entries, Mapping):
                continue
            for key in entries:
                if len(str(key)) > 253 or not _CONFIG_KEY.fullmatch(str(key)):
                    problems.append(([field], f"key {key!r}: only alphanumerics, '-', '_' and '.' allowed"))
                if info.kind == "ConfigMap" and key in seen:
                    problems.append(([field], f"key {key!r} is also in {seen[key]}"))
                seen.setdefault(str(key), field)
    if info.api_version.startswith("mqttbroker.iotoperations.azure.com/"):
        problems += _aio_port_ranges(obj)
    return problems


def _aio_port_ranges(obj: Mapping[str, Any]) -> list[_Problem]:
    """Ports are int32 in 0-65535 (the ARM types); the derived schema has no ranges (tests/upstream/SOURCES.md)."""
    problems: list[_Problem] = []
    spec = obj.get("spec")
    ports = spec.get("ports") if isinstance(spec, Mapping) else None
    if not isinstance(ports, list):
        return problems
    for index, port in enumerate(ports):
        if not isinstance(port, Mapping):
            continue
        for field in ("port", "nodePort"):
            value = port.get(field)
            if isinstance(value, int) and not isinstance(value, bool) and not 0 <= value <= 65535:
                problems.append((["spec", "ports", index, field], f"{value} is outside 0-65535"))
    return problems


# --------------------------------------------------------------------------------------------
# Error text
# --------------------------------------------------------------------------------------------


def _label(obj: Mapping[str, Any]) -> str:
    kind = obj.get("kind") if isinstance(obj.get("kind"), str) else "<no kind>"
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    name = meta.get("name") if isinstance(meta.get("name"), str) else "<no name>"
    namespace = meta.get("namespace")
    return f"{kind} {namespace}/{name}" if isinstance(namespace, str) else f"{kind} {name}"


def _json_path(path: list[str | int]) -> str:
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            out += f".{part}"
        else:
            out += f"[{json.dumps(part)}]"
    return out


def _describe(err: ValidationError, info: _KindSchema) -> str:
    closed = err.validator == "additionalProperties" and err.validator_value is False
    if closed and isinstance(err.instance, dict):
        known = set(err.schema.get("properties", {})) if isinstance(err.schema, Mapping) else set()
        unknown = sorted(str(k) for k in err.instance if k not in known)
        names = ", ".join(repr(k) for k in unknown)
        return f"unknown field {names} (the API server would drop it; schema: {info.source})"
    if err.validator == "format":
        meaning = {"byte": "base64 data"}.get(str(err.validator_value), f"format {err.validator_value!r}")
        return f"{err.instance!r} is not valid {meaning}"
    if err.validator == "not" and list(err.absolute_path) == ["metadata"]:
        return f"metadata.namespace must not be set: {info.kind} is cluster-scoped"
    return str(err.message)


def validate_tree(tree: dict[str, str]) -> tuple[list[str], int]:
    """Every resource file of a rendered tree (path -> text) checked: (problems, resources checked)."""
    import yaml

    problems: list[str] = []
    count = 0
    for path, text in tree.items():
        if not path.endswith(".yaml") or path.endswith("kustomization.yaml"):
            continue
        count += 1
        problems += [f"{path}: {p}" for p in validate_resource(yaml.safe_load(text))]
    return problems, count
