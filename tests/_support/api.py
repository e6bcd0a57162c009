"""A service world in process (the API on a ``TestClient``): the fixtures of tests/transfer/service,
also registered by tests/security. Every API test runs on SQLite and on PostgreSQL (the
PostgreSQL variant is marked ``pg``: outside the fast part of the suite).

PostgreSQL gets a fresh database per test session (tests._support.pg). Each backend is
migrated once per session; every test starts from empty tables.

A directory registers these fixtures by importing them into its conftest.py; each
directory that does so has its own session engine and deployment.
"""

from __future__ import annotations

import secrets
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from notary.deployment import Deployment, init_deployment
from tests._support.pg import fresh_pg_database
from transfer.db.migrate import upgrade
from transfer.db.models import Base, Unit, UnitKind
from transfer.db.session import make_engine, write_sessionmaker
from transfer.roles import Role
from transfer.security import issue_api_key
from transfer.settings import Settings

with warnings.catch_warnings():
    # Starlette asks for "httpx2" in its test client; httpx is what is installed.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from transfer.api import create_app

TEST_SECRET = "test-blinding-secret-0123456789"


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)]
)
def backend_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'notary.db'}"
    else:
        with fresh_pg_database("api") as url:
            yield url


@pytest.fixture(scope="session")
def engine(backend_url: str) -> Iterator[Engine]:
    eng = make_engine(backend_url)
    upgrade(eng)
    yield eng
    eng.dispose()


def empty_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(delete(table))


@pytest.fixture(autouse=False)
def clean_engine(engine: Engine) -> Iterator[Engine]:
    """The session's engine, with every table emptied after the test."""
    yield engine
    empty_tables(engine)


@pytest.fixture
def settings(tmp_path: Path, backend_url: str) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=backend_url,
        migrate_on_start=False,
        blinding_secret=SecretStr(TEST_SECRET),
    )


@pytest.fixture
def client(settings: Settings, clean_engine: Engine) -> Iterator[TestClient]:
    app = create_app(settings, engine=clean_engine)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def db(clean_engine: Engine) -> Iterator[Session]:
    """A write session for arranging data directly in the database."""
    with write_sessionmaker(clean_engine)() as session:
        yield session


@dataclass(frozen=True)
class Actor:
    """One API key: its role and the unit it belongs to (by code; by id and name where
    the test knows them)."""

    unit_code: str
    role: Role
    key: str
    unit_id: str = ""
    unit_name: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass
class Cast:
    """The people of a small deployment: the three administrators and two units."""

    admin: Actor
    security: Actor
    audit: Actor
    operator: Actor  # of unit U1 (an archive centre)
    other: Actor  # operator of unit U2
    by_role: dict[Role, Actor] = field(default_factory=dict)


def _actor(session: Session, unit: Unit, role: Role) -> Actor:
    _, text = issue_api_key(session, unit, role)
    return Actor(unit.code, role, text, unit_id=str(unit.id))


@pytest.fixture
def cast(db: Session) -> Cast:
    return new_cast(db)


def new_cast(db: Session) -> Cast:
    """The administrators' unit ORG and the units U1 and U2, each with its keys."""
    org = Unit(code="ORG", name="市委组织部", kind=UnitKind.ADMIN)
    u1 = Unit(code="U1", name="市档案中心", kind=UnitKind.ARCHIVE_CENTRE)
    u2 = Unit(code="U2", name="区人社局", kind=UnitKind.UNIT)
    db.add_all([org, u1, u2])
    db.flush()
    result = Cast(
        admin=_actor(db, org, Role.ADMIN),
        security=_actor(db, org, Role.SECURITY),
        audit=_actor(db, org, Role.AUDIT),
        operator=_actor(db, u1, Role.OPERATOR),
        other=_actor(db, u2, Role.OPERATOR),
    )
    db.commit()
    result.by_role = {
        Role.ADMIN: result.admin,
        Role.SECURITY: result.security,
        Role.AUDIT: result.audit,
        Role.OPERATOR: result.operator,
    }
    return result


# --- the notary (deployment-backed) part of the API -----------------------------------


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """One embedded deployment (chain, blockstore, keys) for the whole session: the
    embedded chain admits one opener per home, and creating one costs a contract
    deployment. Each test gets its own log on it (a fresh origin), so the chain's
    strictly growing tree sizes never collide across tests that empty the database."""
    home = tmp_path_factory.mktemp("deployment")
    dep = init_deployment(home, origin="tests.archive-notary.local/log", centre_code="CENTRE")
    yield dep
    dep.close()


@pytest.fixture
def notary_settings(tmp_path: Path, backend_url: str) -> Settings:
    return service_settings(tmp_path / "home", backend_url)


def service_settings(home: Path, backend_url: str) -> Settings:
    """Settings of an app on the session's deployment, with a log of its own."""
    return Settings(
        home=home,
        database_url=backend_url,
        migrate_on_start=False,
        blinding_secret=SecretStr(TEST_SECRET),
        origin=f"tests/{secrets.token_hex(8)}",
        checkpoint_interval_s=0.2,
    )


@pytest.fixture
def nclient(
    notary_settings: Settings, clean_engine: Engine, deployment: Deployment
) -> Iterator[TestClient]:
    app = create_app(notary_settings, engine=clean_engine, deployment=deployment)
    with TestClient(app) as c:
        yield c


def host_units(cast: Cast, db: Session, client: TestClient) -> Cast:
    """The cast, with U1 and U2 hosted by the client's deployment (their envelope keys
    there, their public keys on their rows)."""
    ctx = client.app.state.notary.notary  # type: ignore[attr-defined]
    for actor in (cast.operator, cast.other):
        unit = db.get(Unit, uuid.UUID(actor.unit_id))
        assert unit is not None
        # On the session's deployment U1 and U2 have their keys from the first test on.
        key = ctx.ensure_unit_key(unit.code)
        unit.public_key_hex = key.raw.hex()
        unit.key_fingerprint = key.fingerprint().hex()
    db.commit()
    return cast


@pytest.fixture
def ncast(cast: Cast, db: Session, nclient: TestClient) -> Cast:
    """The cast, with U1 and U2 hosted here (envelope keys in the deployment)."""
    return host_units(cast, db, nclient)
