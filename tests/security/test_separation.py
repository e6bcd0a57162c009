"""三员分立 (issue 15, the part that holds): no administrator can silence another over
the API — the security administrator can neither revoke the auditor's (or the system
administrator's) key nor suspend a unit holding administrator keys; both change only at
the server console. What does not hold yet is listed in SECURITY.md §7."""

from __future__ import annotations

import getpass
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, update
from sqlalchemy.orm import Session

from notary.audit import audit_records, new_report
from notary.deployment import Deployment
from tests._support.api import Cast
from tests._support.served import running_service
from tests.security._world import World, build_world
from transfer.db.models import AccessEvent, Unit, UnitKind
from transfer.db.session import make_engine
from transfer.roles import Role
from transfer.security import issue_api_key
from transfer.services.record_audit import logged_records
from transfer.services.setup import settings_for


def test_the_security_administrator_cannot_revoke_another_administrators_key(
    sclient: TestClient, cast: Cast, db: Session
) -> None:
    for victim in (cast.audit, cast.admin):
        keys = sclient.get(f"/v1/units/{victim.unit_id}/keys", headers=cast.security.headers)
        assert keys.status_code == 200, keys.text
        (target,) = [k for k in keys.json() if k["role"] == str(victim.role)]
        r = sclient.post(
            f"/v1/units/{victim.unit_id}/keys/{target['id']}/revoke",
            headers=cast.security.headers,
        )
        assert r.status_code == 403 and r.json()["rule"] == "separation-of-duties", r.text
    # The auditor still reads the read log; the admin still lists units.
    assert sclient.get("/v1/read-log", headers=cast.audit.headers).status_code == 200
    assert sclient.get("/v1/units", headers=cast.admin.headers).status_code == 200
    # Operator keys stay revocable by the security administrator.
    keys = sclient.get(f"/v1/units/{cast.other.unit_id}/keys", headers=cast.security.headers)
    (op,) = [k for k in keys.json() if k["role"] == "operator"]
    r = sclient.post(
        f"/v1/units/{cast.other.unit_id}/keys/{op['id']}/revoke", headers=cast.security.headers
    )
    assert r.status_code == 200 and r.json()["revoked_at"] is not None


def test_a_unit_holding_administrator_keys_cannot_be_suspended_over_the_api(
    sclient: TestClient, cast: Cast, db: Session
) -> None:
    # An audit key held by another unit, issued at the console.
    overseer = Unit(code="JIJIAN", name="纪检监察室", kind=UnitKind.ADMIN)
    db.add(overseer)
    db.flush()
    _, audit_key = issue_api_key(db, overseer, Role.AUDIT, "console")
    db.commit()
    r = sclient.post(f"/v1/units/{overseer.id}/suspend", headers=cast.security.headers)
    assert r.status_code == 403 and r.json()["rule"] == "separation-of-duties", r.text
    headers = {"Authorization": f"Bearer {audit_key}"}
    assert sclient.get("/v1/read-log", headers=headers).status_code == 200
    # A unit with operator keys only is suspended as before.
    r = sclient.post(f"/v1/units/{cast.other.unit_id}/suspend", headers=cast.security.headers)
    assert r.status_code == 200 and r.json()["status"] == "suspended"


def test_no_one_administrator_alone_obtains_a_key_that_reads_content(
    sclient: TestClient, cast: Cast
) -> None:
    # The system administrator issues an operator key for unit U1 (which holds volumes).
    r = sclient.post(
        f"/v1/units/{cast.operator.unit_id}/keys",
        json={"role": "operator"},
        headers=cast.admin.headers,
    )
    assert r.status_code == 201, r.text
    issued = r.json()
    minted = {"Authorization": f"Bearer {issued['key']}"}
    assert sclient.get("/v1/volumes", headers=minted).status_code == 401
    # The issuer cannot approve it; the auditor cannot either.
    approve = f"/v1/units/{cast.operator.unit_id}/keys/{issued['id']}/approve"
    for who in (cast.admin, cast.audit, cast.operator):
        assert sclient.post(approve, headers=who.headers).status_code == 403, who.role
    assert sclient.get("/v1/volumes", headers=minted).status_code == 401
    # The second person, the security administrator, approves: from then on it works.
    r = sclient.post(approve, headers=cast.security.headers)
    assert r.status_code == 200, r.text
    assert sclient.get("/v1/volumes", headers=minted).status_code == 200
    # Who issued, approved and revoked it is recorded.
    org_keys = sclient.get(f"/v1/units/{cast.admin.unit_id}/keys", headers=cast.audit.headers)
    by_role = {k["role"]: k["id"] for k in org_keys.json()}
    revoke = f"/v1/units/{cast.operator.unit_id}/keys/{issued['id']}/revoke"
    assert sclient.post(revoke, headers=cast.security.headers).status_code == 200
    listed = sclient.get(f"/v1/units/{cast.operator.unit_id}/keys", headers=cast.audit.headers)
    (key,) = [k for k in listed.json() if k["id"] == issued["id"]]
    assert key["issued_by_key_id"] == by_role["admin"]
    assert key["approved_by_key_id"] == by_role["security"]
    assert key["revoked_by_key_id"] == by_role["security"]
    # A revoked key cannot be approved back to life.
    assert sclient.post(approve, headers=cast.security.headers).status_code == 409
    assert sclient.get("/v1/volumes", headers=minted).status_code == 401


