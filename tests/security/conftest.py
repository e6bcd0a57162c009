# ruff: noqa: F811 - pytest fixtures imported from tests/_support/api.py are parameters here
"""Fixtures of the security suite: the in-process service world (tests/_support/api.py)
on SQLite only (the battery is about what detects tampering, not about the database
engine; the API tests of ``tests/transfer/service`` already run on both), and the
tamper-detection table printed at the end of the run (also in SECURITY.md)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from notary.deployment import Deployment
from tests._support.api import (  # noqa: F401 - fixtures re-exported to this package
    Cast,
    cast,
    clean_engine,
    db,
    deployment,
    engine,
    host_units,
    ncast,
    nclient,
    notary_settings,
    settings,
)
from tests.security._world import DETECTIONS, format_table
from transfer.api import create_app
from transfer.settings import Settings


@pytest.fixture(scope="session")
def backend_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'notary.db'}"


@pytest.fixture
def sclient(
    notary_settings: Settings, clean_engine: Engine, deployment: Deployment
) -> Iterator[TestClient]:
    """The service without its anchoring thread: tests anchor by hand (known tree sizes).
    Server exceptions become 500 responses, as a client would see them."""
    settings = notary_settings.model_copy(update={"anchoring_enabled": False})
    app = create_app(settings, engine=clean_engine, deployment=deployment)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def scast(cast: Cast, db: Session, sclient: TestClient) -> Cast:
    """The cast, with U1 and U2 hosted here (envelope keys in the deployment)."""
    return host_units(cast, db, sclient)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if DETECTIONS:
        terminalreporter.write_sep("=", "tamper detection (tests/security/test_tamper.py)")
        terminalreporter.write_line(format_table(DETECTIONS))
