"""Who may call what: API keys, suspension, revocation and the 三员分立 role matrix."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from tests._support.api import Cast
from transfer.roles import API_ISSUABLE_ROLES, ROLE_PERMISSIONS, Permission, Role

NOWHERE = str(uuid.uuid4())  # an id that names nothing: allowed calls answer 404, not 403

A, S, U, OP = Role.ADMIN, Role.SECURITY, Role.AUDIT, Role.OPERATOR

# The access matrix as a specification: (method, path, body, roles allowed).
MATRIX: list[tuple[str, str, dict[str, object] | None, set[Role]]] = [
    ("GET", "/v1/units", None, {A, S, U}),
    ("GET", f"/v1/units/{NOWHERE}", None, {A, S, U}),
    ("POST", "/v1/units", {"code": "NEW", "name": "新单位", "kind": "unit"}, {A}),
    ("POST", f"/v1/units/{NOWHERE}/keys", {"role": "operator"}, {A}),
    ("GET", f"/v1/units/{NOWHERE}/keys", None, {A, S, U}),
    ("POST", f"/v1/units/{NOWHERE}/keys/{NOWHERE}/revoke", None, {S}),
    ("POST", f"/v1/units/{NOWHERE}/suspend", None, {S}),
    ("POST", f"/v1/units/{NOWHERE}/reinstate", None, {S}),
    ("GET", "/v1/volumes", None, {OP}),
    ("POST", "/v1/volumes", {"cadre_identifier": "110105194912310021", "kind": "copy"}, {OP}),
    ("POST", "/v1/volumes/lookup", {"cadre_identifier": "110105194912310021"}, {OP}),
    ("GET", f"/v1/volumes/{NOWHERE}", None, {OP}),
    ("GET", f"/v1/volumes/{NOWHERE}/materials", None, {OP}),
    ("GET", f"/v1/materials/{NOWHERE}", None, {OP}),
    ("GET", "/v1/alerts", None, {S, U}),
    ("POST", f"/v1/alerts/{NOWHERE}/ack", None, {S}),
    ("GET", "/v1/read-log", None, {U}),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "allowed"),
    MATRIX,
    ids=[f"{m} {p.replace(NOWHERE, '{id}')}" for m, p, _, _ in MATRIX],
)
def test_role_matrix(
    client: TestClient,
    cast: Cast,
    method: str,
    path: str,
    body: dict[str, object] | None,
    allowed: set[Role],
) -> None:
    for role, actor in cast.by_role.items():
        r = client.request(method, path, json=body, headers=actor.headers)
        if role in allowed:
            assert r.status_code != 403, (role, r.json())
            assert r.status_code < 500, (role, r.json())
        else:
            assert r.status_code == 403, (role, r.status_code)
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["role"] == role.value


def test_three_administrators_never_touch_archive_data() -> None:
    archive_work = {
        Permission.VOLUMES_READ,
        Permission.VOLUMES_WRITE,
        Permission.MATERIALS_READ,
        Permission.MATERIALS_INGEST,
        Permission.CONTENT_READ,
        Permission.TRANSFERS,
    }
    for role in (A, S, U):
        assert not ROLE_PERMISSIONS[role] & archive_work, role


def test_the_three_powers_are_held_by_three_roles() -> None:
    administer = {Permission.UNITS_WRITE, Permission.KEYS_ISSUE}
    secure = {Permission.UNITS_SUSPEND, Permission.KEYS_REVOKE}
    audit = {Permission.READ_LOG_READ, Permission.AUDIT_READ}
    for role, perms in ROLE_PERMISSIONS.items():
        held = [bool(perms & p) for p in (administer, secure, audit)]
        assert sum(held) <= 1, f"{role} holds more than one of the three powers"


def test_api_issues_only_staff_keys() -> None:
    # Operators and readers (在线阅档); never one of the three administrators.
    assert frozenset({Role.OPERATOR, Role.READER}) == API_ISSUABLE_ROLES


@pytest.mark.parametrize("role", ["admin", "security", "audit"])
def test_administrator_keys_cannot_be_minted_over_the_api(
    client: TestClient, cast: Cast, role: str
) -> None:
    r = client.post(
        f"/v1/units/{cast.operator.unit_id}/keys", json={"role": role}, headers=cast.admin.headers
    )
    assert r.status_code == 403 and r.json()["rule"] == "separation-of-duties"
    assert "服务器控制台" in r.json()["detail"]


def test_no_key_is_401_with_challenge(client: TestClient, cast: Cast) -> None:
    r = client.get("/v1/units")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="archive-notary"'
    assert r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer an_not-a-real-key"},
        {"Authorization": "Bearer something-else"},
        {"X-API-Key": "an_" + "A" * 43},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
    ids=["unknown", "malformed", "unknown-x-api-key", "basic-scheme"],
)
def test_bad_key_is_401(client: TestClient, cast: Cast, headers: dict[str, str]) -> None:
    r = client.get("/v1/units", headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith('Bearer realm="archive-notary"')


def test_x_api_key_header_works_like_bearer(client: TestClient, cast: Cast) -> None:
    r = client.get("/v1/units", headers={"X-API-Key": cast.admin.key})
    assert r.status_code == 200


def test_revoked_key_stops_working(client: TestClient, cast: Cast) -> None:
    keys = client.get(f"/v1/units/{cast.operator.unit_id}/keys", headers=cast.security.headers)
    (key,) = keys.json()
    assert "key" not in key and "key_hash" not in key
    assert cast.operator.key.startswith(key["prefix"])
    r = client.post(
        f"/v1/units/{cast.operator.unit_id}/keys/{key['id']}/revoke",
        headers=cast.security.headers,
    )
    assert r.status_code == 200
    assert r.json()["revoked_at"] is not None
    r = client.get("/v1/volumes", headers=cast.operator.headers)
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["www-authenticate"]


def test_key_of_another_unit_is_not_found_under_this_unit(client: TestClient, cast: Cast) -> None:
    keys = client.get(f"/v1/units/{cast.operator.unit_id}/keys", headers=cast.security.headers)
    key_id = keys.json()[0]["id"]
    r = client.post(
        f"/v1/units/{cast.other.unit_id}/keys/{key_id}/revoke", headers=cast.security.headers
    )
    assert r.status_code == 404


def test_suspended_unit_is_refused_until_reinstated(client: TestClient, cast: Cast) -> None:
    url = f"/v1/units/{cast.operator.unit_id}"
    r = client.post(url + "/suspend", headers=cast.security.headers)
    assert r.status_code == 200 and r.json()["status"] == "suspended"
    r = client.get("/v1/volumes", headers=cast.operator.headers)
    assert r.status_code == 403
    assert "已暂停" in r.json()["detail"]
    # Other units carry on.
    assert client.get("/v1/volumes", headers=cast.other.headers).status_code == 200
    r = client.post(url + "/reinstate", headers=cast.security.headers)
    assert r.json()["status"] == "active"
    assert client.get("/v1/volumes", headers=cast.operator.headers).status_code == 200


def test_security_cannot_suspend_its_own_unit(client: TestClient, cast: Cast) -> None:
    r = client.post(f"/v1/units/{cast.security.unit_id}/suspend", headers=cast.security.headers)
    assert r.status_code == 403 and r.json()["rule"] == "separation-of-duties"
    assert client.get("/v1/alerts", headers=cast.security.headers).status_code == 200


def test_issued_key_is_shown_once_and_works(client: TestClient, cast: Cast) -> None:
    r = client.post(
        f"/v1/units/{cast.other.unit_id}/keys",
        json={"label": "档案管理系统接口"},
        headers=cast.admin.headers,
    )
    assert r.status_code == 201
    assert r.headers["cache-control"] == "no-store"
    issued = r.json()
    assert issued["role"] == "operator" and issued["label"] == "档案管理系统接口"
    # 三员分立: it works once the security administrator has approved it.
    assert issued["approved_at"] is None and issued["issued_by_key_id"] is not None
    assert client.get("/v1/volumes", headers={"X-API-Key": issued["key"]}).status_code == 401
    r = client.post(
        f"/v1/units/{cast.other.unit_id}/keys/{issued['id']}/approve",
        headers=cast.security.headers,
    )
    assert r.status_code == 200 and r.json()["approved_at"] is not None
    assert client.get("/v1/volumes", headers={"X-API-Key": issued["key"]}).status_code == 200
    listed = client.get(f"/v1/units/{cast.other.unit_id}/keys", headers=cast.admin.headers).json()
    assert all("key" not in k for k in listed)
    assert issued["id"] in {k["id"] for k in listed}
