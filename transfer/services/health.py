"""Health checks: small objects the app runs on ``GET /v1/health``.

The app starts with a database check; the store, chain and anchoring-lag checks
(below) are added when the deployment is wired (transfer/api/app.py). A check is
synchronous and quick; the route runs them in a worker thread.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from transfer.db.models import Checkpoint, CheckpointStatus
from transfer.db.treestore import DbTreeStorage

if TYPE_CHECKING:
    from transfer.services.anchoring import AnchoringWorker

Status = Literal["ok", "degraded", "down"]
_SEVERITY: dict[Status, int] = {"ok": 0, "degraded": 1, "down": 2}


@dataclass(frozen=True, slots=True)
class CheckResult:
    status: Status
    # Facts for operators (sizes, lags, versions); never secrets or stack traces.
    detail: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class HealthCheck(Protocol):
    @property
    def name(self) -> str: ...

    def check(self) -> CheckResult: ...


def worst(statuses: list[Status]) -> Status:
    return max(statuses, key=_SEVERITY.__getitem__, default="ok")


class DatabaseCheck:
    """The database answers and is migrated to the revision this code expects."""

    name = "database"

    def __init__(self, engine: Engine, expected_revision: str | None) -> None:
        self._engine = engine
        self._expected = expected_revision

    def check(self) -> CheckResult:
        with self._engine.connect() as conn:
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        detail: dict[str, Any] = {"dialect": self._engine.dialect.name, "revision": revision}
        if self._expected is not None and revision != self._expected:
            detail["expected_revision"] = self._expected
            return CheckResult("degraded", detail)
        return CheckResult("ok", detail)


class ProcessCheck:
    """Which process answered: ``notary serve --workers N`` spreads connections over N
    processes (the anchoring runs in their supervisor, which serves no requests)."""

    name = "process"

    def __init__(self, background_duties: bool) -> None:
        self._duties = background_duties

    def check(self) -> CheckResult:
        return CheckResult("ok", {"pid": os.getpid(), "background_duties": self._duties})


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