def _audit_access(world: World) -> list[tuple[str, str]]:
    """``notary audit``'s check of the access log (audit_records over it)."""
    state = world.state
    ctx = state.notary
    assert ctx is not None
    report = new_report("access")
    with state.sessions() as s:
        audit_records(
            logged_records(s, None, log_key=ctx.log_public_key),
            log_keys=[ctx.log_public_key],
            chain=ctx.deployment.chain,
            report=report,
        )
    return [(p.check, p.subject) for p in report.problems]


@pytest.fixture
def world(sclient: TestClient, scast: Cast, deployment: Deployment) -> World:
    return build_world(sclient, scast, deployment)


def test_every_change_of_keys_and_units_is_an_anchored_access_log_entry(
    world: World, clean_engine: Engine
) -> None:
    c, cast = world.client, world.cast
    unit = c.post(
        "/v1/units",
        json={"code": "U7", "name": "某县档案馆", "kind": "unit"},
        headers=cast.admin.headers,
    ).json()
    key = c.post(f"/v1/units/{unit['id']}/keys", json={}, headers=cast.admin.headers).json()
    base = f"/v1/units/{unit['id']}"
    for path in (
        f"/keys/{key['id']}/approve",
        f"/keys/{key['id']}/revoke",
        "/suspend",
        "/reinstate",
    ):
        assert c.post(base + path, headers=cast.security.headers).status_code == 200, path
    # Only the auditor lists it.
    assert c.get("/v1/access-log", headers=cast.security.headers).status_code == 403
    items = c.get("/v1/access-log", headers=cast.audit.headers).json()["items"]
    org = {k["role"]: k["id"] for k in c.get(
        f"/v1/units/{cast.admin.unit_id}/keys", headers=cast.audit.headers
    ).json()}  # fmt: skip
    assert [(i["action"], i["actor_key_id"]) for i in reversed(items)] == [
        ("unit.create", org["admin"]),
        ("key.issue", org["admin"]),
        ("key.approve", org["security"]),
        ("key.revoke", org["security"]),
        ("unit.suspend", org["security"]),
        ("unit.reinstate", org["security"]),
    ]
    assert all(i["leaf_index"] is not None for i in items)
    world.anchor()
    assert _audit_access(world) == []
    # Rewritten or deleted after anchoring: the audit names it.
    with clean_engine.begin() as conn:
        conn.execute(
            update(AccessEvent)
            .where(AccessEvent.action == "key.approve")
            .values(actor_key_id=uuid.UUID(org["admin"]))
        )
    assert [check for check, _ in _audit_access(world)] == ["entry"]
    with clean_engine.begin() as conn:
        conn.execute(delete(AccessEvent).where(AccessEvent.action == "key.revoke"))
    assert sorted(check for check, _ in _audit_access(world)) == ["access-record", "entry"]


