"""Health checks: small objects the app runs on ``GET /v1/health``.

The app starts with a database check; the store, chain and anchoring-lag checks
are added by whoever builds those parts (``create_app(health_checks=...)`` or
``state.health_checks.append``). A check is synchronous and quick; the route runs
them in a worker thread.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from sqlalchemy import Engine, text

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
