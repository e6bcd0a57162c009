"""Volumes: blinded cadre ids, 正本/副本, custody scoping."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from notary.entries import blind_id
from tests._support.api import TEST_SECRET, Cast
from transfer.db.models import Base, CustodyEvent

CADRE = "11010519491231002X"


def _create(client: TestClient, headers: dict[str, str], ident: str, kind: str) -> dict[str, str]:
    r = client.post("/v1/volumes", json={"cadre_identifier": ident, "kind": kind}, headers=headers)
    assert r.status_code == 201, r.json()
    body: dict[str, str] = r.json()
    return body


def test_volume_returns_blinded_id_never_the_identifier(client: TestClient, cast: Cast) -> None:
    r = client.post(
        "/v1/volumes",
        json={"cadre_identifier": CADRE, "kind": "main"},
        headers=cast.operator.headers,
    )
    assert r.status_code == 201
    assert CADRE not in r.text
    vol = r.json()
    assert vol["cadre_blind_id"] == blind_id(TEST_SECRET.encode(), CADRE)
    assert vol["kind"] == "main" and vol["status"] == "held"
    assert vol["custodian_unit_id"] == cast.operator.unit_id


def test_identifier_never_reaches_the_database(
    client: TestClient, cast: Cast, clean_engine: Engine
) -> None:
    _create(client, cast.operator.headers, CADRE, "main")
    with clean_engine.connect() as conn:
        dump = repr([conn.execute(select(t)).all() for t in Base.metadata.sorted_tables])
    assert CADRE not in dump and CADRE.lower() not in dump


def test_identifier_spelling_does_not_change_the_blinded_id(client: TestClient, cast: Cast) -> None:
    a = _create(client, cast.operator.headers, CADRE, "copy")
    b = _create(client, cast.operator.headers, " 11010519491231002x ", "copy")
    c = _create(client, cast.operator.headers, "１１０１０５１９４９１２３１００２Ｘ", "copy")
    assert a["cadre_blind_id"] == b["cadre_blind_id"] == c["cadre_blind_id"]


def test_one_main_volume_per_cadre_but_many_copies(client: TestClient, cast: Cast) -> None:
    _create(client, cast.operator.headers, CADRE, "main")
    r = client.post(
        "/v1/volumes", json={"cadre_identifier": CADRE, "kind": "main"}, headers=cast.other.headers
    )
    assert r.status_code == 409
    _create(client, cast.other.headers, CADRE, "copy")
    _create(client, cast.operator.headers, CADRE, "copy")


def test_registration_records_a_custody_event(
    client: TestClient, cast: Cast, clean_engine: Engine
) -> None:
    vol = _create(client, cast.operator.headers, CADRE, "main")
    with clean_engine.connect() as conn:
        (event,) = conn.execute(select(CustodyEvent)).all()
    assert str(event.volume_id) == vol["id"]
    assert event.kind == "registered" and str(event.to_unit_id) == cast.operator.unit_id


def test_units_see_only_the_volumes_they_hold(client: TestClient, cast: Cast) -> None:
    mine = _create(client, cast.operator.headers, CADRE, "main")
    theirs = _create(client, cast.other.headers, "110105195001010011", "main")
    listed = client.get("/v1/volumes", headers=cast.operator.headers).json()
    assert [v["id"] for v in listed["items"]] == [mine["id"]]
    assert client.get(f"/v1/volumes/{mine['id']}", headers=cast.operator.headers).status_code == 200
    r = client.get(f"/v1/volumes/{theirs['id']}", headers=cast.operator.headers)
    assert r.status_code == 404
    r = client.get(f"/v1/volumes/{theirs['id']}/materials", headers=cast.operator.headers)
    assert r.status_code == 404


def test_list_filters_by_kind(client: TestClient, cast: Cast) -> None:
    _create(client, cast.operator.headers, CADRE, "main")
    copy = _create(client, cast.operator.headers, "110105195001010011", "copy")
    listed = client.get("/v1/volumes?kind=copy", headers=cast.operator.headers).json()
    assert [v["id"] for v in listed["items"]] == [copy["id"]]


def test_lookup_by_identifier_in_the_body(client: TestClient, cast: Cast) -> None:
    main = _create(client, cast.operator.headers, CADRE, "main")
    _create(client, cast.other.headers, CADRE, "copy")  # held elsewhere: not returned
    r = client.post(
        "/v1/volumes/lookup",
        json={"cadre_identifier": CADRE.lower()},
        headers=cast.operator.headers,
    )
    assert [v["id"] for v in r.json()] == [main["id"]]
