"""Locally signed transactions: explicit gas and fees, pending-count nonces, receipt polling.

Nonces are never persisted. Every transaction takes ``eth_getTransactionCount(addr,
"pending")`` under a lock and is waited for before the lock is released, so:
- after a crash or a timeout, a transaction the node still holds is counted (no
  duplicate nonce) and one it dropped is not (no gap);
- two senders with one key in one process are serialised.
(eth-tester has no mempool: with automining off it checks a nonce against the
state and a second submission of that nonce replaces the first, which is harmless
for idempotent anchoring; real nodes count their pool in "pending".)
Two *processes* sharing a key (the supervisor and the workers of ``notary serve
--workers N``) are coordinated by a retry alone: a nonce the other took is refused
("nonce too low" from a node, a nonce mismatch from an in-process chain) and the
count is read again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from eth_account import Account
from eth_typing import ChecksumAddress
from eth_utils import ValidationError
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import TransactionNotFound, Web3RPCError
from web3.types import TxParams, TxReceipt, Wei

from notary.chain.errors import TransactionRejected, TransactionReverted, TransactionTimeout
from notary.chain.revert import revert_data
from notary.chain.rpc import unavailable_on_transport_error

RevertDecoder = Callable[[bytes, str, str | None], TransactionReverted]

_SUBMIT_ATTEMPTS = 5
_NONCE_RACE_MARKERS = ("nonce too low", "replacement transaction underpriced", "nonce too high")
_ALREADY_KNOWN_MARKERS = ("already known", "known transaction", "already imported")


class TransactionSender:
    def __init__(
        self,
        w3: Web3,
        private_key: bytes,
        decode_revert: RevertDecoder,
        *,
        receipt_timeout: float = 60.0,
        poll_interval: float = 0.005,
        max_poll_interval: float = 0.1,
        gas_margin: float = 1.25,
        chain_id: int | None = None,
    ) -> None:
        self._w3 = w3
        self._account = Account.from_key(private_key)
        self._decode_revert = decode_revert
        self.receipt_timeout = receipt_timeout
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.gas_margin = gas_margin
        self._lock = threading.Lock()
        self._eip1559: bool | None = None
        if chain_id is None:
            with unavailable_on_transport_error("reading chain id"):
                chain_id = int(w3.eth.chain_id)
        self.chain_id: int = chain_id

    @property
    def address(self) -> ChecksumAddress:
        return ChecksumAddress(self._account.address)

    def _typed(self, exc: Exception, action: str, tx_hash: str | None) -> Exception:
        """The typed counterpart of a provider exception; `exc` itself if there is none."""
        data = revert_data(exc)
        if data is not None:
            return self._decode_revert(data, action, tx_hash)
        if isinstance(exc, Web3RPCError):
            return TransactionRejected(f"{action}: node refused: {exc}")
        return exc

    def call(self, tx: TxParams, action: str, block: int | str = "latest") -> bytes:
        with unavailable_on_transport_error(action):
            try:
                return bytes(self._w3.eth.call(tx, block))  # type: ignore[arg-type]
            except Exception as exc:
                typed = self._typed(exc, action, None)
                if typed is exc:
                    raise
                raise typed from exc

    def _fees(self) -> dict[str, int]:
        latest = self._w3.eth.get_block("latest")
        if self._eip1559 is None:
            self._eip1559 = latest.get("baseFeePerGas") is not None
        if not self._eip1559:
            return {"gasPrice": self._w3.eth.gas_price}
        base = int(latest["baseFeePerGas"])
        try:
            tip = int(self._w3.eth.max_priority_fee)
        except Web3RPCError:
            tip = 0  # permissioned chains without the method run at zero tip
        # Room for the base fee to double before the transaction is underpriced.
        return {"maxFeePerGas": 2 * base + tip, "maxPriorityFeePerGas": tip}

    def transact(self, to: ChecksumAddress | None, data: bytes, action: str) -> TxReceipt:
        """Estimate, sign, send and wait; contract refusals surface as typed errors."""
        with self._lock, unavailable_on_transport_error(action):
            base: TxParams = {"from": self.address, "data": HexBytes(data), "value": Wei(0)}
            if to is not None:
                base["to"] = to
            try:
                estimate = self._w3.eth.estimate_gas(base)
            except Exception as exc:
                # A refusal is found here, before anything is signed or spent.
                typed = self._typed(exc, action, None)
                if typed is exc:
                    raise
                raise typed from exc
            gas = int(estimate * self.gas_margin) + 10_000
            gas_limit = int(self._w3.eth.get_block("latest")["gasLimit"])
            tx: dict[str, Any] = {
                **base,
                "gas": min(gas, gas_limit),
                "chainId": self.chain_id,
                **self._fees(),
            }
            tx_hash = self._submit(tx, action)
            receipt = self._wait(tx_hash)
            if receipt["status"] != 1:
                raise self._replay_revert(tx, receipt, action, tx_hash)
            return receipt

    def _submit(self, tx: dict[str, Any], action: str) -> str:
        for attempt in range(_SUBMIT_ATTEMPTS):
            tx["nonce"] = self._w3.eth.get_transaction_count(self.address, "pending")
            signed = self._account.sign_transaction(tx)
            tx_hash = "0x" + bytes(signed.hash).hex()
            try:
                self._w3.eth.send_raw_transaction(signed.raw_transaction)
                return tx_hash
            except Web3RPCError as exc:
                message = str(exc).lower()
                if any(m in message for m in _ALREADY_KNOWN_MARKERS):
                    return tx_hash  # this very transaction is already in the pool
                if attempt < _SUBMIT_ATTEMPTS - 1 and any(
                    m in message for m in _NONCE_RACE_MARKERS
                ):
                    continue  # another sender took the nonce; read the count again
                raise TransactionRejected(f"{action}: node refused the transaction: {exc}") from exc
            except ValidationError as exc:
                # In-process py-evm chains validate on submission (nonce, balance). A
                # nonce taken meanwhile by another process sending through this chain's
                # endpoint (notary serve --workers) is a race, as with a node.
                if attempt < _SUBMIT_ATTEMPTS - 1 and "nonce" in str(exc).lower():
                    continue
                raise TransactionRejected(f"{action}: chain refused the tx: {exc}") from exc
            except Exception as exc:
                # eth-tester executes on submission and raises the revert right here.
                data = revert_data(exc)
                if data is None:
                    raise
                raise self._decode_revert(data, action, tx_hash) from exc
        raise AssertionError("unreachable")

    def _wait(self, tx_hash: str) -> TxReceipt:
        deadline = time.monotonic() + self.receipt_timeout
        interval = self.poll_interval
        while True:
            try:
                return self._w3.eth.get_transaction_receipt(HexBytes(tx_hash))
            except TransactionNotFound:
                pass
            if time.monotonic() >= deadline:
                raise TransactionTimeout(tx_hash, self.receipt_timeout)
            time.sleep(interval)
            # Automining dev nodes answer within a poll or two; block-time chains
            # (QBFT: seconds) should not be hammered.
            interval = min(interval * 1.5, self.max_poll_interval)

    def _replay_revert(
        self, tx: dict[str, Any], receipt: TxReceipt, action: str, tx_hash: str
    ) -> TransactionReverted:
        # Receipts carry no revert data; re-running the call on the post-block state
        # reproduces the refusal in the usual case (a competing tx landed first).
        replay: TxParams = {"from": tx["from"], "data": tx["data"], "gas": tx["gas"]}
        if "to" in tx:
            replay["to"] = tx["to"]
        try:
            self._w3.eth.call(replay, receipt["blockNumber"])
        except Exception as exc:
            data = revert_data(exc)
            if data is not None:
                return self._decode_revert(data, action, tx_hash)
        return TransactionReverted(
            f"{action} reverted in block {receipt['blockNumber']}"
            f" (gas used {receipt['gasUsed']} of {tx['gas']})",
            tx_hash=tx_hash,
        )
