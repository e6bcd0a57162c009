"""A durable py-evm key-value database on sqlite (WAL).

py-evm 0.12 ships only an in-memory database. This module provides its
``AtomicDB`` interface over one sqlite file so that the embedded chain survives
a restart and a kill -9:

* every ``atomic_batch()`` is committed as exactly one sqlite transaction, so a
  batch is either wholly on disk or not at all. py-evm moves the canonical head
  only inside the batch of ``persist_block``; a crash therefore always leaves a
  head whose block, receipts and state are complete;
* writes outside a batch (rare in py-evm: content-addressed trie nodes) are
  committed one statement at a time, which is safe because nothing refers to
  them until a later batch does.

The sqlite connection is not shared between threads concurrently: callers
serialise access (the embedded chain holds a lock around every request).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path

from eth.abc import AtomicWriteBatchAPI
from eth.db.backends.base import BaseAtomicDB, BaseDB
from eth.db.diff import DBDiffTracker, DiffMissingError


class SyncMode(StrEnum):
    """sqlite ``synchronous`` level for the WAL.

    ``FULL`` fsyncs the WAL at every commit: a committed block survives power
    loss. ``NORMAL`` skips that fsync: a committed block survives a process
    crash (kill -9) but the last commits may be lost on power failure.
    """

    FULL = "FULL"
    NORMAL = "NORMAL"


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)",
)


class SqliteStore:
    """The raw sqlite file: a ``kv`` table for py-evm and a ``meta`` table for settings."""

    def __init__(self, path: Path, sync: SyncMode = SyncMode.FULL) -> None:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so that the
        # transaction boundaries are exactly the batch boundaries.
        self._conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(f"PRAGMA synchronous={sync.value}")
        for statement in _SCHEMA:
            self._conn.execute(statement)
        self._in_transaction = False

    # -- reads -------------------------------------------------------------
    def get(self, key: bytes) -> bytes | None:
        row = self._conn.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def is_empty(self) -> bool:
        return self._conn.execute("SELECT 1 FROM kv LIMIT 1").fetchone() is None

    def get_meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT v FROM meta WHERE k = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def size_bytes(self) -> int:
        page_count = self._conn.execute("PRAGMA page_count").fetchone()[0]
        page_size = self._conn.execute("PRAGMA page_size").fetchone()[0]
        return int(page_count) * int(page_size)

    # -- writes ------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One sqlite transaction; nested calls join the outermost one."""
        if self._in_transaction:
            yield
            return
        # IMMEDIATE takes the write lock up front, so a commit cannot fail
        # half-way with SQLITE_BUSY after the batch was applied.
        self._conn.execute("BEGIN IMMEDIATE")
        self._in_transaction = True
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        else:
            self._conn.execute("COMMIT")
        finally:
            self._in_transaction = False

    def put(self, key: bytes, value: bytes) -> None:
        self._conn.execute("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", (key, value))

    def delete(self, key: bytes) -> None:
        self._conn.execute("DELETE FROM kv WHERE k = ?", (key,))

    def write_batch(self, puts: list[tuple[bytes, bytes]], deletes: list[bytes]) -> None:
        with self.transaction():
            if puts:
                self._conn.executemany("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", puts)
            if deletes:
                self._conn.executemany("DELETE FROM kv WHERE k = ?", [(k,) for k in deletes])

    def set_meta(self, key: str, value: str) -> None:
        self._conn.execute("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)", (key, value))

    def close(self) -> None:
        self._conn.close()


class _WriteBatch(BaseDB, AtomicWriteBatchAPI):
    """Pending writes of one ``atomic_batch()``: visible to reads through the batch only."""

    def __init__(self, target: SqliteAtomicDB) -> None:
        self._target: SqliteAtomicDB | None = target
        self._diff: DBDiffTracker | None = DBDiffTracker()

    def _live(self) -> tuple[SqliteAtomicDB, DBDiffTracker]:
        if self._target is None or self._diff is None:
            # py-evm's own batch raises the same way: a batch used after its
            # context closed is a programming error, never a silent write.
            raise RuntimeError("write batch used outside its atomic_batch() context")
        return self._target, self._diff

    def __getitem__(self, key: bytes) -> bytes:
        target, diff = self._live()
        try:
            return diff[key]
        except DiffMissingError as missing:
            if missing.is_deleted:
                raise KeyError(key) from None
            return target[key]

    def __setitem__(self, key: bytes, value: bytes) -> None:
        _, diff = self._live()
        diff[key] = value

    def __delitem__(self, key: bytes) -> None:
        _, diff = self._live()
        if key not in self:
            raise KeyError(key)
        del diff[key]

    def _exists(self, key: bytes) -> bool:
        try:
            self[key]
        except KeyError:
            return False
        return True

    def commit(self) -> None:
        target, diff = self._live()
        pending = diff.diff()
        target.store.write_batch(list(pending.pending_items()), list(pending.deleted_keys()))

    def close(self) -> None:
        self._target = None
        self._diff = None


class SqliteAtomicDB(BaseAtomicDB):
    """py-evm ``AtomicDatabaseAPI`` over :class:`SqliteStore`."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store

    def __getitem__(self, key: bytes) -> bytes:
        value = self.store.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.store.put(key, value)

    def __delitem__(self, key: bytes) -> None:
        if not self._exists(key):
            raise KeyError(key)
        self.store.delete(key)

    def _exists(self, key: bytes) -> bool:
        return self.store.get(key) is not None

    @contextmanager
    def atomic_batch(self) -> Iterator[AtomicWriteBatchAPI]:
        batch = _WriteBatch(self)
        try:
            yield batch
            batch.commit()
        finally:
            batch.close()
