"""Shared helpers: a deployment key of our own and a signing sender.

Nothing here uses eth-tester's well-known keys: the chain is funded at genesis
for an account whose key is derived here, as a deployment would do.
"""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3

FUNDING = 10**24  # 1,000,000 ether in wei
TEST_CHAIN_ID = 4242_0001


def deployment_account(label: str = "deployment") -> LocalAccount:
    """A deterministic key for tests (never eth-tester's public test keys)."""
    return Account.from_key(Web3.keccak(text=f"archive-notary test key: {label}"))


class Sender:
    """Signs EIP-1559 transactions locally and sends them raw, as the service does."""

    def __init__(self, w3: Web3, account: LocalAccount) -> None:
        self.w3 = w3
        self.account = account

    def send(self, *, gas: int = 200_000, **fields: Any) -> HexBytes:
        tx: dict[str, Any] = {
            "type": 2,
            "chainId": self.w3.eth.chain_id,
            "nonce": self.w3.eth.get_transaction_count(self.account.address),
            "gas": gas,
            "maxFeePerGas": 2 * 10**9,
            "maxPriorityFeePerGas": 1,
            "value": 0,
            **fields,
        }
        signed = self.account.sign_transaction(tx)
        return self.w3.eth.send_raw_transaction(signed.raw_transaction)
