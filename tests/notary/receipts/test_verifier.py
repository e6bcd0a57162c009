"""ReceiptVerifier: the one place that decides whether a receipt is trusted."""

from __future__ import annotations

import pytest

from notary.crypto import SM2PrivateKey, sm3
from notary.errors import AnchorMismatch, EntryMismatch, NotAnchored, UntrustedKey
from notary.receipts import EvidenceReceipt
from notary.verifier import ReceiptVerifier, TrustPolicy
from tests._support.transfer_package import FakeChain, evidence_for, materials, seal_all


@pytest.fixture(scope="module")
def log_key() -> SM2PrivateKey:
    return SM2PrivateKey.generate()


@pytest.fixture(scope="module")
def receipt(log_key: SM2PrivateKey) -> EvidenceReceipt:
    items = materials(2)
    seal_all(items)
    return next(iter(evidence_for(items, log_key).values()))


def test_a_pinned_key_passes_and_another_is_refused(
    receipt: EvidenceReceipt, log_key: SM2PrivateKey
) -> None:
    chain = FakeChain([receipt], log_key)
    ok = ReceiptVerifier(TrustPolicy.pinned(log_key.public_key), chain).verify(receipt)
    assert ok.trusted_by == "pinned" and ok.anchor is not None
    other = SM2PrivateKey.generate().public_key
    with pytest.raises(UntrustedKey):
        ReceiptVerifier(TrustPolicy.pinned(other), chain).verify(receipt)


def test_the_registry_binds_the_key_only_through_the_anchor(
    receipt: EvidenceReceipt, log_key: SM2PrivateKey
) -> None:
    with pytest.raises(ValueError, match="chain reader"):
        ReceiptVerifier(TrustPolicy.registry())
    ok = ReceiptVerifier(TrustPolicy.registry(), FakeChain([receipt], log_key)).verify(receipt)
    assert ok.trusted_by == "chain"
    # The chain's member holds another key: the receipt's signer is not vouched for.
    stranger = FakeChain([receipt], SM2PrivateKey.generate())
    with pytest.raises(AnchorMismatch):
        ReceiptVerifier(TrustPolicy.registry(), stranger).verify(receipt)


def test_only_the_named_anchorers_count(receipt: EvidenceReceipt, log_key: SM2PrivateKey) -> None:
    chain = FakeChain([receipt], log_key)  # anchors are made by account "0xA"
    assert ReceiptVerifier(TrustPolicy.registry("0xa"), chain).verify(receipt).anchor
    with pytest.raises(UntrustedKey, match="anchored by 0xA"):
        ReceiptVerifier(TrustPolicy.registry("0xB"), chain).verify(receipt)


def test_an_anchor_is_required_unless_the_policy_allows_pending(
    receipt: EvidenceReceipt, log_key: SM2PrivateKey
) -> None:
    missing = FakeChain([], log_key)  # the chain holds no anchor for this checkpoint
    with pytest.raises(NotAnchored):
        ReceiptVerifier(TrustPolicy.pinned(log_key.public_key), missing).verify(receipt)
    offline_only = ReceiptVerifier(TrustPolicy.pinned(log_key.public_key, require_anchor=False))
    result = offline_only.verify(receipt)
    assert result.anchor is None and result.trusted_by == "pinned"


def test_the_material_is_checked_against_the_entry(
    receipt: EvidenceReceipt, log_key: SM2PrivateKey
) -> None:
    verifier = ReceiptVerifier(TrustPolicy.pinned(log_key.public_key, require_anchor=False))
    with pytest.raises(EntryMismatch):
        verifier.verify(receipt, material_sm3=sm3(b"another file"))
