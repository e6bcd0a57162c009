"""Behaviour of a freshly opened embedded chain, through its ``Web3``."""

from __future__ import annotations

import itertools

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from notary.chain.errors import ChainError, TransactionRejected
from notary.chain.node import embedded
from notary.chain.node.embedded import (
    DEFAULT_CHAIN_ID,
    FORK,
    EmbeddedChain,
    TransactionRejectedError,
)
from tests._support.chain_accounts import FUNDING, TEST_CHAIN_ID, Sender
from tests.notary.chain.node._contract import INIT, LOG_TOPIC, REVERT_DATA, RUNTIME, word


def test_genesis_funds_only_the_deployment_accounts(
    chain: EmbeddedChain, account: LocalAccount
) -> None:
    w3 = chain.w3
    assert w3.eth.chain_id == TEST_CHAIN_ID
    assert w3.net.version == str(TEST_CHAIN_ID)
    assert w3.eth.block_number == 0
    assert w3.eth.get_balance(account.address) == FUNDING
    # No unlocked accounts, in particular none of eth-tester's public test keys.
    assert w3.eth.accounts == []
    assert chain.settings.fork == FORK == "prague"


def test_default_chain_id(tmp_path: object) -> None:
    from pathlib import Path

    with EmbeddedChain.open(Path(str(tmp_path)) / "c", genesis_alloc={}) as chain:
        assert chain.w3.eth.chain_id == DEFAULT_CHAIN_ID == 1337_0001


def test_each_raw_transaction_is_mined_into_its_own_block(
    chain: EmbeddedChain, sender: Sender
) -> None:
    recipient = Web3.to_checksum_address("0x" + "ab" * 20)
    hashes = [sender.send(to=recipient, value=7, gas=21_000) for _ in range(3)]
    receipts = [chain.w3.eth.get_transaction_receipt(h) for h in hashes]
    assert [r["blockNumber"] for r in receipts] == [1, 2, 3]
    assert all(r["status"] == 1 for r in receipts)
    assert chain.w3.eth.get_balance(recipient) == 21
    assert chain.head_number() == 3


def test_contract_deploy_call_logs_and_revert_data(chain: EmbeddedChain, sender: Sender) -> None:
    w3 = chain.w3
    deployed = w3.eth.get_transaction_receipt(sender.send(data=INIT))
    address = deployed["contractAddress"]
    assert w3.eth.get_code(address) == RUNTIME

    receipt = w3.eth.get_transaction_receipt(sender.send(to=address, data=word(42)))
    assert receipt["status"] == 1
    assert [bytes(t) for t in receipt["logs"][0]["topics"]] == [LOG_TOPIC]
    # A call needs no "from" and no funds, as on a node.
    assert w3.eth.call({"to": address}) == word(42)
    with pytest.raises(Exception) as raised:
        w3.eth.call({"to": address, "data": word(0)})
    # The raw revert bytes survive (the client decodes custom errors from them).
    assert repr(REVERT_DATA) in str(raised.value)
    context = raised.value.__context__
    assert isinstance(context, embedded.RevertError) and context.data == REVERT_DATA


def test_transactions_signed_for_another_chain_are_rejected(
    chain: EmbeddedChain, account: LocalAccount
) -> None:
    tx = {
        "type": 2,
        "chainId": 1,
        "nonce": 0,
        "gas": 21_000,
        "maxFeePerGas": 2 * 10**9,
        "maxPriorityFeePerGas": 1,
        "to": account.address,
        "value": 1,
    }
    with pytest.raises(TransactionRejectedError) as raised:
        chain.w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    assert isinstance(raised.value, TransactionRejected)
    assert isinstance(raised.value, ChainError)
    assert chain.head_number() == 0


def test_unprotected_legacy_transactions_are_rejected(
    chain: EmbeddedChain, account: LocalAccount
) -> None:
    tx = {"nonce": 0, "gas": 21_000, "gasPrice": 2 * 10**9, "to": account.address, "value": 1}
    raw = Account.sign_transaction(tx, account.key).raw_transaction  # no chainId: pre-EIP-155
    with pytest.raises(TransactionRejectedError):
        chain.w3.eth.send_raw_transaction(raw)


def test_legacy_eip155_transactions_are_accepted(
    chain: EmbeddedChain, account: LocalAccount
) -> None:
    tx = {
        "nonce": 0,
        "gas": 21_000,
        "gasPrice": 2 * 10**9,
        "to": account.address,
        "value": 1,
        "chainId": TEST_CHAIN_ID,
    }
    tx_hash = chain.w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    assert chain.w3.eth.get_transaction_receipt(tx_hash)["status"] == 1


def test_block_timestamp_is_taken_when_the_transaction_arrives(
    chain: EmbeddedChain, sender: Sender, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pending block was created when the chain opened; without the refresh
    # it would carry that time however long the chain then sat idle.
    later = chain.w3.eth.get_block("latest")["timestamp"] + 3_600
    monkeypatch.setattr(embedded.time, "time", lambda: float(later))
    receipt = chain.w3.eth.get_transaction_receipt(sender.send(to=sender.account.address))
    assert chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"] == later


def test_block_timestamps_strictly_increase_above_one_block_per_second(
    chain: EmbeddedChain, sender: Sender
) -> None:
    # Documented behaviour: a fast burst runs ahead of the clock by design.
    for _ in range(5):
        sender.send(to=sender.account.address, gas=21_000)
    stamps = [chain.w3.eth.get_block(n)["timestamp"] for n in range(1, 6)]
    assert all(b > a for a, b in itertools.pairwise(stamps))


def test_snapshots_are_refused(chain: EmbeddedChain) -> None:
    with pytest.raises(embedded.EmbeddedChainError):
        chain.tester.take_snapshot()


def test_old_receipts_are_found_by_index(chain: EmbeddedChain, sender: Sender) -> None:
    first = sender.send(to=sender.account.address, gas=21_000)
    for _ in range(20):
        sender.send(to=sender.account.address, gas=21_000)
    assert chain.w3.eth.get_transaction_receipt(first)["blockNumber"] == 1
    assert chain.w3.eth.get_transaction(first)["blockNumber"] == 1
    with pytest.raises(Exception, match="not found"):
        chain.w3.eth.get_transaction_receipt("0x" + "00" * 32)
