"""The port of cert-manager's ParseSingleCertificateChain (https://cert-manager.io/docs/configuration/ca/)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509

from aiogen.pki.authority import CertificateAuthority
from aiogen.pki.chain import BROKEN_CHAIN, ChainError, check_signature_from, is_self_signed, parse_single_chain

NOW = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Material:
    root: CertificateAuthority
    int1: CertificateAuthority
    int2: CertificateAuthority
    leaf: x509.Certificate
    other_root: CertificateAuthority


@pytest.fixture(scope="module")
def pki() -> Material:
    root = CertificateAuthority.root("Chain Root", not_before=NOW, not_after=NOW + 3650 * DAY)
    int1 = root.child_ca("Chain Int 1", not_after=NOW + 1000 * DAY)
    int2 = int1.child_ca("Chain Int 2", not_after=NOW + 900 * DAY)
    leaf = int2.issue_leaf("leaf", dns=["leaf.example"], not_before=NOW, not_after=NOW + 30 * DAY)
    other = CertificateAuthority.root("Chain Root", not_before=NOW, not_after=NOW + 3650 * DAY)
    return Material(root, int1, int2, leaf.certificate, other)


def test_any_order_gives_the_same_chain(pki: Material) -> None:
    certs = [pki.leaf, pki.int2.certificate, pki.int1.certificate, pki.root.certificate]
    for order in itertools.permutations(certs):
        bundle = parse_single_chain(order)
        assert bundle.chain == (pki.leaf, pki.int2.certificate, pki.int1.certificate)
        assert bundle.ca == pki.root.certificate


def test_duplicates_are_dropped(pki: Material) -> None:
    bundle = parse_single_chain([pki.leaf, pki.int2.certificate, pki.int2.certificate, pki.leaf])
    assert bundle.chain == (pki.leaf, pki.int2.certificate)
    assert bundle.ca == pki.int2.certificate


def test_a_top_that_is_not_self_signed_is_served_and_is_the_ca(pki: Material) -> None:
    bundle = parse_single_chain([pki.leaf, pki.int2.certificate, pki.int1.certificate])
    assert bundle.chain == (pki.leaf, pki.int2.certificate, pki.int1.certificate)
    assert bundle.ca == pki.int1.certificate


def test_a_gap_breaks_the_chain(pki: Material) -> None:
    with pytest.raises(ChainError, match=f"^{BROKEN_CHAIN}$"):
        parse_single_chain([pki.leaf, pki.int1.certificate, pki.root.certificate])


def test_a_root_with_the_same_name_but_another_key_breaks_the_chain(pki: Material) -> None:
    with pytest.raises(ChainError, match=BROKEN_CHAIN):
        parse_single_chain([pki.int1.certificate, pki.other_root.certificate])


def test_single_certificates(pki: Material) -> None:
    root_only = parse_single_chain([pki.root.certificate])
    assert root_only.chain == (pki.root.certificate,) and root_only.ca == pki.root.certificate
    leaf_only = parse_single_chain([pki.leaf])
    assert leaf_only.chain == (pki.leaf,) and leaf_only.ca is None


def test_pem_output_is_canonical(pki: Material) -> None:
    bundle = parse_single_chain([pki.int2.certificate, pki.leaf])
    assert bundle.chain_pem.count(b"-----BEGIN CERTIFICATE-----") == 2
    assert bundle.ca_pem is not None and bundle.ca_pem.startswith(b"-----BEGIN CERTIFICATE-----\n")


def test_go_check_signature_from_requires_a_ca_parent(pki: Material) -> None:
    assert check_signature_from(pki.int1.certificate, pki.root.certificate)
    assert not check_signature_from(pki.int1.certificate, pki.other_root.certificate)
    assert is_self_signed(pki.root.certificate)
    assert not is_self_signed(pki.int1.certificate)
