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
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, cast

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Connection, Engine, func, select, text, update
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
from transfer.services.health import CheckResult

log = logging.getLogger(__name__)

# Session-level advisory lock of the anchoring worker ("notaryan"); distinct from
# the transaction-level log-append lock so that appends never wait for anchoring.
PG_ANCHOR_LOCK = 0x6E6F74617279616E


def _anchor_of(row: Checkpoint) -> AnchorRef | None:
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
            return None if row is None else (parse_signed_checkpoint(row.body), _anchor_of(row))


def covering_checkpoint(
    session: Session, leaf_index: int, *, anchored_only: bool = False
) -> Checkpoint | None:
    """The smallest anchored checkpoint containing the leaf, else (unless
    ``anchored_only``) the smallest pending one."""
    base = (
        select(Checkpoint).where(Checkpoint.tree_size > leaf_index).order_by(Checkpoint.tree_size)
    )
    row = session.scalars(
        base.where(Checkpoint.status == CheckpointStatus.ANCHORED).limit(1)
    ).first()
    if row is not None or anchored_only:
        return row
    return session.scalars(base.limit(1)).first()


def anchor_ref_of(row: Checkpoint) -> AnchorRef | None:
    return _anchor_of(row)


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


# --- health and metrics ----------------------------------------------------------------


def anchoring_status(session: Session) -> dict[str, Any]:
    oldest = session.scalar(
        select(func.min(Checkpoint.created_at)).where(Checkpoint.status == CheckpointStatus.PENDING)
    )
    pending = session.scalar(
        select(func.count(Checkpoint.id)).where(Checkpoint.status == CheckpointStatus.PENDING)
    )
    anchored = session.scalar(
        select(func.max(Checkpoint.tree_size)).where(Checkpoint.status == CheckpointStatus.ANCHORED)
    )
    lag = 0.0
    if oldest is not None:
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        lag = max(0.0, (datetime.now(UTC) - oldest).total_seconds())
    return {
        "pending_checkpoints": int(pending or 0),
        "anchored_tree_size": int(anchored or 0),
        "log_size": DbTreeStorage(session).size(),
        "lag_s": round(lag, 3),
    }


class AnchoringCheck:
    name = "anchoring"

    def __init__(
        self, sessions: sessionmaker[Session], worker: AnchoringWorker | None, interval_s: float
    ) -> None:
        self._sessions = sessions
        self._worker = worker
        self._limit_s = max(30.0, 10 * interval_s)

    def check(self) -> CheckResult:
        with self._sessions() as s:
            detail = anchoring_status(s)
        if self._worker is not None:
            detail["worker"] = "active" if self._worker.active else "standby"
            if self._worker.last_error:
                detail["last_error"] = self._worker.last_error
        return CheckResult("degraded" if detail["lag_s"] > self._limit_s else "ok", detail)


class ChainCheck:
    """The chain answers a view call; a chain outage is "down" (uploads still work, but
    nothing new gets anchored and reads cannot check anchors)."""

    name = "chain"

    def __init__(self, chain: Any, log_id: bytes) -> None:
        self._chain = chain
        self._log_id = log_id

    def check(self) -> CheckResult:
        start = time.perf_counter()
        try:
            latest = self._chain.latest_anchor(self._log_id)
        except Exception as e:
            return CheckResult("down", {"error": type(e).__name__})
        return CheckResult(
            "ok",
            {
                "chain_id": self._chain.chain_id,
                "contract": self._chain.address,
                "anchored_tree_size": 0 if latest is None else latest.tree_size,
                "rpc_ms": round((time.perf_counter() - start) * 1000, 3),
            },
        )


class StoreCheck:
    name = "store"

    def __init__(self, store: Any) -> None:
        self._store = store

    def check(self) -> CheckResult:
        from notary.store import StoreError, compute_cid

        try:
            # A node's version answers at once; ``has`` of a block it lacks makes an
            # online js-ipfs node ask its peers until the timeout.
            version = getattr(self._store, "version", None)
            if version is not None:
                version(timeout=5.0)
            else:
                self._store.has(compute_cid(b""))
        except StoreError as e:
            return CheckResult("down", {"error": type(e).__name__})
        return CheckResult("ok", {"backend": type(self._store).__name__})


class AnchoringCollector(Collector):
    """Anchoring lag and pending checkpoints, read from the database at scrape time
    (so every instance reports the shared truth, not only the anchoring one)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            with self._sessions() as s:
                status = anchoring_status(s)
        except Exception:  # a scrape must not fail because the database blinked
            return
        yield GaugeMetricFamily(
            "notary_anchoring_lag_seconds",
            "Age of the oldest checkpoint not yet anchored (0 when none is pending).",
            value=status["lag_s"],
        )
        yield GaugeMetricFamily(
            "notary_pending_checkpoints",
            "Signed checkpoints waiting to be anchored.",
            value=status["pending_checkpoints"],
        )
        yield GaugeMetricFamily("notary_log_size", "Entries in the log.", value=status["log_size"])
        yield GaugeMetricFamily(
            "notary_anchored_tree_size",
            "Tree size of the latest anchored checkpoint.",
            value=status["anchored_tree_size"],
        )
