"""三员分立 (issue 15, the part that holds): no administrator can silence another over
the API — the security administrator can neither revoke the auditor's (or the system
administrator's) key nor suspend a unit holding administrator keys; both change only at
the server console. What does not hold yet is listed in SECURITY.md §7."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.service.conftest import Cast
from transfer.db.models import Unit, UnitKind
from transfer.roles import Role
from transfer.security import issue_api_key


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
