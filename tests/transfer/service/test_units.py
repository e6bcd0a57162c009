"""Registering and listing units."""

from __future__ import annotations

from fastapi.testclient import TestClient

from notary.crypto import SM2PrivateKey
from tests._support.api import Cast


def test_register_unit_with_sm2_key(client: TestClient, cast: Cast) -> None:
    public = SM2PrivateKey.generate().public_key
    r = client.post(
        "/v1/units",
        json={
            "code": "91110000MA01ABCD2X",
            "name": "省档案馆",
            "kind": "archive_centre",
            "public_key": public.raw.hex(),
        },
        headers=cast.admin.headers,
    )
    assert r.status_code == 201, r.json()
    unit = r.json()
    assert unit["status"] == "active"
    assert unit["public_key_hex"] == public.raw.hex()
    assert unit["key_fingerprint"] == public.fingerprint().hex()
    assert unit["created_at"].endswith("Z") or unit["created_at"].endswith("+00:00")
    got = client.get(f"/v1/units/{unit['id']}", headers=cast.audit.headers)
    assert got.json() == unit


def test_public_key_may_be_pem(client: TestClient, cast: Cast) -> None:
    public = SM2PrivateKey.generate().public_key
    r = client.post(
        "/v1/units",
        json={
            "code": "PEM1",
            "name": "单位",
            "kind": "unit",
            "public_key": public.to_pem().decode(),
        },
        headers=cast.admin.headers,
    )
    assert r.status_code == 201
    assert r.json()["public_key_hex"] == public.raw.hex()


def test_bad_public_key_is_a_field_error(client: TestClient, cast: Cast) -> None:
    r = client.post(
        "/v1/units",
        json={"code": "BAD", "name": "单位", "kind": "unit", "public_key": "00" * 64},
        headers=cast.admin.headers,
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "public_key"]


def test_duplicate_code_is_409(client: TestClient, cast: Cast) -> None:
    body = {"code": "U1", "name": "重复", "kind": "unit"}
    r = client.post("/v1/units", json=body, headers=cast.admin.headers)
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"


def test_list_units_pages(client: TestClient, cast: Cast) -> None:
    for i in range(3):
        client.post(
            "/v1/units",
            json={"code": f"P{i}", "name": f"单位{i}", "kind": "unit"},
            headers=cast.admin.headers,
        )
    first = client.get("/v1/units?limit=4", headers=cast.admin.headers).json()
    assert len(first["items"]) == 4 and first["next_offset"] == 4
    rest = client.get("/v1/units?limit=4&offset=4", headers=cast.admin.headers).json()
    assert len(rest["items"]) == 2 and rest["next_offset"] is None
    codes = [u["code"] for u in first["items"] + rest["items"]]
    assert codes == sorted(codes)
    assert set(codes) == {"ORG", "U1", "U2", "P0", "P1", "P2"}


def test_unknown_unit_is_404(client: TestClient, cast: Cast) -> None:
    r = client.get("/v1/units/00000000-0000-0000-0000-000000000000", headers=cast.admin.headers)
    assert r.status_code == 404
    assert r.json()["type"] == "urn:archive-notary:problem:not-found"
