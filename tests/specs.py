"""Valid base specs for rule tests, written to a temporary directory with their PEM files."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

Spec = dict[str, Any]


def intermediate_fleet() -> Spec:
    return {
        "apiVersion": "aiogen.io/v1alpha1",
        "kind": "Topology",
        "metadata": {"name": "test-fleet"},
        "spec": {
            "roots": {"root-a": {"certificate": {"file": "pki/root-a.pem"}}},
            "clientRoots": {"devices": {"certificate": {"file": "pki/devices.pem"}}},
            "clusters": [
                {
                    "name": "plant-a",
                    "pki": {
                        "mode": "intermediate",
                        "root": "root-a",
                        "intermediate": {
                            "keyVault": {"vault": "kv-a", "certificateSecret": "ica-a", "keySecret": "ica-a-key", "clientID": "00000000-0000-4000-8000-0000000000c1", "tenantID": "00000000-0000-4000-8000-0000000000a1"},
                            "certificate": {"file": "pki/ica-a.pem"},
                        },
                    },
                    "broker": {
                        "listeners": [
                            {
                                "name": "mqtts",
                                "serviceType": "LoadBalancer",
                                "ports": [{"port": 8883, "authentication": "x509",
                                           "tls": {"san": {"dns": ["mqtt.a.example"], "ip": ["10.0.0.1"]}}}],
                            }
                        ],
                        "authentication": {"x509": {"trustedClientRoots": ["devices"]}},
                    },
                }
            ],
        },
    }


def lab() -> Spec:
    return {
        "apiVersion": "aiogen.io/v1alpha1",
        "kind": "Topology",
        "metadata": {"name": "lab"},
        "spec": {
            "clusters": [
                {
                    "name": "lab-1",
                    "pki": {"mode": "single-root", "root": {"selfSigned": {"commonName": "lab root"}}},
                    "broker": {
                        "listeners": [
                            {"name": "lab-mqtts", "serviceType": "LoadBalancer",
                             "ports": [{"port": 8883, "authentication": "serviceAccountToken",
                                        "tls": {"san": {"dns": ["mqtt.lab.example"]}}}]}
                        ]
                    },
                }
            ]
        },
    }


def write_spec(directory: Path, pki_dir: Path, spec: Spec, mutate: Callable[[Spec], None] | None = None,
               name: str = "fleet.yaml") -> Path:
    spec = copy.deepcopy(spec)
    if mutate:
        mutate(spec)
    target = directory / "pki"
    if not target.exists():
        shutil.copytree(pki_dir, target)
    path = directory / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def cluster(spec: Spec, index: int = 0) -> dict[str, Any]:
    return spec["spec"]["clusters"][index]  # type: ignore[no-any-return]


def port(spec: Spec, listener: int = 0, index: int = 0) -> dict[str, Any]:
    return cluster(spec)["broker"]["listeners"][listener]["ports"][index]  # type: ignore[no-any-return]
