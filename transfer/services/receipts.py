"""Evidence receipts (docs/receipt-format.md) built from the database.

A receipt proves a leaf against the *smallest* anchored checkpoint that contains it:
that checkpoint exists as soon as the first anchoring after the entry, and never
changes afterwards, so the same receipt is issued every time it is asked for.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from notary.checkpoint import parse_signed_checkpoint
from notary.crypto import SM2PublicKey, sm3
from notary.entries import decode_entry
from notary.log.merkle import inclusion_proof
from notary.receipts import EvidenceReceipt, build_receipt
from transfer.db.models import Checkpoint, LogLeaf
from transfer.db.treestore import DbTreeStorage
from transfer.services.anchoring import anchor_ref_of, covering_checkpoint


@dataclass(frozen=True, slots=True)
class ReceiptState:
    """A leaf's receipt, or why there is none yet."""

    leaf_index: int
    receipt: EvidenceReceipt | None  # None: no checkpoint covers the leaf yet
    checkpoint: Checkpoint | None

    @property
    def anchored(self) -> bool:
        return self.receipt is not None and self.receipt.anchor is not None


def entry_of(session: Session, leaf_index: int) -> dict[str, object]:
    raw = session.scalar(select(LogLeaf.entry).where(LogLeaf.idx == leaf_index))
    if raw is None:
        raise LookupError(f"the log has no entry {leaf_index}")
    return decode_entry(raw)


def receipt_for_checkpoint(
    session: Session, leaf_index: int, row: Checkpoint, log_key: SM2PublicKey
) -> EvidenceReceipt:
    proof = inclusion_proof(sm3, DbTreeStorage(session), leaf_index, row.tree_size)
    return build_receipt(
        entry_of(session, leaf_index),
        leaf_index,
        proof,
        parse_signed_checkpoint(row.body),
        log_key,
        anchor_ref_of(row),
    )


def stored_receipt(
    session: Session, leaf_index: int, log_key: SM2PublicKey
) -> EvidenceReceipt | None:
    """The leaf's proof against its smallest anchored checkpoint, assembled as stored and
    *not* checked (``build_receipt`` would refuse a bad one): the auditor checks it and
    names the failure (entry, inclusion, signature, anchor). None before anchoring;
    ``VerificationError`` when a stored entry or checkpoint does not even parse."""
    row = covering_checkpoint(session, leaf_index, anchored_only=True)
    if row is None:
        return None
    return EvidenceReceipt(
        entry=entry_of(session, leaf_index),
        leaf_index=leaf_index,
        inclusion_proof=tuple(
            inclusion_proof(sm3, DbTreeStorage(session), leaf_index, row.tree_size)
        ),
        checkpoint=parse_signed_checkpoint(row.body),
        log_public_key=log_key,
        anchor=anchor_ref_of(row),
    )


def receipt_state(
    session: Session, leaf_index: int, log_key: SM2PublicKey, *, anchored_only: bool = False
) -> ReceiptState:
    """The receipt of a leaf against its smallest covering checkpoint (anchored first)."""
    row = covering_checkpoint(session, leaf_index, anchored_only=anchored_only)
    if row is None:
        return ReceiptState(leaf_index, None, None)
    return ReceiptState(leaf_index, receipt_for_checkpoint(session, leaf_index, row, log_key), row)


class AnchoredCache:
    """A bounded LRU of per-leaf facts that can no longer change: a leaf's smallest
    anchored covering checkpoint is fixed once it exists (tree sizes only grow on
    chain), so its receipt is too. Only anchored receipts may be put here — a pending
    one still changes when its checkpoint is anchored. Saves the proof computation
    (several tree-node queries) on the hot verify-by-SM3 path; each entry was checked
    by ``build_receipt`` when it was made. Tampering with the stored log afterwards is
    the read path's, the audit's and the monitor's to find, not this answer's."""

    def __init__(self, max_entries: int = 8192) -> None:
        self._max = max_entries
        self._items: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, leaf_index: int) -> dict[str, Any] | None:
        with self._lock:
            value = self._items.get(leaf_index)
            if value is not None:
                self._items.move_to_end(leaf_index)
            return value

    def put(self, leaf_index: int, value: dict[str, Any]) -> None:
        with self._lock:
            self._items[leaf_index] = value
            self._items.move_to_end(leaf_index)
            while len(self._items) > self._max:
                self._items.popitem(last=False)
