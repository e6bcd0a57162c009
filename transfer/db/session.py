"""Engine and session factories for SQLite (embedded) and PostgreSQL (production).

SQLite notes. pysqlite's own transaction handling is switched off
(``isolation_level=None``) and we emit BEGIN ourselves, because pysqlite would
otherwise begin lazily and make SAVEPOINT and the isolation level unreliable.
A transaction that reads and then writes must start as ``BEGIN IMMEDIATE``: a
deferred one that tries to upgrade to a write lock after another writer committed
fails at once with SQLITE_BUSY, without waiting for ``busy_timeout``. Writers
therefore use :func:`write_sessionmaker`; readers stay deferred so that, in WAL
mode, they never wait for a writer.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

IMMEDIATE = "notary_sqlite_immediate"
_HOLDS_WRITER = "notary_holds_writer_lock"


def make_engine(
    url: str,
    *,
    sqlite_synchronous: str = "FULL",
    sqlite_busy_timeout_ms: int = 30_000,
    **kwargs: Any,
) -> Engine:
    """An engine for ``url`` with the per-connection setup each database needs."""
    if url.startswith("sqlite"):
        if ":memory:" in url or url.rstrip("/") in ("sqlite:", "sqlite+pysqlite:"):
            raise ValueError("an in-memory SQLite database cannot be shared; use a file")
        kwargs.setdefault("connect_args", {})
        # Sync routes run in a thread pool; connections move between threads.
        kwargs["connect_args"].setdefault("check_same_thread", False)
        # One pooled connection per worker thread (anyio runs sync routes on up to 40):
        # with the default 5 (+10 overflow) requests queued on the pool under load, and
        # overflow connections were closed and reopened (PRAGMAs and all) per request.
        kwargs.setdefault("pool_size", 40)
        kwargs.setdefault("max_overflow", 20)
        engine = create_engine(url, **kwargs)
        _setup_sqlite(engine, sqlite_synchronous, sqlite_busy_timeout_ms)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _setup_sqlite(engine: Engine, synchronous: str, busy_timeout_ms: int) -> None:
    if synchronous not in ("NORMAL", "FULL"):
        raise ValueError("sqlite synchronous must be NORMAL or FULL")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        try:
            # WAL: readers never block the writer nor each other.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={synchronous}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        finally:
            cur.close()

    # One writer thread per process asks SQLite for the write lock at a time. SQLite's
    # busy handler polls and is not fair: with several processes (notary serve
    # --workers N) of dozens of threads each polling, a writer could wait past
    # busy_timeout and fail (seen under 300 concurrent verified reads, each committing
    # its read-log entry); queued here instead, a writer contends with at
    # most one writer of each other process.
    writer = threading.RLock()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(IMMEDIATE, False)
        if immediate:
            writer.acquire()
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                writer.release()
                raise
            conn.info[_HOLDS_WRITER] = True
        else:
            conn.exec_driver_sql("BEGIN")

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(conn: Connection) -> None:
        if conn.info.pop(_HOLDS_WRITER, False):
            writer.release()

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        # A connection that goes back to the pool without its transaction's end being
        # seen (invalidated after an error) must not keep the writer queue closed.
        if record.info.pop(_HOLDS_WRITER, False):
            with contextlib.suppress(RuntimeError):  # checked in by another thread
                writer.release()


def read_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def write_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that take SQLite's write lock at BEGIN (no effect on PostgreSQL)."""
    return sessionmaker(engine.execution_options(**{IMMEDIATE: True}), expire_on_commit=False)


def member_of(session: Session, column: Any, values: Sequence[Any]) -> Any:
    """``column IN values``; on PostgreSQL as ``column = ANY(:array)``, one parameter:
    psycopg rewrites a statement's placeholders on the client and caches only short
    statements, so an IN list of a few hundred values cost milliseconds per query (the
    audit's batches of 256 materials)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy import any_, bindparam
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(list(values))
