"""Alembic: migrations build the schema from nothing on both databases, and agree
with the models (the ``alembic check`` of this project)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect

from tests._support.pg import fresh_pg_database
from transfer.db.migrate import (
    alembic_config,
    current_revision,
    head_revision,
    schema_diff,
    upgrade,
)
from transfer.db.models import Base
from transfer.db.session import make_engine


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
