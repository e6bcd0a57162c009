"""The whole-log audit's tree pass gives every leaf the verdict its own stored proof
gives: on an intact log it proves every anchored leaf without assembling a proof, and
on a damaged one (an entry, a stored node, a checkpoint's root, a missing node) the
leaves it cannot vouch for are checked by their proofs, with the same errors."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from notary.canonical import canonical_json
from notary.checkpoint import sign_checkpoint
from notary.crypto import SM2PrivateKey
from notary.receipts import EvidenceReceipt, verify_offline
from tests.transfer.service.test_receipts_batch import ORIGIN, _append, _entry
from transfer.db.models import Checkpoint, CheckpointStatus, LogLeaf, LogNode
from transfer.services.receipts import AnchoredCheckpoints, stored_receipts
from transfer.services.tree_check import TreeCheck, check_stored_tree

A, P = CheckpointStatus.ANCHORED, CheckpointStatus.PENDING
# Anchored checkpoints at 3, 4, 11, 20 and 32; 35 is pending.
PLAN = [(3, A), (1, A), (7, A), (9, A), (12, A), (3, P)]
LEAVES = range(35)


def _outcome(fn: Callable[[], object]) -> tuple[str, ...]:
    try:
        fn()
    except Exception as e:  # the verdict, whatever it is: both paths must agree on it
        return (type(e).__name__, getattr(e, "check", ""), str(e))
    return ("ok",)


def _verdicts_per_leaf(db: Session, key: SM2PrivateKey) -> dict[int, tuple[str, ...]]:
    """The audit's verdicts as before the tree pass: the stored receipts (a batch, as
    the audit loads them), each proof checked."""
    return _verdicts(db, key, None)[0]


def _verdicts_with_tree(db: Session, key: SM2PrivateKey) -> tuple[dict[int, tuple[str, ...]], int]:
    """The same verdicts through the tree pass, and how many leaves it proved."""
    sizes = db.scalars(select(Checkpoint.tree_size).where(Checkpoint.status == A))
    return _verdicts(db, key, check_stored_tree(db, list(sizes)))


def _verdicts(
    db: Session, key: SM2PrivateKey, tree: TreeCheck | None
) -> tuple[dict[int, tuple[str, ...]], int]:
    out: dict[int, tuple[str, ...]] = {}
    proved = 0
    proven = None if tree is None else tree.proven
    checkpoints = None if tree is None else AnchoredCheckpoints(db)
    receipts = stored_receipts(
        db, list(LEAVES), key.public_key, proven=proven, checkpoints=checkpoints
    )
    for leaf in LEAVES:
        receipt = receipts[leaf]
        if receipt is None:
            out[leaf] = ("not anchored",)
            continue
        if not isinstance(receipt, EvidenceReceipt):
            out[leaf] = (type(receipt).__name__, receipt.check, str(receipt))
            continue
        ok = tree is not None and tree.proven(leaf, receipt.checkpoint.checkpoint)
        proved += ok
        # A leaf the tree does not vouch for carries its stored proof, to be checked.
        assert ok or receipt.inclusion_proof
        out[leaf] = _outcome(
            partial(
                verify_offline, receipt, trusted_log_keys=[key.public_key], check_inclusion=not ok
            )
        )
    return out, proved


def _log(db: Session) -> SM2PrivateKey:
    key = SM2PrivateKey.generate()
    for count, status in PLAN:
        _append(db, key, count, status)
    db.commit()
    return key


def test_intact_log_every_anchored_leaf_proven(db: Session) -> None:
    key = _log(db)
    tree = check_stored_tree(db, [3, 4, 11, 20, 32])
    assert tree.first_damage is None and tree.leaves == 32
    with_tree, proved = _verdicts_with_tree(db, key)
    assert with_tree == _verdicts_per_leaf(db, key)
    assert proved == 32
    assert all(with_tree[i] == ("ok",) for i in range(32))


def _set_entry(index: int, entry: bytes) -> Callable[[Session, SM2PrivateKey], None]:
    def damage(db: Session, _key: SM2PrivateKey) -> None:
        row = db.get(LogLeaf, index)
        assert row is not None
        row.entry = entry

    return damage


def _flip_node(level: int, index: int) -> Callable[[Session, SM2PrivateKey], None]:
    def damage(db: Session, _key: SM2PrivateKey) -> None:
        row = db.get(LogNode, (level, index))
        assert row is not None
        row.hash = bytes([row.hash[0] ^ 1]) + row.hash[1:]

    return damage


def _drop_node(level: int, index: int) -> Callable[[Session, SM2PrivateKey], None]:
    def damage(db: Session, _key: SM2PrivateKey) -> None:
        db.execute(delete(LogNode).where(LogNode.level == level, LogNode.idx == index))

    return damage


def _drop_entry(index: int) -> Callable[[Session, SM2PrivateKey], None]:
    def damage(db: Session, _key: SM2PrivateKey) -> None:
        db.execute(delete(LogLeaf).where(LogLeaf.idx == index))

    return damage


def _resign_with_root(size: int, root: bytes) -> Callable[[Session, SM2PrivateKey], None]:
    """A checkpoint validly signed over a root that is not the log's."""

    def damage(db: Session, key: SM2PrivateKey) -> None:
        row = db.scalars(select(Checkpoint).where(Checkpoint.tree_size == size)).one()
        cp = sign_checkpoint(key, ORIGIN, size, root, row.timestamp_ms)
        row.body, row.root, row.signature = cp.to_json(), root, cp.signature

    return damage


