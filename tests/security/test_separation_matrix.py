"""The separation-of-duties matrix (三员分立), cell by cell through the HTTP API.

The expected answer of each cell is read from the table in SECURITY.md §2.1 (the
specification people read), every cell is tried as that role against a fresh target
(allowed → 2xx, denied → 403 with the reason in Chinese), and the table must be the one
``transfer.roles`` renders from the one decision every route consults."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from notary.deployment import Deployment
from tests._support import notary_api as n
from tests._support.api import Actor, Cast, empty_tables, host_units, new_cast, service_settings
from transfer.api import create_app
from transfer.db.models import Alert, Unit, UnitKind, UnitStatus
from transfer.db.session import write_sessionmaker
from transfer.roles import Role, matrix_markdown
from transfer.security import issue_api_key

SECURITY_MD = Path(__file__).resolve().parents[2] / "SECURITY.md"
_ROW = re.compile(rf"^\| [^|]+ \| `([^`]+)` \|((?: [✓—] \|){{{len(Role)}}})$")


def documented_matrix() -> dict[str, dict[Role, bool]]:
    """action name → role → allowed, as SECURITY.md §2.1 states it."""
    text = SECURITY_MD.read_text("utf-8")
    section = text[text.index("### 2.1") : text.index("## 3.")]
    cells: dict[str, dict[Role, bool]] = {}
    for line in section.splitlines():
        m = _ROW.match(line)
        if m:
            marks = [c.strip() for c in m.group(2).strip(" |").split("|")]
            cells[m.group(1)] = {r: mark == "✓" for r, mark in zip(Role, marks, strict=True)}
    return cells


MATRIX = documented_matrix()
CELLS = [(action, role, ok) for action, row in MATRIX.items() for role, ok in row.items()]


@dataclass
class Ctx:
    client: TestClient
    cast: Cast
    db: Session

    def unit(self, kind: UnitKind = UnitKind.UNIT, *roles: Role) -> tuple[Unit, list[str]]:
        """A fresh unit holding console-issued keys of ``roles`` (their ids)."""
        unit = Unit(code=f"M{uuid.uuid4().hex[:10]}", name="矩阵测试单位", kind=kind)
        self.db.add(unit)
        self.db.flush()
        ids = [str(issue_api_key(self.db, unit, r, "console")[0].id) for r in roles]
        self.db.commit()
        return unit, ids


# Each action: how to try it, against a fresh target -> (method, path, json, files).
Request = tuple[str, str, dict[str, Any] | None, dict[str, Any] | None]


def _issue(role: Role) -> Callable[[Ctx, Actor], Request]:
    return lambda c, _: ("POST", f"/v1/units/{c.cast.other.unit_id}/keys", {"role": role}, None)


def _revoke(role: Role) -> Callable[[Ctx, Actor], Request]:
    def make(c: Ctx, _: Actor) -> Request:
        kind = UnitKind.UNIT if role in (Role.OPERATOR, Role.READER) else UnitKind.ADMIN
        unit, (key,) = c.unit(kind, role)
        return "POST", f"/v1/units/{unit.id}/keys/{key}/revoke", None, None

    return make


def _approve(c: Ctx, _: Actor) -> Request:
    r = c.client.post(
        f"/v1/units/{c.cast.other.unit_id}/keys", json={}, headers=c.cast.admin.headers
    )
    assert r.status_code == 201, r.text
    return "POST", f"/v1/units/{c.cast.other.unit_id}/keys/{r.json()['id']}/approve", None, None


def _suspend(*roles: Role) -> Callable[[Ctx, Actor], Request]:
    def make(c: Ctx, _: Actor) -> Request:
        unit, _ids = c.unit(UnitKind.ADMIN if roles != (Role.OPERATOR,) else UnitKind.UNIT, *roles)
        return "POST", f"/v1/units/{unit.id}/suspend", None, None

    return make


def _reinstate(c: Ctx, _: Actor) -> Request:
    unit, _ids = c.unit(UnitKind.UNIT, Role.OPERATOR)
    unit.status = UnitStatus.SUSPENDED
    c.db.commit()
    return "POST", f"/v1/units/{unit.id}/reinstate", None, None


def _ack(c: Ctx, _: Actor) -> Request:
    alert = Alert(kind="matrix-test", detail={})
    c.db.add(alert)
    c.db.commit()
    return "POST", f"/v1/alerts/{alert.id}/ack", None, None


def _volume(c: Ctx) -> str:
    ident = f"1101051949{uuid.uuid4().int % 10**8:08d}"
    return n.new_volume(c.client, c.cast.operator, ident)


def _ingest(c: Ctx, _: Actor) -> Request:
    vol = _volume(c)
    fields = {"category": "1", "seq_no": "1", "pages": "1", "title": "履历表"}
    fields["formation_date"] = "2001-01-01"
    return "POST", f"/v1/volumes/{vol}/materials", fields, {"file": ("m.pdf", n.pdf("x"))}


def _content(c: Ctx, _: Actor) -> Request:
    material = n.upload(c.client, c.cast.operator, _volume(c), n.pdf(str(uuid.uuid4()))).json()
    return "GET", f"/v1/materials/{material['id']}/content?purpose=审核", None, None


def _new_unit(c: Ctx, _: Actor) -> Request:
    body = {"code": f"M{uuid.uuid4().hex[:10]}", "name": "矩阵测试单位", "kind": "unit"}
    return "POST", "/v1/units", body, None


def _new_volume(c: Ctx, _: Actor) -> Request:
    ident = f"1101051950{uuid.uuid4().int % 10**8:08d}"
    return "POST", "/v1/volumes", {"cadre_identifier": ident, "kind": "copy"}, None


def _get(path: str) -> Callable[[Ctx, Actor], Request]:
    return lambda c, _: ("GET", path.format(other=c.cast.other.unit_id), None, None)


TRIES: dict[str, Callable[[Ctx, Actor], Request]] = {
    "unit.create": _new_unit,
    "peers": _get("/v1/transfers/peers"),
    "unit.list": _get("/v1/units"),
    "key.list": _get("/v1/units/{other}/keys"),
    **{f"key.issue/{r}": _issue(r) for r in Role},
    "key.approve": _approve,
    **{f"key.revoke/{r}": _revoke(r) for r in Role},
    "unit.suspend": _suspend(Role.OPERATOR),
    "unit.suspend/administrators": _suspend(Role.AUDIT),
    "unit.reinstate": _reinstate,
    "alerts.read": _get("/v1/alerts"),
    "alerts.ack": _ack,
    "read-log.read": _get("/v1/read-log"),
    "access-log.read": _get("/v1/access-log"),
    "volume.create": _new_volume,
    "material.ingest": _ingest,
    "content.read": _content,
    "transfers": _get("/v1/transfers"),
    "verify": lambda c, _: ("POST", "/v1/verify", {"sm3": "00" * 32}, None),
}


def test_the_documented_matrix_is_the_one_the_service_enforces() -> None:
    text = SECURITY_MD.read_text("utf-8")
    assert matrix_markdown() in text, "SECURITY.md §2.1 differs from transfer.roles.matrix()"
    assert set(MATRIX) == set(TRIES), "every documented action is tried over HTTP"


@pytest.fixture(scope="module")
def world(
    engine: Engine,
    deployment: Deployment,
    backend_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient, Cast]]:
    """One service and cast for every cell (an app per cell cost most of the module's
    time). A cell changes nothing another cell reads: each tries its action against a
    target it makes (a fresh unit, key, alert or volume) and the cast's own units and
    keys are never revoked or suspended. The tables are emptied after the module."""
    home = tmp_path_factory.mktemp("matrix") / "home"
    settings = service_settings(home, backend_url).model_copy(update={"anchoring_enabled": False})
    app = create_app(settings, engine=engine, deployment=deployment)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            with write_sessionmaker(engine)() as db:
                cast = host_units(new_cast(db), db, client)
            yield client, cast
    finally:
        empty_tables(engine)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with write_sessionmaker(engine)() as s:
        yield s


@pytest.mark.parametrize(
    ("action", "role", "allowed"), CELLS, ids=[f"{a}-{r}" for a, r, _ in CELLS]
)
def test_each_cell_of_the_matrix_over_http(
    world: tuple[TestClient, Cast], session: Session, action: str, role: Role, allowed: bool
) -> None:
    sclient, scast = world
    actor = scast.by_role[role] if role is not Role.READER else _reader(session, scast)
    method, path, body, files = TRIES[action](Ctx(sclient, scast, session), actor)
    if files is not None:
        r = sclient.request(method, path, data=body, files=files, headers=actor.headers)
    else:
        r = sclient.request(method, path, json=body, headers=actor.headers)
    if allowed:
        assert 200 <= r.status_code < 300, (action, role, r.status_code, r.text)
        return
    assert r.status_code == 403, (action, role, r.status_code, r.text)
    problem = r.json()
    assert r.headers["content-type"] == "application/problem+json"
    assert re.search(r"[\u4e00-\u9fff]", problem["detail"]), problem
    if role is Role.READER and action == "content.read":
        # A reader reads content only within a grant: the refusal names the missing grant.
        assert problem["reason"] == "no-grant", problem
        return
    assert problem["rule"] in ("role", "separation-of-duties"), problem


def _reader(db: Session, cast: Cast) -> Actor:
    unit = db.get(Unit, uuid.UUID(cast.other.unit_id))
    assert unit is not None
    _, text = issue_api_key(db, unit, Role.READER, "console")
    db.commit()
    return Actor(unit.code, Role.READER, text, unit_id=str(unit.id))
