"""Database setup: SQLite pragmas, UTC timestamps, and the log's tree storage."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, event, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from notary.log import MemoryTreeStorage, MerkleLog, StorageError, TreeStorage
from tests.transfer.service import _factories as make
from transfer.db.models import (
    LogLeaf,
    LogNode,
    Material,
    MaterialKey,
    Unit,
    UnitKind,
    Volume,
    VolumeKind,
)
from transfer.db.session import make_engine, write_sessionmaker
from transfer.db.treestore import DbTreeStorage, lock_log
from transfer.db.types import DigestError


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


def test_sm3_digests_are_stored_as_32_bytes_and_read_as_hex(db: Session) -> None:
    unit = Unit(code="D", name="摘要", kind=UnitKind.UNIT)
    db.add(unit)
    db.commit()
    m = make.material(db, make.volume(db, str(unit.id)))
    db.add(MaterialKey(material_id=m.id, unit_id=unit.id, key_fingerprint="0f" * 32,
                       wrapped=b"w"))  # fmt: skip
    db.commit()
    db.expunge_all()
    stored = db.execute(text("SELECT m.sm3, k.key_fingerprint FROM materials m "
                             "JOIN material_keys k ON k.material_id = m.id")).one()  # fmt: skip
    assert (bytes(stored[0]), bytes(stored[1])) == (bytes.fromhex(m.sm3), bytes.fromhex("0f" * 32))
    found = db.execute(select(Material.id, Material.sm3).where(Material.sm3 == m.sm3)).one()
    assert tuple(found) == (m.id, m.sm3) and isinstance(found.sm3, str)
    assert db.scalar(select(MaterialKey.key_fingerprint)) == "0f" * 32


@pytest.mark.parametrize(
    "value",
    ["AB" * 32, "ab" * 31, "ab" * 33, "zz" * 32, " " + "ab" * 32, bytes(32)],
    ids=["upper-case", "short", "long", "not-hex", "padded", "bytes"],
)
def test_an_sm3_digest_in_any_other_form_than_lower_case_hex_is_refused(
    db: Session, value: object
) -> None:
    with pytest.raises(StatementError, match="64 lower-case hex digits") as got:
        db.execute(select(Material.id).where(Material.sm3 == value))
    assert isinstance(got.value.orig, DigestError)
    db.rollback()
    db.add(MaterialKey(material_id=uuid.uuid4(), unit_id=uuid.uuid4(), key_fingerprint=value,
                       wrapped=b"w"))  # fmt: skip
    with pytest.raises(StatementError, match="64 lower-case hex digits"):
        db.flush()
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


def _fill(engine: Engine, size: int) -> None:
    """A log of ``size`` leaves written in one batch (hashes from the memory tree)."""
    reference = MerkleLog(MemoryTreeStorage())
    reference.append_many(f"fill {i}".encode() for i in range(size))
    levels = reference.storage._levels  # type: ignore[attr-defined]
    nodes = [(lv, ix, h) for lv, row in enumerate(levels) for ix, h in enumerate(row)]
    with write_sessionmaker(engine)() as s:
        DbTreeStorage(s).put_nodes(nodes)
        s.commit()


_ROWS_READ = text(
    # Tuples returned by scans of log_nodes (sequential) and of each of its indexes, as
    # counted by this backend and not yet flushed: read before and after, the difference
    # is what the statements in between read.
    "SELECT pg_stat_get_xact_tuples_returned('log_nodes'::regclass) + "
    "(SELECT coalesce(sum(pg_stat_get_xact_tuples_returned(indexrelid)), 0)"
    " FROM pg_index WHERE indrelid = 'log_nodes'::regclass)"
)


def _one_append_cost(engine: Engine) -> tuple[list[str], int]:
    """The statements one append sends and, on PostgreSQL, the rows of ``log_nodes``
    (table and index entries) they read."""
    statements: list[str] = []
    postgres = engine.dialect.name == "postgresql"

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    with write_sessionmaker(engine)() as s:
        before = int(s.scalar(_ROWS_READ)) if postgres else 0
        event.listen(engine, "before_cursor_execute", record)
        try:
            lock_log(s)
            storage = DbTreeStorage(s)
            indices = MerkleLog(storage).append_many([b"one more"])
            storage.put_entries(indices.start, [b"one more"])
        finally:
            event.remove(engine, "before_cursor_execute", record)
        rows_read = int(s.scalar(_ROWS_READ)) - before if postgres else 0
        s.commit()
    return statements, rows_read


def test_an_append_costs_the_same_in_a_small_and_a_large_log(clean_engine: Engine) -> None:
    # 100 and 12,800 (= 100 × 128) leaves have the same bit pattern shifted: the append
    # after each completes no subtree and the compact range has three nodes, so a store
    # whose cost does not depend on the tree's size sends the same statements and reads
    # the same rows. (The old store asked for max(idx) GROUP BY level, which read every
    # node of the level: 281 ms per append at 300 k leaves on PostgreSQL.)
    _fill(clean_engine, 100)
    small_statements, small_rows = _one_append_cost(clean_engine)
    with clean_engine.begin() as conn:
        conn.execute(delete(LogLeaf))
        conn.execute(delete(LogNode))
    _fill(clean_engine, 12_800)
    large_statements, large_rows = _one_append_cost(clean_engine)
    assert len(large_statements) == len(small_statements)
    assert not any("GROUP BY" in q.upper() for q in large_statements)
    if clean_engine.dialect.name == "postgresql":
        assert large_rows == small_rows
        assert large_rows < 20  # a few index probes, not a walk over a level


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
