"""Alembic: migrations build the schema from nothing on both databases, and agree
with the models (the ``alembic check`` of this project)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, select

from notary.entries import (
    access_event,
    custody_event,
    entry_subject,
    material_read,
    material_registered,
    transfer_event,
)
from tests._support.pg import fresh_pg_database
from transfer.db.migrate import (
    alembic_config,
    current_revision,
    head_revision,
    schema_diff,
    upgrade,
)
from transfer.db.models import Base, LogSubject
from transfer.db.session import make_engine, write_sessionmaker
from transfer.services.logwriter import append_entries


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        with fresh_pg_database("mig") as url:
            yield url


def test_upgrade_from_empty_reaches_head_and_matches_models(empty_url: str) -> None:
    assert current_revision(empty_url) is None
    upgrade(empty_url)
    assert current_revision(empty_url) == head_revision()
    assert schema_diff(empty_url) == []
    engine = make_engine(empty_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(Base.metadata.tables) | {"alembic_version"} == tables


def test_upgrade_twice_is_a_no_op(empty_url: str) -> None:
    upgrade(empty_url)
    upgrade(empty_url)
    assert current_revision(empty_url) == head_revision()


def test_downgrade_to_nothing_and_back(empty_url: str) -> None:
    upgrade(empty_url)
    engine = make_engine(empty_url)
    try:
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    upgrade(empty_url)
    assert schema_diff(empty_url) == []


def test_concurrent_instances_migrate_once() -> None:
    # Several service instances starting together on one PostgreSQL: the advisory
    # lock makes one migrate and the others find the schema at head.
    with fresh_pg_database("race") as url:
        errors: list[BaseException] = []

        def start() -> None:
            try:
                upgrade(url)
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=start) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert current_revision(url) == head_revision()


def test_migrations_ship_inside_the_package() -> None:
    # No alembic.ini: the script location is the installed package directory.
    cfg = alembic_config()
    location = Path(cfg.get_main_option("script_location") or "")
    assert (location / "env.py").is_file()
    assert (location / "__init__.py").is_file() and (
        location / "versions" / "__init__.py"
    ).is_file()
    assert any(location.joinpath("versions").glob("0001_*.py"))


def _entry(i: int) -> dict[str, object]:
    """Leaf ``i`` of a log with every kind of entry, a few of each indexed kind."""
    kind = i % 50
    if kind == 0:
        return custody_event(event="registered", volume=f"{i:064x}", to_unit="U", time_ms=i)
    if kind == 1:
        return material_read(material_id=f"m-{i // 100}", unit="U", purpose="审核", time_ms=i)
    if kind == 2:
        return transfer_event(event="create", transfer_id=f"t-{i // 200}", state="created",
                              time_ms=i)  # fmt: skip
    if kind == 3:
        return material_registered(
            material_id=f"m-{i}", sm3_hex="ab" * 32, cid="c", size=1, category="1",
            volume=f"{i:064x}", unit="U", version=1, time_ms=i,
        )  # fmt: skip
    return access_event(action="key.issue", unit="U", actor=None, time_ms=i)


def test_the_log_subject_index_is_backfilled_from_an_existing_log(empty_url: str) -> None:
    # 0010_log_subjects indexes a log written before it, in batches (5,000 leaves each:
    # this log spans two), exactly as the writer indexes each new leaf.
    upgrade(empty_url)
    engine = make_engine(empty_url)
    entries = [_entry(i) for i in range(5_120)]
    query = select(LogSubject.kind, LogSubject.subject, LogSubject.leaf_index).order_by(
        LogSubject.leaf_index
    )
    try:
        with write_sessionmaker(engine)() as s:
            append_entries(s, entries)
            s.commit()
            written = [tuple(r) for r in s.execute(query)]
        expected = [
            (*found, i) for i, e in enumerate(entries) if (found := entry_subject(e)) is not None
        ]
        assert written == expected and len(written) == 3 * 103
        assert {k for k, _, _ in written} == {"custody", "read", "transfer"}
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0009_cadre_names")
        assert "log_subjects" not in inspect(engine).get_table_names()
        upgrade(engine)
        with write_sessionmaker(engine)() as s:
            assert [tuple(r) for r in s.execute(query)] == written
    finally:
        engine.dispose()
