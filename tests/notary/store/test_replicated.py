"""A primary store and its replicas: acknowledged after N copies, reads around a lost
or damaged primary, ``check`` finds a damaged or missing copy and repairs it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from notary._internal.net import free_port
from notary.store import CHUNK_SIZE, ContentIntegrityError, KuboStore, LocalStore, StoreUnavailable
from notary.store.replicated import ReplicatedStore
from tests.notary.store.helpers import content

DATA = content(3 * CHUNK_SIZE + 17)  # a dag-pb root over four raw leaves


def _stores(tmp_path: Path, n: int) -> list[LocalStore]:
    return [LocalStore(tmp_path / f"s{i}") for i in range(n)]


def _flip(store: LocalStore, cid: str) -> None:
    path = store.block_path(cid)
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF
    path.write_bytes(bytes(data))


def test_put_is_acknowledged_once_every_required_copy_holds_it(tmp_path: Path) -> None:
    primary, replica = _stores(tmp_path, 2)
    cid = ReplicatedStore([primary, replica], acks=2).put(DATA)
    for s in (primary, replica):
        assert s.is_pinned(cid) and s.get(cid) == DATA


def test_put_is_refused_when_fewer_copies_than_required_are_written(tmp_path: Path) -> None:
    (primary,) = _stores(tmp_path, 1)
    down = KuboStore(f"http://127.0.0.1:{free_port()}", timeout=1.0)
    with pytest.raises(StoreUnavailable, match="only 1 of the 2 copies"):
        ReplicatedStore([primary, down], acks=2).put(DATA)
    # With one acknowledgement required, the same failure leaves a copy to repair.
    cid = ReplicatedStore([primary, down], acks=1).put(DATA)
    assert primary.get(cid) == DATA


def test_reads_continue_from_the_replica_when_the_primary_is_lost_or_damaged(
    tmp_path: Path,
) -> None:
    primary, replica = _stores(tmp_path, 2)
    store = ReplicatedStore([primary, replica], acks=2)
    cid = store.put(DATA)
    _flip(primary, cid)  # the root block
    with pytest.raises(ContentIntegrityError):
        primary.get(cid)
    assert store.get(cid) == DATA
    shutil.rmtree(tmp_path / "s0")
    assert store.get(cid) == DATA


def test_check_finds_a_damaged_and_a_missing_copy_and_repairs_both(tmp_path: Path) -> None:
    primary, replica, late = _stores(tmp_path, 3)
    cid = ReplicatedStore([primary, replica], acks=2).put(DATA)
    _flip(replica, cid)
    store = ReplicatedStore([primary, replica, late])  # a replica added later: empty

    found = store.check([cid], repair=False)
    assert [(r.store.endswith("s1)"), r.problem[:2]) for r in found.damaged] == [
        (True, "损坏"),
        (False, "缺失"),
    ]
    assert not any(r.repaired for r in found.damaged)

    fixed = store.check([cid])
    assert len(fixed.damaged) == 2 and all(r.repaired for r in fixed.damaged)
    assert replica.get(cid) == DATA and late.get(cid) == DATA and late.is_pinned(cid)
    assert not store.check([cid]).damaged


def test_quorum_must_fit_the_stores_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="acks"):
        ReplicatedStore(list(_stores(tmp_path, 2)), acks=3)


def test_status_names_a_store_whose_directory_is_gone(tmp_path: Path) -> None:
    from transfer.services.replicas import ReplicasCheck

    store = ReplicatedStore(list(_stores(tmp_path, 2)), acks=1)
    assert [s["state"] for s in store.status()] == ["ok", "ok"]
    assert ReplicasCheck(store).check().status == "ok"
    shutil.rmtree(tmp_path / "s1")
    assert [s["state"] for s in store.status()] == ["ok", "down"]
    assert ReplicasCheck(store).check().status == "degraded"  # the quorum of one still holds
