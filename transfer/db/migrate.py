"""Run the service's Alembic migrations from code (no alembic.ini, works installed).

    upgrade(url)                      # bring a database to the newest schema
    downgrade(url, "0010_log_subjects")   # back to a revision (service stopped)
    python -m transfer.db.migrate revision -m "add transfers" --url sqlite:///dev.db
    python -m transfer.db.migrate check --url ...   # models and migrations agree?

All of a migration run is one transaction; on PostgreSQL it first takes an advisory
lock, so several service instances starting together migrate exactly once. On SQLite
it runs with foreign keys off (batch mode recreates tables) and ends with
``PRAGMA foreign_key_check``: a row left pointing nowhere rolls the run back.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
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
    _migrate(target, lambda cfg: command.upgrade(cfg, revision))


def downgrade(target: str | Engine, revision: str) -> None:
    """Migrate the database at ``target`` (URL or engine) down to ``revision`` ("base":
    no tables). Run with the service stopped, as an upgrade."""
    _migrate(target, lambda cfg: command.downgrade(cfg, revision))


def _migrate(target: str | Engine, run: Callable[[Config], None]) -> None:
    engine, owned = _engine(target)
    try:
        with engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                # Batch mode recreates a table (copy, drop, rename): with foreign keys
                # on, dropping a referenced table fails. SQLite ignores this PRAGMA
                # inside a transaction, so it goes to the driver before BEGIN, and
                # the check below stands in for the enforcement it switched off.
                _sqlite_pragma(conn, "foreign_keys=OFF")
            try:
                with conn.execution_options(**{IMMEDIATE: True}).begin():
                    if conn.dialect.name == "postgresql":
                        conn.execute(
                            text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK}
                        )
                    run(alembic_config(conn))
                    if sqlite:
                        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                        if broken:
                            # Raising rolls the whole migration back.
                            raise RuntimeError(
                                f"migration left {len(broken)} rows whose foreign keys "
                                f"point nowhere, e.g. {tuple(broken[0])}; rolled back"
                            )
            finally:
                if sqlite:
                    _sqlite_pragma(conn, "foreign_keys=ON")
    finally:
        if owned:
            engine.dispose()


def _sqlite_pragma(conn: Connection, pragma: str) -> None:
    """A PRAGMA outside any transaction: on the driver's connection, which runs in
    autocommit (``isolation_level=None``, transfer.db.session), so SQLAlchemy's
    autobegin does not wrap it in the BEGIN that would make SQLite ignore it."""
    raw = conn.connection.driver_connection
    assert raw is not None
    raw.execute(f"PRAGMA {pragma}")


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
    parser.add_argument("action", choices=["upgrade", "downgrade", "current", "check", "revision"])
    parser.add_argument("--url", required=True, help="database URL")
    parser.add_argument("--to", default="head", help="upgrade or downgrade to this revision")
    parser.add_argument("-m", "--message", default="schema change")
    args = parser.parse_args(argv)
    if args.action == "upgrade":
        upgrade(args.url, args.to)
    elif args.action == "downgrade":
        if args.to == "head":
            parser.error("downgrade needs --to REVISION")
        downgrade(args.url, args.to)
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
