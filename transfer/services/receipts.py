"""Evidence receipts (docs/receipt-format.md) built from the database.

A receipt proves a leaf against the *smallest* anchored checkpoint that contains it:
that checkpoint exists as soon as the first anchoring after the entry, and never
changes afterwards, so the same receipt is issued every time it is asked for.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from notary.anchoring import covering_size
from notary.checkpoint import Checkpoint as CheckpointBody
from notary.checkpoint import SignedCheckpoint, parse_signed_checkpoint
from notary.crypto import SM2PublicKey, sm3
from notary.entries import decode_entry
from notary.errors import LogRowMissing, VerificationError
from notary.log.merkle import inclusion_proof, inclusion_proofs
from notary.receipts import EvidenceReceipt, build_receipt
from transfer.db.models import Checkpoint, CheckpointStatus, LogLeaf
from transfer.db.session import member_of
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
    session: Session,
    leaf_index: int,
    row: Checkpoint,
    log_key: SM2PublicKey,
    *,
    checked: bool = True,
) -> EvidenceReceipt:
    """The leaf's receipt against ``row``; ``checked=False`` assembles it as stored for
    a caller that verifies it itself (the verified read: one verification, not two)."""
    proof = inclusion_proof(sm3, DbTreeStorage(session), leaf_index, row.tree_size)
    parts = (
        entry_of(session, leaf_index),
        leaf_index,
        proof,
        parse_signed_checkpoint(row.body),
        log_key,
        anchor_ref_of(row),
    )
    if checked:
        return build_receipt(*parts)
    entry, index, path, checkpoint, key, anchor = parts
    return EvidenceReceipt(entry, index, tuple(path), checkpoint, key, anchor)


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


def stored_receipt_or_error(
    session: Session, leaf_index: int, log_key: SM2PublicKey
) -> EvidenceReceipt | VerificationError | None:
    """``stored_receipt``, or the error that names why it cannot be assembled: a stored
    entry or checkpoint that does not parse, or a row it needs that is gone (a deleted
    entry or tree node: ``LogRowMissing``) — for an auditor, who records it against this
    leaf and goes on."""
    try:
        return stored_receipt(session, leaf_index, log_key)
    except VerificationError as e:
        return e
    except LookupError as e:  # entry_of's, or the tree storage's KeyError for a node
        return LogRowMissing(
            f"日志存储缺少第 {leaf_index} 号条目或其证明所需的树节点，证明无法组装 "
            f"(log row missing: {e.args[0] if e.args else e})"
        )


def receipt_state(
    session: Session,
    leaf_index: int,
    log_key: SM2PublicKey,
    *,
    anchored_only: bool = False,
    checked: bool = True,
) -> ReceiptState:
    """The receipt of a leaf against its smallest covering checkpoint (anchored first);
    ``checked=False``: not verified here (see ``receipt_for_checkpoint``)."""
    row = covering_checkpoint(session, leaf_index, anchored_only=anchored_only)
    if row is None:
        return ReceiptState(leaf_index, None, None)
    receipt = receipt_for_checkpoint(session, leaf_index, row, log_key, checked=checked)
    return ReceiptState(leaf_index, receipt, row)


# Leaves per round of queries in anchored_receipts: keeps the IN lists (leaves, and the
# tree nodes of their proofs) well below the bound parameters a statement may carry.
_BATCH = 256


def anchored_receipts(
    session: Session, leaf_indices: Sequence[int], log_key: SM2PublicKey, *, newest: bool = False
) -> dict[int, EvidenceReceipt | None]:
    """``receipt_state(..., anchored_only=True).receipt`` of many leaves, the same
    receipts, in a few queries per batch instead of a handful per leaf: the covering
    checkpoints, the entries and every proof node are each read at once. Each receipt
    is still made and checked by ``build_receipt``. None where no anchored checkpoint
    covers the leaf yet.

    ``newest``: every receipt proves inclusion in the newest anchored checkpoint instead
    of the leaf's smallest — for a package, whose verifier then checks one anchor on
    chain rather than one per checkpoint its materials happened to fall in."""
    wanted = sorted(set(leaf_indices))
    out: dict[int, EvidenceReceipt | None] = {}
    latest = _newest_anchored(session) if newest else None
    for start in range(0, len(wanted), _BATCH):
        batch = wanted[start : start + _BATCH]
        if latest is None:
            covering = _smallest_anchored_covering(session, batch)
        else:
            covering = {leaf: latest for leaf in batch if leaf < latest.tree_size}
        out.update(_anchored_batch(session, batch, covering, log_key))
    return out


class AnchoredCheckpoints:
    """The anchored checkpoints as one snapshot reads them (a REPEATABLE READ audit):
    their sizes read once, each row fetched when first needed and its body parsed once,
    for ``stored_receipts`` over a whole log. Materials in report order are scattered
    over the log, so each batch of them needs a good share of all checkpoints: asking
    and parsing them again per batch grows with the log (1,600 checkpoints at 16 M)."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self.sizes = list(
            session.scalars(
                select(Checkpoint.tree_size)
                .where(Checkpoint.status == CheckpointStatus.ANCHORED)
                .order_by(Checkpoint.tree_size)
            )
        )
        self._rows: dict[int, Checkpoint] = {}
        self._parsed: dict[int, SignedCheckpoint] = {}

    def covering(self, leaves: list[int]) -> dict[int, Checkpoint]:
        """``_smallest_anchored_covering`` of the sorted ``leaves``."""
        chosen = {}
        for leaf in leaves:
            size = covering_size(self.sizes, leaf)
            if size is not None:
                chosen[leaf] = size
        missing = list(set(chosen.values()) - self._rows.keys())
        if missing:
            for row in self._session.scalars(
                select(Checkpoint).where(member_of(self._session, Checkpoint.tree_size, missing))
            ):
                self._rows[row.tree_size] = row
        return {leaf: self._rows[size] for leaf, size in chosen.items()}

    def parsed(self, row: Checkpoint) -> SignedCheckpoint:
        """``parse_signed_checkpoint(row.body)``, once per row (errors are not kept)."""
        got = self._parsed.get(row.tree_size)
        if got is None:
            got = self._parsed[row.tree_size] = parse_signed_checkpoint(row.body)
        return got


