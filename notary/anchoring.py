"""Anchoring of signed checkpoints on chain, and the on-chain half of receipt verification.

The worker is an outbox (design §3 "The log and anchoring"): a checkpoint is signed
and stored durably *before* its transaction is sent, and pending checkpoints are
anchored strictly in tree-size order. A crash leaves at worst a checkpoint that is
pending here but already on chain; the chain client's anchoring is idempotent (it
returns the existing anchor), so the resumed worker records it exactly once. A chain
outage leaves checkpoints pending and loses none; they are sent when it returns.
One transaction commits every entry up to the checkpoint's size (OpenTimestamps-style
aggregation).
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol

from notary.checkpoint import SignedCheckpoint, sign_checkpoint
from notary.crypto import Signer
from notary.errors import AnchorMismatch, NotAnchored
from notary.log import MerkleLog
from notary.receipts import AnchorRef, EvidenceReceipt

if TYPE_CHECKING:
    # Typing only: the chain client (web3) is not imported by those who never anchor.
    from notary.chain.models import AnchorRecord

log = logging.getLogger(__name__)


def covering_size(sizes: Sequence[int], leaf_index: int) -> int | None:
    """The smallest of the sorted tree ``sizes`` whose tree holds leaf ``leaf_index``
    (a size greater than the index: leaves are numbered from 0), else None. A receipt
    cites its leaf's smallest *anchored* covering checkpoint, so it never changes once
    issued (docs/receipt-format.md); the database's query is the same rule in SQL
    (transfer/services/anchoring.py ``covering_checkpoint``)."""
    at = bisect.bisect_right(sizes, leaf_index)
    return sizes[at] if at < len(sizes) else None


class AnchorSink(Protocol):
    """What the worker needs of a chain: :class:`notary.chain.client.ChainClient` fits."""

    def anchor_checkpoint(self, log_id: bytes, tree_size: int, root: bytes) -> AnchorRecord: ...


class CheckpointOutbox(Protocol):
    """Durable storage of checkpoints and their anchoring state."""

    def latest(self) -> SignedCheckpoint | None: ...

    def add(self, checkpoint: SignedCheckpoint) -> None: ...

    def pending(self) -> list[SignedCheckpoint]: ...

    def mark_anchored(self, tree_size: int, anchor: AnchorRef) -> None: ...

    def mark_failed(self, tree_size: int, error: str) -> None: ...

    def covering(self, leaf_index: int) -> tuple[SignedCheckpoint, AnchorRef | None] | None:
        """The smallest anchored checkpoint with tree_size > leaf_index, else the
        smallest pending one that covers it, else None."""
        ...


@dataclass
class _Row:
    checkpoint: SignedCheckpoint
    anchor: AnchorRef | None = None
    attempts: int = 0
    last_error: str | None = None


class MemoryOutbox:
    """In-memory outbox for tests and one-shot tools; the service keeps it in its database."""

    def __init__(self) -> None:
        self._rows: dict[int, _Row] = {}
        self._sizes: list[int] = []
        self._lock = threading.Lock()

    def latest(self) -> SignedCheckpoint | None:
        with self._lock:
            return self._rows[self._sizes[-1]].checkpoint if self._sizes else None

    def add(self, checkpoint: SignedCheckpoint) -> None:
        size = checkpoint.checkpoint.tree_size
        with self._lock:
            if self._sizes and size <= self._sizes[-1]:
                raise ValueError(f"checkpoint size {size} does not grow the log")
            self._rows[size] = _Row(checkpoint)
            self._sizes.append(size)

    def pending(self) -> list[SignedCheckpoint]:
        with self._lock:
            return [self._rows[s].checkpoint for s in self._sizes if self._rows[s].anchor is None]

    def mark_anchored(self, tree_size: int, anchor: AnchorRef) -> None:
        with self._lock:
            self._rows[tree_size].anchor = anchor

    def mark_failed(self, tree_size: int, error: str) -> None:
        with self._lock:
            row = self._rows[tree_size]
            row.attempts += 1
            row.last_error = error

    def covering(self, leaf_index: int) -> tuple[SignedCheckpoint, AnchorRef | None] | None:
        with self._lock:
            anchored = [s for s in self._sizes if self._rows[s].anchor is not None]
            size = covering_size(anchored, leaf_index)
            if size is None:
                size = covering_size(self._sizes, leaf_index)
            row = None if size is None else self._rows[size]
        return None if row is None else (row.checkpoint, row.anchor)

    def anchored(self) -> list[tuple[SignedCheckpoint, AnchorRef]]:
        with self._lock:
            rows = [self._rows[s] for s in self._sizes]
        return [(r.checkpoint, r.anchor) for r in rows if r.anchor is not None]


class Anchorer:
    """Signs checkpoints of ``log`` when due and anchors them through ``chain``."""

    def __init__(
        self,
        log: MerkleLog,
        signer: Signer,
        origin: str,
        chain: AnchorSink,
        outbox: CheckpointOutbox,
        *,
        interval_s: float = 1.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.log, self.signer, self.origin = log, signer, origin
        self.chain, self.outbox = chain, outbox
        self.interval_s, self.max_entries, self.clock = interval_s, max_entries, clock
        self._last_checkpoint_at = 0.0

    def checkpoint_if_due(self, *, force: bool = False) -> SignedCheckpoint | None:
        """Sign and store a checkpoint if the log grew and the interval or size limit is hit."""
        size = self.log.size
        latest = self.outbox.latest()
        last_size = latest.checkpoint.tree_size if latest else 0
        if size <= last_size:
            return None
        now = self.clock()
        if not force and (
            now - self._last_checkpoint_at < self.interval_s and size - last_size < self.max_entries
        ):
            return None
        cp = sign_checkpoint(self.signer, self.origin, size, self.log.root(size), int(now * 1000))
        self.outbox.add(cp)
        self._last_checkpoint_at = now
        return cp

    def flush(self) -> int:
        """Anchor pending checkpoints in order; stop at the first failure. Returns how many."""
        done = 0
        for cp in self.outbox.pending():
            c = cp.checkpoint
            try:
                ref = self.chain.anchor_checkpoint(c.log_id, c.tree_size, c.root)
            except Exception as e:  # the outbox keeps it; the next round retries
                self.outbox.mark_failed(c.tree_size, f"{type(e).__name__}: {e}")
                log.warning("anchoring checkpoint %d failed: %s", c.tree_size, e)
                break
            self.outbox.mark_anchored(c.tree_size, ref.ref)
            done += 1
        return done

    def step(self) -> int:
        self.checkpoint_if_due()
        return self.flush()

    def run(
        self, stop: threading.Event, *, tick_s: float = 0.1, max_backoff_s: float = 5.0
    ) -> None:
        """Loop until ``stop`` is set; back off while the chain is unreachable."""
        backoff = tick_s
        while not stop.is_set():
            self.checkpoint_if_due()
            pending_before = len(self.outbox.pending())
            self.flush()
            failed = pending_before and len(self.outbox.pending()) == pending_before
            backoff = min(backoff * 2, max_backoff_s) if failed else tick_s
            stop.wait(backoff)


class AnchorReader(Protocol):
    """Read access to the contract (``ChainClient`` opened read-only fits)."""

    @property
    def chain_id(self) -> int: ...

    @property
    def address(self) -> str: ...

    def get_anchor(self, log_id: bytes, tree_size: int) -> Any: ...

    def member(self, account: str) -> Any: ...

    def was_active_at(self, account: str, role: Any, block_number: int) -> bool: ...

    def transaction_receipt(self, tx_hash: str) -> Any: ...


@dataclass(frozen=True, slots=True)
class AnchorCheck:
    chain_id: int
    contract: str
    tx_hash: str
    block_number: int
    block_timestamp: int
    anchored_by: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def verify_anchor(receipt: EvidenceReceipt, chain: AnchorReader) -> AnchorCheck:
    """The on-chain checks of docs/receipt-format.md §6 step 6 (after verify_offline)."""
    from notary.chain.models import Role

    ref = receipt.anchor
    if ref is None:
        raise NotAnchored("the receipt has no anchor yet (anchoring pending)")
    cp = receipt.checkpoint.checkpoint
    if chain.chain_id != ref.chain_id:
        raise AnchorMismatch(f"the RPC endpoint serves chain {chain.chain_id}, not {ref.chain_id}")
    if chain.address.lower() != ref.contract.lower():
        raise AnchorMismatch("the chain reader is bound to another contract than the receipt's")
    anchor = chain.get_anchor(cp.log_id, cp.tree_size)
    if anchor is None:
        raise NotAnchored(f"no anchor on chain for log {cp.log_id.hex()[:16]}… size {cp.tree_size}")
    if anchor.root != cp.root:
        raise AnchorMismatch(
            f"the chain anchors root {anchor.root.hex()} at size {cp.tree_size}, "
            f"the checkpoint says {cp.root.hex()}"
        )
    if anchor.block_number != ref.block_number:
        raise AnchorMismatch(
            f"anchored in block {anchor.block_number}, the receipt says {ref.block_number}"
        )
    tx = chain.transaction_receipt(ref.tx_hash)
    if tx is None:
        raise AnchorMismatch(f"transaction {ref.tx_hash} is not on this chain")
    if int(tx["status"]) != 1 or int(tx["blockNumber"]) != ref.block_number:
        raise AnchorMismatch(f"transaction {ref.tx_hash} failed or is in another block")
    if str(tx["to"]).lower() != ref.contract.lower():
        raise AnchorMismatch(f"transaction {ref.tx_hash} was not sent to the contract")
    member = chain.member(anchor.anchorer)
    if member is None or member.key_fingerprint != cp.key_id:
        raise AnchorMismatch(
            "the anchoring account is not the member holding the checkpoint's signing key"
        )
    if not chain.was_active_at(anchor.anchorer, Role.ARCHIVE_CENTRE, ref.block_number):
        raise AnchorMismatch("the anchoring member was not an active archive centre at that block")
    return AnchorCheck(
        chain_id=ref.chain_id,
        contract=ref.contract,
        tx_hash=ref.tx_hash,
        block_number=ref.block_number,
        block_timestamp=int(anchor.timestamp),
        anchored_by=anchor.anchorer,
    )


def rpc_reader(receipt: EvidenceReceipt, rpc_url: str) -> AnchorReader:
    """A read-only reader of the receipt's contract through any chain JSON-RPC URL
    (no keys, no service)."""
    from notary.chain.client import ChainClient
    from notary.chain.rpc import connect

    ref = receipt.anchor
    if ref is None:
        raise NotAnchored("the receipt has no anchor yet (anchoring pending)")
    return ChainClient.reader(connect(rpc_url), ref.contract)
