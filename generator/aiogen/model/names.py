"""Is this a valid Kubernetes name, DNS name or IP? (one place for every naming rule)

Kubernetes object names: DNS-1123 subdomain (≤253, lowercase alphanumerics, '-' and '.'), or
DNS-1123 label (≤63, no dots) for namespaces and anything used as a label value or Service name.
SANs: RFC 1123 host names with at most one leading wildcard label, and IP literals.
"""

from __future__ import annotations

import ipaddress
import re

_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_LABEL = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?")
_CONFIGMAP_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_KEY_VAULT = re.compile(r"[A-Za-z][-A-Za-z0-9]{1,22}[A-Za-z0-9]")
# Key Vault secret names (1-127 of [0-9a-zA-Z-]) that also match SecretSync's sourcePath pattern.
_KEY_VAULT_SECRET = re.compile(r"[A-Za-z0-9](?:[-A-Za-z0-9]{0,125}[A-Za-z0-9])?")


def label_problem(value: str) -> str | None:
    """Why ``value`` is not a DNS-1123 label, or None."""
    if not value:
        return "must not be empty"
    if len(value) > 63:
        return f"is {len(value)} characters; a DNS-1123 label has at most 63"
    if not _LABEL.fullmatch(value):
        return "must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending alphanumeric"
    return None


def subdomain_problem(value: str) -> str | None:
    """Why ``value`` is not a DNS-1123 subdomain, or None."""
    if not value:
        return "must not be empty"
    if len(value) > 253:
        return f"is {len(value)} characters; a DNS-1123 subdomain has at most 253"
    for part in value.split("."):
        if not _LABEL.fullmatch(part) or len(part) > 63:
            return (
                "must be a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', "
                "each dot-separated part starting and ending alphanumeric"
            )
    return None


def configmap_key_problem(value: str) -> str | None:
    if not value or len(value) > 253 or not _CONFIGMAP_KEY.fullmatch(value) or value in {".", ".."}:
        return "must be a ConfigMap key: letters, digits, '-', '_' and '.', at most 253 characters"
    return None


def dns_name_problem(value: str) -> str | None:
    """Why ``value`` is not a valid SAN DNS name (RFC 1123, one leading wildcard label at most)."""
    if not value:
        return "must not be empty"
    if len(value) > 253:
        return f"is {len(value)} characters; a DNS name has at most 253"
    labels = value.rstrip(".").split(".") if value != "." else []
    if value.endswith("."):
        return "must not end with a dot"
    if not labels:
        return "is not a DNS name"
    for index, label in enumerate(labels):
        if label == "*":
            if index != 0:
                return "may hold a wildcard only as its whole first label (*.example.com)"
            if len(labels) < 3:
                return "wildcard names need at least two labels after '*' (*.example.com)"
            continue
        if "*" in label:
            return "may hold a wildcard only as its whole first label (*.example.com)"
        if len(label) > 63:
            return f"has a label of {len(label)} characters; at most 63"
        if not _DNS_LABEL.fullmatch(label):
            return f"has an invalid label {label!r}: letters, digits and '-', not starting or ending with '-'"
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return None
    return "is an IP address; list it under san.ip instead"


def ip_problem(value: str) -> str | None:
    """Why ``value`` is not an IP address a certificate can hold (no network, no IPv6 zone), or None."""
    if "/" in value:
        return "is a network, not an address"
    if "%" in value:
        return "has an IPv6 zone (%...); a certificate holds the address only"
    if not value.isascii():
        return "is not an IPv4 or IPv6 address"
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return "is not an IPv4 or IPv6 address"
    return None


def canonical_ip(value: str) -> str:
    return str(ipaddress.ip_address(value))


def label_key_problem(value: str) -> str | None:
    """Why ``value`` is not a Kubernetes label key (``[prefix/]name``), or None.

    https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set
    """
    prefix, _, name = value.rpartition("/")
    if "/" in value and (not prefix or subdomain_problem(prefix)):
        return "must be a label key: its prefix before '/' must be a DNS-1123 subdomain"
    if not name or len(name) > 63 or not _LABEL_NAME.fullmatch(name):
        return (
            "must be a label key: at most 63 letters, digits, '-', '_' and '.', starting and ending "
            "alphanumeric (optionally after a DNS subdomain prefix and '/')"
        )
    return None


def label_value_problem(value: str) -> str | None:
    """Why ``value`` is not a Kubernetes label value (empty, or a label key's name part), or None."""
    if value and (len(value) > 63 or not _LABEL_NAME.fullmatch(value)):
        return (
            "must be a label value: at most 63 letters, digits, '-', '_' and '.', starting and ending "
            "alphanumeric"
        )
    return None


def guid_problem(value: str) -> str | None:
    """Why ``value`` is not a GUID (an Azure client or tenant ID), or None."""
    if not _GUID.fullmatch(value):
        return "is not a GUID (like 00000000-0000-0000-0000-000000000000)"
    return None


def key_vault_name_problem(value: str) -> str | None:
    """Why Azure would refuse ``value`` as a Key Vault name, or None.

    https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules#microsoftkeyvault
    """
    if not _KEY_VAULT.fullmatch(value) or "--" in value:
        return (
            "is not a Key Vault name: 3-24 letters, digits and '-', starting with a letter, ending with a "
            "letter or digit, no consecutive '-'"
        )
    return None


def key_vault_secret_problem(value: str) -> str | None:
    """Why ``value`` cannot name a Key Vault secret that a SecretSync ``sourcePath`` reads, or None."""
    if not _KEY_VAULT_SECRET.fullmatch(value):
        return (
            "is not a Key Vault secret name usable as a SecretSync sourcePath: 1-127 letters, digits and '-', "
            "starting and ending alphanumeric"
        )
    return None
