"""Anchoring: checkpoints reach the chain exactly once, receipts gain their chain part,
and the on-chain check catches every false claim about an anchor."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from web3 import Web3

from notary.anchoring import Anchorer, MemoryOutbox, covering_size, verify_anchor
from notary.chain import ChainClient, Role, account_address
from notary.chain.anvil import AnvilProcess, dev_private_keys
from notary.chain.errors import ChainUnavailable
from notary.crypto import SM2PrivateKey, sm3
from notary.entries import decode_entry, encode_entry, material_registered
from notary.errors import AnchorMismatch, NotAnchored
from notary.log import MerkleLog
from notary.receipts import EvidenceReceipt, build_receipt, verify_offline
from tests.notary.chain._world import Cast, Chain

ORIGIN = "centre-test.example/log"


def entry(i: int) -> bytes:
    return encode_entry(
        material_registered(
            material_id=f"m{i}",
            sm3_hex=sm3(str(i).encode()).hex(),
            cid="bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
            size=i,
            category="1",
            volume="v" * 8,
            unit="U1",
            version=1,
            time_ms=1_000 + i,
        )
    )


@dataclasses.dataclass
class Deployment:
    log: MerkleLog
    key: SM2PrivateKey
    client: ChainClient
    outbox: MemoryOutbox
    anchorer: Anchorer

    def receipt(self, index: int) -> EvidenceReceipt:
        found = self.outbox.covering(index)
        assert found is not None
        cp, anchor = found
        size = cp.checkpoint.tree_size
        return build_receipt(
            decode_entry(entry(index)),
            index,
            self.log.inclusion_proof(index, size),
            cp,
            self.key.public_key,
            anchor,
        )


def make_deployment(w3: Web3, contract: str, admin: ChainClient, chain_key: bytes) -> Deployment:
    key = SM2PrivateKey.generate()
    admin.add_member(
        account_address(chain_key), Role.ARCHIVE_CENTRE, key.public_key.fingerprint(), sm3(b"u")
    )
    client = ChainClient(w3, contract, chain_key)
    log, outbox = MerkleLog(), MemoryOutbox()
    anchorer = Anchorer(log, key, ORIGIN, client, outbox, interval_s=0, max_entries=1)
    return Deployment(log, key, client, outbox, anchorer)


@pytest.fixture
def dep(chain: Chain, cast: Cast) -> Deployment:
    return make_deployment(chain.w3, cast.admin.address, cast.admin, chain.keys[7])


def test_receipts_verify_against_the_chain(chain: Chain, dep: Deployment) -> None:
    for i in range(5):
        dep.log.append(entry(i))
    dep.anchorer.step()
    for i in range(5, 9):
        dep.log.append(entry(i))
    assert dep.anchorer.step() == 1
    reader = ChainClient.reader(chain.w3, dep.client.address)
    for i in range(9):
        r = dep.receipt(i)
        assert r.anchor is not None
        verify_offline(r, material_sm3=sm3(str(i).encode()))
        check = verify_anchor(r, reader)
        assert check.anchored_by == dep.client.account
    assert dep.receipt(2).checkpoint.checkpoint.tree_size == 5
    assert dep.receipt(7).checkpoint.checkpoint.tree_size == 9


def test_false_anchor_claims_are_caught(chain: Chain, cast: Cast, dep: Deployment) -> None:
    for i in range(3):
        dep.log.append(entry(i))
    dep.anchorer.step()
    reader = ChainClient.reader(chain.w3, dep.client.address)
    good = dep.receipt(1)
    assert good.anchor is not None

    def with_anchor(**changes: object) -> EvidenceReceipt:
        assert good.anchor is not None
        return dataclasses.replace(good, anchor=dataclasses.replace(good.anchor, **changes))  # type: ignore[arg-type]

    with pytest.raises(AnchorMismatch, match="block"):
        verify_anchor(with_anchor(block_number=good.anchor.block_number + 1), reader)
    other_tx = cast.admin.add_member(
        account_address(chain.keys[8]), Role.UNIT, sm3(b"x"), sm3(b"y")
    ).tx_hash
    with pytest.raises(AnchorMismatch, match="transaction"):
        verify_anchor(with_anchor(tx_hash=other_tx), reader)
    with pytest.raises(AnchorMismatch, match="chain"):
        verify_anchor(with_anchor(chain_id=good.anchor.chain_id + 1), reader)
    with pytest.raises(NotAnchored):
        verify_anchor(dataclasses.replace(good, anchor=None), reader)


def test_checkpoint_signed_by_a_non_member_key_fails_the_anchor_check(
    chain: Chain, cast: Cast, dep: Deployment
) -> None:
    # A centre anchors a root it signed with a key that is not its registered key.
    dep.log.append(entry(0))
    rogue = SM2PrivateKey.generate()
    dep.anchorer.signer = rogue
    dep.anchorer.step()
    reader = ChainClient.reader(chain.w3, dep.client.address)
    cp, anchor = dep.outbox.covering(0)  # type: ignore[misc]
    r = build_receipt(
        decode_entry(entry(0)), 0, dep.log.inclusion_proof(0, 1), cp, rogue.public_key, anchor
    )
    with pytest.raises(AnchorMismatch, match="signing key"):
        verify_anchor(r, reader)


def test_suspended_centre_cannot_anchor_and_nothing_is_lost(
    chain: Chain, cast: Cast, dep: Deployment
) -> None:
    dep.log.append(entry(0))
    cast.admin.suspend_member(dep.client.account)
    assert dep.anchorer.step() == 0
    assert len(dep.outbox.pending()) == 1
    cast.admin.reinstate_member(dep.client.account)
    assert dep.anchorer.flush() == 1
    assert dep.outbox.pending() == []


def test_anchor_is_exactly_once_after_a_crash_between_send_and_record(dep: Deployment) -> None:
    dep.log.append(entry(0))
    cp = dep.anchorer.checkpoint_if_due()
    assert cp is not None
    # The transaction lands but the process dies before recording it.
    first = dep.client.anchor_checkpoint(cp.checkpoint.log_id, 1, cp.checkpoint.root)
    assert dep.anchorer.flush() == 1
    _, anchor = dep.outbox.covering(0)  # type: ignore[misc]
    assert anchor is not None and anchor.tx_hash == first.tx_hash.lower()


@pytest.mark.node
def test_chain_outage_queues_checkpoints_and_anchors_each_exactly_once(tmp_path: Path) -> None:
    state = tmp_path / "anvil-state.json"
    node = AnvilProcess(state_file=state).start()
    keys = dev_private_keys(3)
    try:
        w3 = Web3(Web3.HTTPProvider(node.url))
        admin = ChainClient.deploy(w3, keys[0], key_fingerprint=sm3(b"a"), unit_id=sm3(b"a"))
        dep = make_deployment(w3, admin.address, admin, keys[1])
        for i in range(3):
            dep.log.append(entry(i))
            dep.anchorer.step()
        port = node.port
    finally:
        node.stop()
    # The node is down: entries keep coming, checkpoints queue, none is lost.
    for i in range(3, 10):
        dep.log.append(entry(i))
        dep.anchorer.checkpoint_if_due()
        assert dep.anchorer.flush() == 0
    queued = [c.checkpoint.tree_size for c in dep.outbox.pending()]
    assert queued == list(range(4, 11))
    row_error = dep.outbox._rows[4].last_error
    assert row_error is not None and ChainUnavailable.__name__ in row_error
    node = AnvilProcess(state_file=state, port=port).start()
    try:
        assert dep.anchorer.flush() == len(queued)
        assert dep.outbox.pending() == []
        reader = ChainClient.reader(Web3(Web3.HTTPProvider(node.url)), admin.address)
        log_id = dep.outbox.latest().checkpoint.log_id  # type: ignore[union-attr]
        for size in range(1, 11):
            a = reader.get_anchor(log_id, size)
            assert a is not None and a.root == dep.log.root(size)
        for i in range(10):
            verify_anchor(dep.receipt(i), reader)
    finally:
        node.stop()


@given(st.lists(st.integers(1, 200), unique=True).map(sorted), st.integers(0, 250))
def test_a_leaf_is_covered_by_the_smallest_tree_that_holds_it(sizes: list[int], leaf: int) -> None:
    holding = [s for s in sizes if s > leaf]  # leaves are numbered from 0
    assert covering_size(sizes, leaf) == (min(holding) if holding else None)
