"""A chain reader that remembers answers for the span of one package verification.

``verify_package`` checks the anchor of every material's evidence receipt: four view
calls each (anchor, member, membership at the block, transaction receipt). The
materials of one package share a handful of checkpoints, and within one verification
every one of these answers is fixed (anchors and receipts never change; membership is
asked *at a block*), so a package of 150 materials needs a few calls, not 600.
"""

from __future__ import annotations

from typing import Any

from notary.chain import ChainClient


class CachedAnchorReader:
    def __init__(self, chain: ChainClient) -> None:
        self._chain = chain
        self._memo: dict[tuple[Any, ...], Any] = {}

    @property
    def chain_id(self) -> int:
        return self._chain.chain_id

    @property
    def address(self) -> str:
        return str(self._chain.address)

    def _cached(self, key: tuple[Any, ...], call: Any) -> Any:
        if key not in self._memo:
            self._memo[key] = call()
        return self._memo[key]

    def get_anchor(self, log_id: bytes, tree_size: int) -> Any:
        return self._cached(
            ("anchor", log_id, tree_size), lambda: self._chain.get_anchor(log_id, tree_size)
        )

    def member(self, account: str) -> Any:
        return self._cached(("member", account), lambda: self._chain.member(account))

    def was_active_at(self, account: str, role: Any, block_number: int) -> bool:
        return bool(
            self._cached(
                ("active", account, role, block_number),
                lambda: self._chain.was_active_at(account, role, block_number),
            )
        )

    def transaction_receipt(self, tx_hash: str) -> Any:
        return self._cached(("tx", tx_hash), lambda: self._chain.transaction_receipt(tx_hash))
