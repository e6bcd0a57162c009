"""Evidence receipts of many leaves at once are the receipts of each leaf on its own."""

from __future__ import annotations

import uuid

from sqlalchemy import delete
from sqlalchemy.orm import Session

from notary.canonical import canonical_json
from notary.checkpoint import sign_checkpoint
from notary.crypto import SM2PrivateKey
from notary.entries import encode_entry, material_registered
from notary.errors import LogRowMissing, VerificationError
from notary.log.tree import MerkleLog
from notary.receipts import verify_offline
from transfer.db.models import Checkpoint, CheckpointStatus, LogLeaf, LogNode
from transfer.db.treestore import DbTreeStorage
from transfer.services.receipts import (
    anchored_receipts,
    receipt_state,
    stored_receipt,
    stored_receipts,
)

ORIGIN = "batch.example/log"


def _entry(i: int) -> bytes:
    return encode_entry(
        material_registered(
            material_id=str(uuid.UUID(int=i + 1)),
            sm3_hex=f"{i:064x}",
            cid=f"bafy{i}",
            size=100 + i,
            category="1",
            volume="v",
            unit="u",
            version=1,
            time_ms=1_700_000_000_000 + i,
        )
    )


def _append(db: Session, log_key: SM2PrivateKey, count: int, status: CheckpointStatus) -> int:
    """Append ``count`` entries and a checkpoint of the new size in ``status``."""
    storage = DbTreeStorage(db)
    log = MerkleLog(storage)
    first = log.append_many([_entry(log.size + i) for i in range(count)]).start
    storage.put_entries(first, [_entry(first + i) for i in range(count)])
    size = first + count
    cp = sign_checkpoint(log_key, ORIGIN, size, log.root(size), 1_700_000_000_000 + size)
    anchored = status is CheckpointStatus.ANCHORED
    db.add(
        Checkpoint(
            tree_size=size,
            root=cp.checkpoint.root,
            timestamp_ms=cp.checkpoint.timestamp_ms,
            signature=cp.signature,
            body=cp.to_json(),
            status=status,
            tx_hash=f"0x{size:064x}" if anchored else None,
            block_number=size if anchored else None,
            chain_id=31337 if anchored else None,
            contract="0x" + "ab" * 20 if anchored else None,
        )
    )
    db.flush()
    return size


def test_batch_receipts_are_byte_identical_to_single_ones(db: Session) -> None:
    key = SM2PrivateKey.generate()
    # Anchored checkpoints at 3, 4, 11 and 20; 27 is pending and 30 has none at all.
    for count, status in [
        (3, CheckpointStatus.ANCHORED),
        (1, CheckpointStatus.ANCHORED),
        (7, CheckpointStatus.ANCHORED),
        (5, CheckpointStatus.PENDING),
        (4, CheckpointStatus.ANCHORED),
        (7, CheckpointStatus.PENDING),
    ]:
        _append(db, key, count, status)
    storage = DbTreeStorage(db)
    MerkleLog(storage).append_many([_entry(27 + i) for i in range(3)])
    storage.put_entries(27, [_entry(27 + i) for i in range(3)])
    db.commit()

    leaves = [0, 2, 3, 10, 11, 15, 16, 19, 26, 29, 5, 5]
    batch = anchored_receipts(db, leaves, key.public_key)

    assert set(batch) == set(leaves)
    for leaf in leaves:
        single = receipt_state(db, leaf, key.public_key, anchored_only=True).receipt
        got = batch[leaf]
        if single is None:
            assert got is None, leaf
            continue
        assert got is not None, leaf
        assert canonical_json(got.to_json()) == canonical_json(single.to_json()), leaf
    # Which checkpoint each leaf got: the smallest anchored one that holds it.
    sizes = {leaf: r.checkpoint.checkpoint.tree_size for leaf, r in batch.items() if r is not None}
    assert sizes == {0: 3, 2: 3, 3: 4, 5: 11, 10: 11, 11: 20, 15: 20, 16: 20, 19: 20}
    assert batch[26] is None and batch[29] is None


