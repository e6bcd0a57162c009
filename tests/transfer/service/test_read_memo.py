"""A verified read checks the checkpoint signature and the chain anchor once, and the
memo that makes it once never lets a read pass that a fresh verification refuses
(docs/service.md, "The verification memo").

Each tampering test first warms the memo with a good read of the same material, then
changes one stored thing — the ciphertext, the log entry, a proof node, the
checkpoint's signature, the recorded anchor — and asserts the next read is refused
with the check a fresh verification names, while the memo still holds its verdicts."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from notary.crypto.sm2 import SM2PublicKey
from notary.deployment import Deployment
from notary.entries import decode_entry, encode_entry
from notary.store import LocalStore
from notary.verifier import VerificationMemo
from tests._support import notary_api as n
from tests._support.api import Cast
from transfer.db.models import Checkpoint, LogLeaf, LogNode, Material


def _read(client: TestClient, cast: Cast, mid: str) -> Any:
    return client.get(
        f"/v1/materials/{mid}/content", params={"purpose": "审核"}, headers=cast.operator.headers
    )


def _memo(client: TestClient) -> VerificationMemo:
    memo = client.app.state.notary.notary.verified  # type: ignore[attr-defined]
    assert isinstance(memo, VerificationMemo)
    return memo


@pytest.fixture
def signature_checks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Counts the SM2 verifications of checkpoint signatures (the real ones still run)."""
    calls: list[int] = []
    real = SM2PublicKey.verify

    def counting(self: SM2PublicKey, message: bytes, signature: bytes) -> None:
        calls.append(1)
        real(self, message, signature)

    monkeypatch.setattr(SM2PublicKey, "verify", counting)
    yield calls


@pytest.fixture
def anchored(nclient: TestClient, ncast: Cast) -> tuple[str, int]:
    """Three anchored materials; the last one's id and leaf (its proof is not empty)."""
    vol = n.new_volume(nclient, ncast.operator)
    ids = [n.upload(nclient, ncast.operator, vol, n.pdf(f"备{i}")).json()["id"] for i in (1, 2, 3)]
    receipt = n.wait_receipt(nclient, ncast.operator, ids[-1])
    assert receipt["inclusion_proof"], "the test needs a non-empty inclusion proof"
    return ids[-1], int(receipt["leaf_index"])


def test_a_read_checks_the_signature_and_the_anchor_once(
    nclient: TestClient, ncast: Cast, anchored: tuple[str, int], signature_checks: list[int]
) -> None:
    mid, _ = anchored
    memo = _memo(nclient)
    signature_checks.clear()
    first = _read(nclient, ncast, mid)
    assert first.status_code == 200, first.text
    assert first.headers["x-notary-checks"] == "content,envelope,sm3,log,anchor"
    # Once per read, not twice: the service assembles the receipt without checking it.
    assert len(signature_checks) == 1
    assert (memo.signatures_checked, memo.anchors_checked) == (1, 1)
    again = _read(nclient, ncast, mid)
    assert again.status_code == 200 and again.content == first.content
    assert again.headers["x-notary-checks"] == "content,envelope,sm3,log,anchor"
    assert len(signature_checks) == 1  # the memo answered for the same checkpoint
    assert (memo.signatures_checked, memo.anchors_checked) == (1, 1) and memo.hits >= 2


def _flip_block(deployment: Deployment, db: Session, mid: str) -> Callable[[], None]:
    material = db.get(Material, uuid.UUID(mid))
    assert material is not None and isinstance(deployment.store, LocalStore)
    path = deployment.store.block_path(material.cid)
    db.rollback()  # a write session holds SQLite's write lock until it ends
    original = path.read_bytes()
    damaged = bytearray(original)
    damaged[len(damaged) // 2] ^= 0x01
    path.write_bytes(bytes(damaged))

    def restore() -> None:
        path.write_bytes(original)

    return restore


def _change_entry(db: Session, leaf: int) -> None:
    row = db.get(LogLeaf, leaf)
    assert row is not None
    entry = decode_entry(row.entry)
    entry["size"] = int(entry["size"]) + 1  # still this material's id, SM3 and CID
    row.entry = encode_entry(entry)
    db.commit()


def _change_proof(db: Session, leaf: int) -> None:
    # Every stored node but the leaf's own: whichever siblings the proof uses change.
    for node in db.scalars(select(LogNode)).all():
        if (node.level, node.idx) != (0, leaf):
            node.hash = bytes(b ^ 0xFF for b in node.hash)
    db.commit()


def _change_signature(db: Session) -> None:
    for row in db.scalars(select(Checkpoint)).all():
        body = dict(row.body)
        sig = bytearray(base64.b64decode(body["signature"]))
        sig[-1] ^= 0x01
        body["signature"] = base64.b64encode(bytes(sig)).decode("ascii")
        row.body = json.loads(json.dumps(body))
    db.commit()


def _change_anchor(db: Session) -> None:
    # The chain answers for the checkpoint with its own block; the record says another.
    db.execute(
        update(Checkpoint)
        .where(Checkpoint.block_number.is_not(None))
        .values(block_number=Checkpoint.block_number + 1)
    )
    db.commit()


@pytest.mark.parametrize(
    ("tamper", "check"),
    [
        ("content", "content"),
        ("entry", "inclusion"),
        ("proof", "inclusion"),
        ("signature", "checkpoint-signature"),
        ("anchor", "anchor"),
    ],
)
def test_tampering_after_the_memo_is_warm_is_still_refused(
    nclient: TestClient,
    ncast: Cast,
    db: Session,
    deployment: Deployment,
    anchored: tuple[str, int],
    tamper: str,
    check: str,
) -> None:
    mid, leaf = anchored
    memo = _memo(nclient)
    assert _read(nclient, ncast, mid).status_code == 200  # warm
    assert len(memo) >= 2
    restore: Callable[[], None] | None = None
    if tamper == "content":
        restore = _flip_block(deployment, db, mid)
    elif tamper == "entry":
        _change_entry(db, leaf)
    elif tamper == "proof":
        _change_proof(db, leaf)
    elif tamper == "signature":
        _change_signature(db)
    else:
        _change_anchor(db)
    try:
        r = _read(nclient, ncast, mid)
    finally:
        if restore is not None:
            restore()
    assert r.status_code == 409, r.text
    assert r.json()["check"] == check
    assert len(memo) >= 2  # refused with the memo still holding the good verdicts