def _tamper_body(size: int) -> Callable[[Session, SM2PrivateKey], None]:
    def damage(db: Session, _key: SM2PrivateKey) -> None:
        row = db.scalars(select(Checkpoint).where(Checkpoint.tree_size == size)).one()
        body = dict(row.body)
        inner = dict(body["checkpoint"])
        inner["root"] = ("0" if inner["root"][0] != "0" else "1") + inner["root"][1:]
        body["checkpoint"] = inner
        row.body = body

    return damage


DAMAGE = {
    "entry 5 rewritten (canonical)": _set_entry(5, _entry(1005)),
    "entry 5 not canonical": _set_entry(5, _entry(5)[:-1] + b"!"),
    "entry 21 rewritten": _set_entry(21, _entry(1021)),
    "node (0, 0) flipped": _flip_node(0, 0),
    "node (0, 13) flipped": _flip_node(0, 13),
    "node (1, 4) flipped": _flip_node(1, 4),
    "node (2, 0) flipped": _flip_node(2, 0),
    "node (3, 2) flipped": _flip_node(3, 2),
    "node (4, 0) flipped": _flip_node(4, 0),
    "node (0, 31) flipped (last anchored leaf)": _flip_node(0, 31),
    "node (1, 10) missing": _drop_node(1, 10),
    "entry 5 missing": _drop_entry(5),
    "checkpoint 11 re-signed over another root": _resign_with_root(11, b"\x07" * 32),
    "checkpoint 20 body's root changed (signature no longer verifies)": _tamper_body(20),
}


@pytest.mark.parametrize("damage", list(DAMAGE), ids=list(DAMAGE))
def test_damage_gives_the_per_leaf_verdicts(db: Session, damage: str) -> None:
    key = _log(db)
    intact, _ = _verdicts_with_tree(db, key)
    DAMAGE[damage](db, key)
    db.commit()
    before = _verdicts_per_leaf(db, key)
    with_tree, proved = _verdicts_with_tree(db, key)
    assert with_tree == before
    assert before != intact  # the damage is found, on the leaves the proofs name
    assert proved < 32


@pytest.mark.parametrize("bits", [1, 2, 3], ids=["parts of 2", "parts of 4", "parts of 8"])
@pytest.mark.parametrize("damage", [None, *DAMAGE], ids=["intact", *DAMAGE])
def test_parts_combine_to_the_one_pass(db: Session, damage: str | None, bits: int) -> None:
    """The check in parts (as the parallel audit's workers run it) is the one-part check:
    the same roots at every anchored size, the same first damage."""
    key = _log(db)
    if damage is not None:
        DAMAGE[damage](db, key)
        db.commit()
    sizes = [3, 4, 11, 20, 32]
    whole = check_stored_tree(db, sizes)
    parts = check_stored_tree(db, sizes, bits=bits)
    assert parts.roots == whole.roots
    assert parts.first_damage == whole.first_damage
    assert parts.leaves == whole.leaves
    if damage is None:
        assert set(whole.roots) == set(sizes)


def test_snapshot_checkpoints_give_the_same_receipts(db: Session) -> None:
    """``stored_receipts`` with the anchored checkpoints read once (the whole-log audit)
    assembles byte for byte the receipts it assembles asking per batch."""
    key = _log(db)
    leaves = [0, 2, 3, 5, 10, 11, 19, 20, 31, 33, 34]
    plain = stored_receipts(db, leaves, key.public_key)
    cached = AnchoredCheckpoints(db)
    for _ in range(2):  # the second time from the cache
        got = stored_receipts(db, leaves, key.public_key, checkpoints=cached)
        assert set(got) == set(plain)
        for leaf, receipt in plain.items():
            other = got[leaf]
            if receipt is None or other is None:
                assert receipt is other is None, leaf
                continue
            assert isinstance(receipt, EvidenceReceipt) and isinstance(other, EvidenceReceipt)
            assert canonical_json(other.to_json()) == canonical_json(receipt.to_json()), leaf