def test_batch_receipts_of_no_leaves(db: Session) -> None:
    assert anchored_receipts(db, [], SM2PrivateKey.generate().public_key) == {}


def test_newest_puts_every_anchored_leaf_under_the_newest_anchored_checkpoint(
    db: Session,
) -> None:
    key = SM2PrivateKey.generate()
    for count, status in [
        (3, CheckpointStatus.ANCHORED),
        (4, CheckpointStatus.ANCHORED),
        (2, CheckpointStatus.PENDING),
    ]:
        _append(db, key, count, status)
    db.commit()

    batch = anchored_receipts(db, [0, 2, 5, 6, 8], key.public_key, newest=True)

    sizes = {leaf: r.checkpoint.checkpoint.tree_size for leaf, r in batch.items() if r is not None}
    assert sizes == {0: 7, 2: 7, 5: 7, 6: 7}  # one anchor for the verifier to check
    assert batch[8] is None  # only a pending checkpoint holds it
    for receipt in batch.values():
        if receipt is not None:
            verify_offline(
                receipt,
                material_sm3=bytes.fromhex(receipt.entry["sm3"]),
                trusted_log_keys=[key.public_key],
            )


def test_stored_receipts_are_the_single_ones_and_a_damaged_leaf_keeps_its_own_error(
    db: Session,
) -> None:
    key = SM2PrivateKey.generate()
    for count, status in [
        (3, CheckpointStatus.ANCHORED),
        (5, CheckpointStatus.ANCHORED),
        (2, CheckpointStatus.PENDING),
    ]:
        _append(db, key, count, status)
    leaf = db.get(LogLeaf, 4)
    assert leaf is not None
    leaf.entry = leaf.entry[:-1] + b"!"  # no longer canonical JSON
    db.commit()

    leaves = list(range(10))
    batch = stored_receipts(db, leaves, key.public_key)

    assert set(batch) == set(leaves)
    assert isinstance(batch[4], VerificationError) and batch[4].check == "format"
    for i in leaves:
        if i == 4:
            continue
        single = stored_receipt(db, i, key.public_key)
        got = batch[i]
        if single is None:
            assert got is None, i  # only a pending checkpoint holds it
            continue
        assert isinstance(got, type(single)), i
        assert canonical_json(got.to_json()) == canonical_json(single.to_json()), i
    assert batch[8] is None and batch[9] is None


def test_a_deleted_entry_or_node_is_the_leaf_s_finding_not_the_batch_s(db: Session) -> None:
    """A deleted ``log_leaves`` row (or a tree node a proof needs) is recorded against the
    leaves it affects, with its own check; the batch goes on and its other receipts are
    the single ones."""
    key = SM2PrivateKey.generate()
    for count in (3, 5):
        _append(db, key, count, CheckpointStatus.ANCHORED)
    db.execute(delete(LogLeaf).where(LogLeaf.idx == 4))
    db.commit()

    batch = stored_receipts(db, list(range(8)), key.public_key)

    missing = batch[4]
    assert isinstance(missing, LogRowMissing) and missing.check == "log-missing"
    assert "第 4 号条目" in str(missing)
    for i in (0, 1, 2, 3, 5, 6, 7):
        single = stored_receipt(db, i, key.public_key)
        assert single is not None and not isinstance(batch[i], VerificationError), i
        assert canonical_json(batch[i].to_json()) == canonical_json(single.to_json()), i  # type: ignore[union-attr]

    # A stored node gone: the leaves whose proofs need it, each with the same finding.
    db.execute(delete(LogNode).where(LogNode.level == 0, LogNode.idx == 6))
    db.commit()
    batch = stored_receipts(db, list(range(8)), key.public_key)
    assert isinstance(batch[7], LogRowMissing)  # its proof's sibling is node (0, 6)
    assert not isinstance(batch[0], VerificationError)  # in checkpoint 3: no such node