def test_no_role_can_silence_the_auditor(sclient: TestClient, cast: Cast, db: Session) -> None:
    """Neither revoke the auditor's key, nor suspend its unit, nor remove or rewrite the
    logs it reads — as any role, over the API."""
    keys = sclient.get(f"/v1/units/{cast.audit.unit_id}/keys", headers=cast.audit.headers)
    (audit_key,) = [k["id"] for k in keys.json() if k["role"] == "audit"]
    # The auditor's unit held alone by the auditor too (not only the shared ORG unit).
    overseer = Unit(code="JIJIAN", name="纪检监察室", kind=UnitKind.ADMIN)
    db.add(overseer)
    db.flush()
    lone_key, lone_text = issue_api_key(db, overseer, Role.AUDIT, "console")
    db.commit()
    lone = {"Authorization": f"Bearer {lone_text}"}
    attempts = [
        ("POST", f"/v1/units/{cast.audit.unit_id}/keys/{audit_key}/revoke"),
        ("POST", f"/v1/units/{overseer.id}/keys/{lone_key.id}/revoke"),
        ("POST", f"/v1/units/{cast.audit.unit_id}/suspend"),
        ("POST", f"/v1/units/{overseer.id}/suspend"),
    ]
    for actor in (cast.admin, cast.security, cast.audit, cast.operator):
        for method, path in attempts:
            r = sclient.request(method, path, headers=actor.headers)
            assert r.status_code == 403, (actor.role, path, r.status_code)
        for path in ("/v1/access-log", "/v1/read-log", "/v1/log/entries", "/v1/alerts"):
            for method in ("DELETE", "PUT", "PATCH"):
                r = sclient.request(method, path, headers=actor.headers)
                assert r.status_code in (404, 405), (actor.role, method, path, r.status_code)
    # No route writes to what the auditor reads: the logs are append-only over the API.
    for route in sclient.app.routes:  # type: ignore[attr-defined]
        path = getattr(route, "path", "")
        if path.startswith(("/v1/access-log", "/v1/read-log", "/v1/log")):
            assert set(route.methods) <= {"GET", "HEAD"}, (path, route.methods)
    for headers in (cast.audit.headers, lone):
        assert sclient.get("/v1/access-log", headers=headers).status_code == 200
        assert sclient.get("/v1/read-log", headers=headers).status_code == 200


def _notary_audit(home: Path, rpc: str, out: Path) -> tuple[int, dict[str, Any]]:
    """``notary audit --json`` as the auditor runs it on the server (a subprocess)."""
    r = subprocess.run(
        [sys.executable, "-c", "from clients.cli import main; main()", "audit", "--home",
         str(home), "--out", str(out), "--json", "--rpc", rpc],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return r.returncode, json.loads(r.stdout)


@pytest.mark.slow
def test_console_changes_are_anchored_access_log_entries_the_auditor_lists(
    tmp_path: Path,
) -> None:
    """``notary init`` and ``notary unit add`` (run as users run them, by
    ``running_service``) are in the access log: actor the console and the OS user, each
    an anchored ``access.event`` the auditor lists and ``notary audit`` checks."""
    user = getpass.getuser()
    with running_service(tmp_path / "home") as svc:
        audit = {"Authorization": f"Bearer {svc.audit_key}"}
        r = httpx.get(f"{svc.url}/v1/access-log", headers=audit, params={"limit": 100})
        assert r.status_code == 200, r.text
        items = list(reversed(r.json()["items"]))
        assert [(i["action"], i["role"]) for i in items] == [
            ("unit.create", None),  # CENTRE, by notary init
            ("key.issue", "admin"),
            ("key.issue", "security"),
            ("key.issue", "audit"),
            ("unit.create", None),  # UNIT-A, by notary unit add
            ("key.issue", "operator"),
            ("unit.create", None),  # UNIT-B
            ("key.issue", "operator"),
        ]
        assert all(i["actor_key_id"] is None and i["console_user"] == user for i in items)
        assert all(i["leaf_index"] is not None for i in items)
        # Anchored (the service anchors every second), then checked by notary audit.
        deadline = time.monotonic() + 30
        while True:
            code, report = _notary_audit(svc.home, svc.rpc_url, tmp_path / "report")
            if code == 0 or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert code == 0, report["problems"]
        assert report["summary"]["records"]["access_events"] == len(items)
        # The entry names the console's operator: rewriting it is found.
        engine = make_engine(settings_for(svc.home).database_url_resolved)
        try:
            with engine.begin() as conn:
                conn.execute(
                    update(AccessEvent)
                    .where(AccessEvent.action == "unit.create")
                    .values(console_user="someone-else")
                )
        finally:
            engine.dispose()
        code, report = _notary_audit(svc.home, svc.rpc_url, tmp_path / "report2")
        assert code == 1
        assert {p["check"] for p in report["problems"]} == {"entry"}, report["problems"]
