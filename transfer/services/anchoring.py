"""The anchoring worker of the service: a database outbox and its thread.

:class:`DbOutbox` is :class:`notary.anchoring.CheckpointOutbox` over the
``checkpoints`` table, so a checkpoint is durable before its transaction is sent and
a restarted worker resumes where the last one stopped. :class:`AnchoringWorker`
runs :class:`notary.anchoring.Anchorer` in a thread, entered as a lifespan hook.

Several instances may share one PostgreSQL: each runs a worker, but only the holder
of a session-level advisory lock (on its own long-lived connection) signs and
anchors; the others stay on standby and retry the lock every tick. If the holder
dies, PostgreSQL ends its session and frees the lock, and a standby takes over. On
SQLite there is one instance per database (the embedded chain admits one writer
process), so no lock is needed.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import cast

from sqlalchemy import Connection, Engine, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from notary.anchoring import Anchorer, AnchorSink
from notary.checkpoint import SignedCheckpoint, parse_signed_checkpoint
from notary.crypto import Signer, sm3
from notary.log import MerkleLog
from notary.log.merkle import root_at
from notary.receipts import AnchorRef
from transfer.db.models import Checkpoint, CheckpointStatus
from transfer.db.treestore import DbTreeStorage
from transfer.db.types import utcnow

log = logging.getLogger(__name__)

# Session-level advisory lock of the anchoring worker ("notaryan"); distinct from
# the transaction-level log-append lock so that appends never wait for anchoring.
PG_ANCHOR_LOCK = 0x6E6F74617279616E


def anchor_ref_of(row: Checkpoint) -> AnchorRef | None:
    if row.status is not CheckpointStatus.ANCHORED or row.tx_hash is None:
        return None
    assert row.chain_id is not None and row.contract is not None and row.block_number is not None
    return AnchorRef(row.chain_id, row.contract, row.tx_hash, row.block_number)


class DbOutbox:
    """:class:`notary.anchoring.CheckpointOutbox` in the ``checkpoints`` table."""

    def __init__(self, sessions: sessionmaker[Session], write_sessions: sessionmaker[Session]):
        self._sessions = sessions
        self._write = write_sessions

    def latest(self) -> SignedCheckpoint | None:
        with self._sessions() as s:
            row = s.scalars(
                select(Checkpoint).order_by(Checkpoint.tree_size.desc()).limit(1)
            ).first()
            return None if row is None else parse_signed_checkpoint(row.body)

    def add(self, checkpoint: SignedCheckpoint) -> None:
        c = checkpoint.checkpoint
        with self._write() as s:
            s.add(
                Checkpoint(
                    tree_size=c.tree_size,
                    root=c.root,
                    timestamp_ms=c.timestamp_ms,
                    signature=checkpoint.signature,
                    body=checkpoint.to_json(),
                    status=CheckpointStatus.PENDING,
                )
            )
            s.commit()

    def pending(self) -> list[SignedCheckpoint]:
        with self._sessions() as s:
            rows = s.scalars(
                select(Checkpoint)
                .where(Checkpoint.status == CheckpointStatus.PENDING)
                .order_by(Checkpoint.tree_size)
            ).all()
            return [parse_signed_checkpoint(r.body) for r in rows]

    def mark_anchored(self, tree_size: int, anchor: AnchorRef) -> None:
        with self._write() as s:
            s.execute(
                update(Checkpoint)
                .where(Checkpoint.tree_size == tree_size)
                .values(
                    status=CheckpointStatus.ANCHORED,
                    tx_hash=anchor.tx_hash,
                    block_number=anchor.block_number,
                    chain_id=anchor.chain_id,
                    contract=anchor.contract,
                    anchored_at=utcnow(),
                    last_error=None,
                )
            )
            s.commit()

    def mark_failed(self, tree_size: int, error: str) -> None:
        with self._write() as s:
            s.execute(
                update(Checkpoint)
                .where(Checkpoint.tree_size == tree_size)
                .values(attempts=Checkpoint.attempts + 1, last_error=error[:2000])
            )
            s.commit()

    def covering(self, leaf_index: int) -> tuple[SignedCheckpoint, AnchorRef | None] | None:
        with self._sessions() as s:
            row = covering_checkpoint(s, leaf_index)
            return None if row is None else (parse_signed_checkpoint(row.body), anchor_ref_of(row))


def covering_checkpoint(
    session: Session, leaf_index: int, *, anchored_only: bool = False
) -> Checkpoint | None:
    """The smallest anchored checkpoint containing the leaf, else (unless
    ``anchored_only``) the smallest pending one: ``notary.anchoring.covering_size``
    as a query."""
    base = (
        select(Checkpoint).where(Checkpoint.tree_size > leaf_index).order_by(Checkpoint.tree_size)
    )
    row = session.scalars(
        base.where(Checkpoint.status == CheckpointStatus.ANCHORED).limit(1)
    ).first()
    if row is not None or anchored_only:
        return row
    return session.scalars(base.limit(1)).first()


class _DbLogView:
    """The two things the Anchorer reads of a log (size, root), from committed rows.

    Each call is its own read: nodes never change once written, so a size and a root
    read in separate transactions still describe the same tree.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    @property
    def size(self) -> int:
        with self._sessions() as s:
            return DbTreeStorage(s).size()

    def root(self, size: int | None = None) -> bytes:
        with self._sessions() as s:
            storage = DbTreeStorage(s)
            return root_at(sm3, storage, storage.size() if size is None else size)