def stored_receipts(
    session: Session,
    leaf_indices: Sequence[int],
    log_key: SM2PublicKey,
    *,
    proven: Callable[[int, CheckpointBody], bool] | None = None,
    checkpoints: AnchoredCheckpoints | None = None,
) -> dict[int, EvidenceReceipt | VerificationError | None]:
    """``stored_receipt`` of many leaves (as stored, not checked), in a few queries per
    batch; a leaf whose stored entry or checkpoint does not parse, or whose entry or
    proof nodes are gone, gets its error (``stored_receipt_or_error``), for the auditor
    to record. A batch where anything fails to assemble is done again leaf by leaf, so
    one damaged leaf never takes its neighbours' receipts with it.
    ``checkpoints``: the snapshot's anchored checkpoints, read once per audit.

    ``proven(leaf, checkpoint)``: True where the caller already knows the stored proof
    verifies (``transfer.services.tree_check``); those receipts carry no proof
    (``inclusion_proof == ()``), saving its assembly."""
    wanted = sorted(set(leaf_indices))
    out: dict[int, EvidenceReceipt | VerificationError | None] = {}
    for start in range(0, len(wanted), _BATCH):
        batch = wanted[start : start + _BATCH]
        if checkpoints is None:
            covering = _smallest_anchored_covering(session, batch)
        else:
            covering = checkpoints.covering(batch)
        try:
            out.update(
                _anchored_batch(
                    session, batch, covering, log_key, checked=False, proven=proven,
                    parse=None if checkpoints is None else checkpoints.parsed,
                )
            )  # fmt: skip
        except (VerificationError, LookupError):
            for leaf in batch:
                out[leaf] = stored_receipt_or_error(session, leaf, log_key)
    return out


def _newest_anchored(session: Session) -> Checkpoint | None:
    return session.scalar(
        select(Checkpoint)
        .where(Checkpoint.status == CheckpointStatus.ANCHORED)
        .order_by(Checkpoint.tree_size.desc())
        .limit(1)
    )


def _anchored_batch(
    session: Session,
    leaves: list[int],
    covering: dict[int, Checkpoint],
    log_key: SM2PublicKey,
    *,
    checked: bool = True,
    proven: Callable[[int, CheckpointBody], bool] | None = None,
    parse: Callable[[Checkpoint], SignedCheckpoint] | None = None,
) -> dict[int, EvidenceReceipt | None]:
    rows = session.execute(
        select(LogLeaf.idx, LogLeaf.entry).where(member_of(session, LogLeaf.idx, list(covering)))
    )
    entries = {r.idx: r.entry for r in rows}
    # Once per checkpoint row, not per leaf (a batch's leaves share one or two).
    distinct = {id(row): row for row in covering.values()}.values()
    anchors = {id(row): anchor_ref_of(row) for row in distinct}
    if parse is None:
        parsed = {row.tree_size: parse_signed_checkpoint(row.body) for row in distinct}
    else:
        parsed = {row.tree_size: parse(row) for row in distinct}
    skip = set()
    if proven is not None and not checked:
        skip = {
            leaf for leaf, row in covering.items() if proven(leaf, parsed[row.tree_size].checkpoint)
        }
    wanted = [(i, row.tree_size) for i, row in covering.items() if i not in skip]
    proofs = iter(inclusion_proofs(sm3, DbTreeStorage(session), wanted))
    out: dict[int, EvidenceReceipt | None] = dict.fromkeys(leaves)
    for leaf, row in covering.items():
        proof = [] if leaf in skip else next(proofs)
        raw = entries.get(leaf)
        if raw is None:
            raise LookupError(f"the log has no entry {leaf}")
        parts = (decode_entry(raw), leaf, proof, parsed[row.tree_size], log_key)
        anchor = anchors[id(row)]
        out[leaf] = (
            build_receipt(*parts, anchor)
            if checked
            else EvidenceReceipt(parts[0], leaf, tuple(proof), parts[3], log_key, anchor)
        )
    return out


def _smallest_anchored_covering(session: Session, leaves: list[int]) -> dict[int, Checkpoint]:
    """Each leaf's smallest anchored checkpoint (``covering_checkpoint``), for the sorted
    ``leaves``; leaves that none covers yet are left out. The sizes between the first
    and the last leaf's are read as bare integers, only the rows used in full."""
    anchored = Checkpoint.status == CheckpointStatus.ANCHORED
    top = session.scalar(
        select(func.min(Checkpoint.tree_size)).where(anchored, Checkpoint.tree_size > leaves[-1])
    )
    span = select(Checkpoint.tree_size).where(anchored, Checkpoint.tree_size > leaves[0])
    if top is not None:
        span = span.where(Checkpoint.tree_size <= top)
    sizes = sorted(session.scalars(span))
    chosen: dict[int, int] = {}
    for leaf in leaves:
        size = covering_size(sizes, leaf)
        if size is not None:
            chosen[leaf] = size
    sizes_used = list(set(chosen.values()))
    rows = session.scalars(
        select(Checkpoint).where(member_of(session, Checkpoint.tree_size, sizes_used))
    )
    by_size = {row.tree_size: row for row in rows}
    return {leaf: by_size[size] for leaf, size in chosen.items()}


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
