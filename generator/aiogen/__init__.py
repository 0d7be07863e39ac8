"""aiogen: PKI-as-code for Azure IoT Operations fleets.

One typed topology spec is rendered into deterministic cert-manager, trust-manager and AIO MQTT
broker manifests. Keep this module empty of imports: it runs inside every `kustomize build`.
"""

# The one version source: pyproject.toml reads it (dynamic version) for the aiogen-pki distribution.
__version__ = "0.1.0"