class AnchoringWorker:
    """Checkpoints and anchors the log in a thread while the app runs (a lifespan hook)."""

    def __init__(
        self,
        engine: Engine,
        sessions: sessionmaker[Session],
        write_sessions: sessionmaker[Session],
        *,
        signer: Signer,
        origin: str,
        chain: AnchorSink,
        interval_s: float,
        max_entries: int,
        tick_s: float | None = None,
    ) -> None:
        self._engine = engine
        self.outbox = DbOutbox(sessions, write_sessions)
        self.anchorer = Anchorer(
            cast(MerkleLog, _DbLogView(sessions)),
            signer,
            origin,
            chain,
            self.outbox,
            interval_s=interval_s,
            max_entries=max_entries,
        )
        self.tick_s = tick_s if tick_s is not None else min(0.1, interval_s / 2)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock_conn: Connection | None = None
        self._uses_lock = engine.dialect.name == "postgresql"
        self.active = not self._uses_lock
        self.rounds = 0
        self.last_error: str | None = None

    # --- the advisory lock -----------------------------------------------------------

    def _hold_lock(self) -> bool:
        """True while this instance is the anchoring instance."""
        if not self._uses_lock:
            return True
        if self._lock_conn is not None:
            try:
                self._lock_conn.execute(text("SELECT 1"))
                return True
            except Exception:  # the session (and with it the lock) is gone
                log.warning("锚定锁所在的数据库连接已断开，重新竞争锚定锁")
                self._drop_lock()
        conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = bool(
                conn.execute(
                    text("SELECT pg_try_advisory_lock(:k)"), {"k": PG_ANCHOR_LOCK}
                ).scalar()
            )
        except Exception:
            conn.close()
            raise
        if not got:
            conn.close()
            self.active = False
            return False
        self._lock_conn = conn
        self.active = True
        log.info("本实例取得锚定锁，开始签署并锚定检查点")
        return True

    def _drop_lock(self) -> None:
        conn, self._lock_conn = self._lock_conn, None
        self.active = not self._uses_lock
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": PG_ANCHOR_LOCK})
            with contextlib.suppress(Exception):
                conn.close()

    # --- the loop --------------------------------------------------------------------

    def run_once(self, *, force: bool = False) -> int:
        """One round: checkpoint if due, anchor what is pending. Returns anchors made."""
        if not self._hold_lock():
            return 0
        self.anchorer.checkpoint_if_due(force=force)
        return self.anchorer.flush()

    def _run(self) -> None:
        backoff = self.tick_s
        while not self._stop.is_set():
            try:
                pending_before = len(self.outbox.pending()) if self.active else 0
                self.run_once()
                failed = pending_before and len(self.outbox.pending()) >= pending_before
                backoff = min(backoff * 2, 5.0) if failed else self.tick_s
                self.last_error = None
            except Exception as e:  # the database or chain hiccuped; try again later
                self.last_error = type(e).__name__
                log.exception("锚定轮次失败，稍后重试")
                backoff = min(backoff * 2, 5.0)
            self.rounds += 1
            self._stop.wait(backoff)
        self._drop_lock()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="anchoring", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the loop and give up the anchoring lock — also one taken by a
        :meth:`run_once` called directly: a session-level lock left on a pooled
        connection would keep every other instance on standby."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            if self._thread.is_alive():
                return  # stuck in a round: it drops the lock itself when the round ends
            self._thread = None
        self._drop_lock()

    def __enter__(self) -> AnchoringWorker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
