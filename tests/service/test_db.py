"""Database setup: SQLite pragmas, UTC timestamps, and the log's tree storage."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from notary.log import MemoryTreeStorage, MerkleLog, StorageError, TreeStorage
from transfer.db.models import Unit, UnitKind, Volume, VolumeKind
from transfer.db.session import make_engine, write_sessionmaker
from transfer.db.treestore import DbTreeStorage, lock_log


def test_sqlite_connections_are_wal_durable_and_enforce_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}", sqlite_busy_timeout_ms=1234)
    try:
        with engine.connect() as conn:
            pragma = lambda name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
            assert pragma("journal_mode") == "wal"
            assert pragma("synchronous") == 2  # FULL
            assert pragma("foreign_keys") == 1
            assert pragma("busy_timeout") == 1234
    finally:
        engine.dispose()


def test_in_memory_sqlite_is_refused() -> None:
    with pytest.raises(ValueError, match="in-memory"):
        make_engine("sqlite://")


def test_foreign_keys_are_enforced(db: Session) -> None:
    db.add(Volume(cadre_blind_id="ab" * 32, kind=VolumeKind.COPY, custodian_unit_id=uuid.uuid4()))
    with pytest.raises(IntegrityError):
        db.commit()
    db.rollback()


def test_timestamps_come_back_aware_utc(db: Session) -> None:
    beijing = timezone(timedelta(hours=8))
    when = datetime(2024, 3, 1, 9, 30, tzinfo=beijing)
    db.add(Unit(code="T", name="时区", kind=UnitKind.UNIT, created_at=when))
    db.commit()
    db.expunge_all()
    got = db.scalar(select(Unit.created_at).where(Unit.code == "T"))
    assert got == when and got is not None and got.tzinfo == UTC
    assert got.hour == 1


def test_naive_timestamps_are_refused(db: Session) -> None:
    db.add(Unit(code="N", name="无时区", kind=UnitKind.UNIT, created_at=datetime(2024, 1, 1)))
    with pytest.raises(Exception, match="naive"):
        db.commit()
    db.rollback()


def _append(engine: Engine, entries: list[bytes]) -> range:
    with write_sessionmaker(engine)() as s:
        lock_log(s)
        storage = DbTreeStorage(s)
        indices = MerkleLog(storage).append_many(entries)
        storage.put_entries(indices.start, entries)
        s.commit()
    return indices


def test_tree_storage_gives_the_same_log_as_memory(clean_engine: Engine) -> None:
    entries = [f"entry {i}".encode() for i in range(37)]
    reference = MerkleLog(MemoryTreeStorage())
    start = 0
    for batch in (1, 2, 5, 13, 16):  # across several transactions, as ingest does
        chunk = entries[start : start + batch]
        assert _append(clean_engine, chunk) == reference.append_many(chunk)
        start += batch
    with write_sessionmaker(clean_engine)() as s:
        storage = DbTreeStorage(s)
        assert isinstance(storage, TreeStorage)
        log = MerkleLog(storage)
        assert log.size == storage.size() == 37
        assert log.root() == reference.root()
        assert log.root(20) == reference.root(20)
        assert log.inclusion_proof(11, 30) == reference.inclusion_proof(11, 30)
        assert log.consistency_proof(9, 37) == reference.consistency_proof(9, 37)
        assert storage.entry(36) == b"entry 36"
        assert storage.index_of_leaf(log.leaf_hash(17)) == 17
        with pytest.raises(IndexError):
            storage.entry(37)
        with pytest.raises(KeyError):
            storage.get_nodes([(0, 0), (0, 99)])


def test_tree_storage_is_append_only(clean_engine: Engine) -> None:
    _append(clean_engine, [b"a", b"b"])
    with write_sessionmaker(clean_engine)() as s:
        storage = DbTreeStorage(s)
        original = storage.get_nodes([(0, 0)])[0]
        storage.put_nodes([(0, 0, original)])  # the same hash again is harmless
        with pytest.raises(StorageError, match="already written"):
            storage.put_nodes([(0, 0, b"\x00" * 32)])
        with pytest.raises(StorageError, match="gap"):
            storage.put_nodes([(0, 5, b"\x00" * 32)])
        # A refused batch writes nothing, not even its valid first node.
        with pytest.raises(StorageError):
            storage.put_nodes([(0, 2, b"\x02" * 32), (0, 4, b"\x04" * 32)])
        assert storage.size() == 2
        s.commit()
    with write_sessionmaker(clean_engine)() as s:
        assert DbTreeStorage(s).size() == 2


def test_concurrent_read_then_write_transactions_wait_instead_of_failing(
    clean_engine: Engine,
) -> None:
    # The ingest pattern: read the state, then write. On SQLite a deferred
    # transaction would fail with "database is locked" on the upgrade; write
    # sessions begin IMMEDIATE and queue on busy_timeout instead.
    sessions = write_sessionmaker(clean_engine)
    with sessions() as s:
        s.add(Unit(code="C0", name="并发", kind=UnitKind.UNIT))
        s.commit()
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(5):
                with sessions() as s:
                    count = len(s.scalars(select(Unit.id)).all())
                    s.add(Unit(code=f"C{n}-{i}-{count}", name="并发", kind=UnitKind.UNIT))
                    s.commit()
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with sessions() as s:
        assert len(s.scalars(select(Unit.id)).all()) == 41
