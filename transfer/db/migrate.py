"""Run the service's Alembic migrations from code (no alembic.ini, works installed).

    upgrade(url)                      # bring a database to the newest schema
    python -m transfer.db.migrate revision -m "add transfers" --url sqlite:///dev.db
    python -m transfer.db.migrate check --url ...   # models and migrations agree?

All of a migration run is one transaction; on PostgreSQL it first takes an advisory
lock, so several service instances starting together migrate exactly once.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from transfer.db.models import Base
from transfer.db.session import IMMEDIATE, make_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Arbitrary but fixed: "notary-migrate" folded into a signed 64-bit integer.
_PG_MIGRATION_LOCK = 0x6E6F746172796D67


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Versions are named 0001_..., 0002_...; the name says the order at a glance.
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise RuntimeError("no migrations found")
    return head


def _engine(target: str | Engine) -> tuple[Engine, bool]:
    if isinstance(target, Engine):
        return target, False
    return make_engine(target), True


def upgrade(target: str | Engine, revision: str = "head") -> None:
    """Migrate the database at ``target`` (URL or engine) up to ``revision``."""
    engine, owned = _engine(target)
    try:
        with engine.execution_options(**{IMMEDIATE: True}).begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            command.upgrade(alembic_config(conn), revision)
    finally:
        if owned:
            engine.dispose()


def current_revision(target: str | Engine) -> str | None:
    engine, owned = _engine(target)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        if owned:
            engine.dispose()


def schema_diff(target: str | Engine) -> list[Any]:
    """Differences between the migrated database and the models (empty when they agree)."""
    engine, owned = _engine(target)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(ctx, Base.metadata))
    finally:
        if owned:
            engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m transfer.db.migrate")
    parser.add_argument("action", choices=["upgrade", "current", "check", "revision"])
    parser.add_argument("--url", required=True, help="database URL")
    parser.add_argument("-m", "--message", default="schema change")
    args = parser.parse_args(argv)
    if args.action == "upgrade":
        upgrade(args.url)
    elif args.action == "current":
        print(current_revision(args.url))
    elif args.action == "check":
        diff = schema_diff(args.url)
        for d in diff:
            print(d)
        raise SystemExit(1 if diff else 0)
    else:
        # Autogenerate against a database at head; review the result before committing.
        engine = make_engine(args.url)
        try:
            with engine.begin() as conn:
                command.revision(
                    alembic_config(conn),
                    message=args.message,
                    autogenerate=True,
                    rev_id=f"{int(head_revision()) + 1:04d}",
                )
        finally:
            engine.dispose()


if __name__ == "__main__":
    main()
