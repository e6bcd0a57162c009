"""PostgreSQL for the tests: 127.0.0.1:5432 (NOTARY_TEST_PG_* to change), trust auth,
a fresh database with a random name per use, created through the ``test`` database and
dropped afterwards, so two checkouts can run the suite at the same time."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

PG_HOST = os.environ.get("NOTARY_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("NOTARY_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("NOTARY_TEST_PG_USER", "postgres")


def _admin_conninfo() -> str:
    return f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname=test"


def pg_url(dbname: str) -> str:
    return f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{dbname}"


@contextmanager
def fresh_pg_database(tag: str) -> Iterator[str]:
    """A new, empty PostgreSQL database (random name) for the duration of the block."""
    name = f"notary_test_{tag}_{secrets.token_hex(6)}"
    try:
        admin = psycopg.connect(_admin_conninfo(), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as e:  # pragma: no cover - CI always has PostgreSQL
        pytest.fail(f"PostgreSQL at {PG_HOST}:{PG_PORT} is required for these tests: {e}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield pg_url(name)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
