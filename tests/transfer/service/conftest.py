"""The service tests' fixtures: the in-process service world of tests/_support/api.py,
on SQLite and on PostgreSQL."""

from tests._support.api import (
    backend_url,
    cast,
    clean_engine,
    client,
    db,
    deployment,
    engine,
    ncast,
    nclient,
    notary_settings,
    settings,
)

__all__ = [
    "backend_url",
    "cast",
    "clean_engine",
    "client",
    "db",
    "deployment",
    "engine",
    "ncast",
    "nclient",
    "notary_settings",
    "settings",
]
