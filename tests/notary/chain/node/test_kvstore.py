"""The sqlite store behind the chain: each atomic batch is all-or-nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from notary.chain.node._kvstore import SqliteAtomicDB, SqliteStore


@pytest.fixture
def db(tmp_path: Path) -> SqliteAtomicDB:
    return SqliteAtomicDB(SqliteStore(tmp_path / "kv.sqlite"))


def test_plain_writes_are_immediately_durable(db: SqliteAtomicDB, tmp_path: Path) -> None:
    db[b"a"] = b"1"
    assert SqliteStore(tmp_path / "kv.sqlite").get(b"a") == b"1"


def test_batch_is_visible_inside_and_committed_on_exit(db: SqliteAtomicDB, tmp_path: Path) -> None:
    db[b"gone"] = b"x"
    with db.atomic_batch() as batch:
        batch[b"a"] = b"1"
        del batch[b"gone"]
        assert batch[b"a"] == b"1" and b"gone" not in batch
        # Not yet on disk for anyone else.
        assert SqliteStore(tmp_path / "kv.sqlite").get(b"a") is None
    other = SqliteStore(tmp_path / "kv.sqlite")
    assert other.get(b"a") == b"1" and other.get(b"gone") is None


def test_batch_that_raises_writes_nothing(db: SqliteAtomicDB) -> None:
    with pytest.raises(RuntimeError, match="boom"), db.atomic_batch() as batch:
        batch[b"a"] = b"1"
        raise RuntimeError("boom")
    assert b"a" not in db


def test_batch_cannot_be_used_after_its_context(db: SqliteAtomicDB) -> None:
    with db.atomic_batch() as batch:
        pass
    with pytest.raises(RuntimeError):
        batch[b"a"] = b"1"


def test_missing_keys_raise_key_error(db: SqliteAtomicDB) -> None:
    with pytest.raises(KeyError):
        db[b"missing"]
    with pytest.raises(KeyError):
        del db[b"missing"]
    db.delete(b"missing")  # py-evm's tolerant delete
