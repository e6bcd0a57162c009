"""The embedded chain's gas estimate for an anchor: enough, and not the block's limit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from eth_tester.exceptions import TransactionFailed
from hexbytes import HexBytes
from web3 import Web3

from notary.chain import ChainClient, Role
from notary.chain.artifacts import load_artifact
from notary.chain.node.embedded import EmbeddedChain
from notary.crypto import sm3
from tests._support.chain_accounts import FUNDING, TEST_CHAIN_ID, Sender, deployment_account

LOG_ID = sm3(b"gas-estimate-log")


@pytest.fixture
def centre() -> LocalAccount:
    return deployment_account("centre")


@pytest.fixture
def anchored(
    tmp_path: Path, account: LocalAccount, centre: LocalAccount
) -> Iterator[tuple[EmbeddedChain, str]]:
    """A chain with ArchiveNotary deployed and ``centre`` a member that may anchor."""
    alloc = {account.address: FUNDING, centre.address: FUNDING}
    with EmbeddedChain.open(tmp_path / "chain", TEST_CHAIN_ID, alloc) as chain:
        admin = ChainClient.deploy(
            chain.w3, account.key, key_fingerprint=sm3(b"admin"), unit_id=sm3(b"admin-unit")
        )
        admin.add_member(centre.address, Role.ARCHIVE_CENTRE, sm3(b"log key"), sm3(b"centre"))
        yield chain, admin.address


def _anchor_data(address: str, tree_size: int) -> HexBytes:
    contract = Web3().eth.contract(
        address=Web3.to_checksum_address(address), abi=load_artifact().abi_list()
    )
    root = sm3(b"root %d" % tree_size)
    return HexBytes(contract.encode_abi("anchor", args=[LOG_ID, tree_size, root]))


def test_an_anchor_succeeds_with_exactly_the_estimated_gas(
    anchored: tuple[EmbeddedChain, str], centre: LocalAccount
) -> None:
    chain, address = anchored
    w3 = chain.w3
    sender = Sender(w3, centre)
    for tree_size in (1, 2, 5):  # the first anchor of a log writes more (its owner)
        tx = {"from": centre.address, "to": address, "data": _anchor_data(address, tree_size)}
        estimate = w3.eth.estimate_gas(tx)  # type: ignore[arg-type]
        # Far below the block's 30M: the estimate is the anchor's need, not the cap.
        assert 21_000 < estimate < 200_000
        receipt = w3.eth.get_transaction_receipt(
            sender.send(to=address, data=tx["data"], gas=estimate)
        )
        assert receipt["status"] == 1
        # The estimate is close to what the anchor used (refunds, the 1/64 rule).
        assert receipt["gasUsed"] <= estimate < receipt["gasUsed"] * 1.1


def test_much_less_than_the_estimate_is_a_clear_out_of_gas(
    anchored: tuple[EmbeddedChain, str], centre: LocalAccount
) -> None:
    chain, address = anchored
    w3 = chain.w3
    data = _anchor_data(address, 1)
    tx = {"from": centre.address, "to": address, "data": data}
    estimate = w3.eth.estimate_gas(tx)  # type: ignore[arg-type]
    with pytest.raises(TransactionFailed, match=r"(?i)out of gas"):
        w3.eth.call({**tx, "gas": estimate // 2})  # type: ignore[arg-type]
    receipt = w3.eth.get_transaction_receipt(
        Sender(w3, centre).send(to=address, data=data, gas=estimate // 2)
    )
    assert receipt["status"] == 0  # mined, failed, nothing anchored
    reader = ChainClient.reader(w3, address)
    assert reader.get_anchor(LOG_ID, 1) is None
