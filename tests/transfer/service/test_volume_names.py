"""A cadre's 姓名 on a volume: given at creation or set later by the custodian, found by
exact (normalised) name among the caller's unit's volumes only, shown only to the
custodian, and never stored, logged or sent in a URL in clear."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from tests._support.api import Cast
from transfer.db.models import Base, Volume

NAME = "欧阳修远"
ID_A = "110105194912310021"
ID_B = "110105195001010033"
ID_C = "110105195102020045"


def _create(
    client: TestClient, headers: dict[str, str], ident: str, kind: str = "main", **extra: Any
) -> dict[str, Any]:
    r = client.post(
        "/v1/volumes", json={"cadre_identifier": ident, "kind": kind, **extra}, headers=headers
    )
    assert r.status_code == 201, r.json()
    body: dict[str, Any] = r.json()
    return body


def _find(client: TestClient, headers: dict[str, str], **body: Any) -> Any:
    return client.post("/v1/volumes/lookup", json=body, headers=headers)


def test_a_volume_created_with_a_name_is_found_by_it_with_its_name_shown(
    client: TestClient, cast: Cast
) -> None:
    me = cast.operator.headers
    main = _create(client, me, ID_A, "main", cadre_name=NAME)
    assert main["cadre_name"] == NAME
    copy = _create(client, me, ID_A, "copy", cadre_name=NAME)
    _create(client, me, ID_B, "main", cadre_name="欧阳修")  # a prefix is not a match
    _create(client, me, ID_C, "main")  # no name

    # Exact after normalising: full-width, spaces between the characters (张　三).
    r = _find(client, me, cadre_name=" 欧阳　修 远 ")
    assert r.status_code == 200
    assert sorted((v["id"], v["kind"], v["cadre_name"]) for v in r.json()) == sorted(
        [(main["id"], "main", NAME), (copy["id"], "copy", NAME)]
    )
    assert {v["status"] for v in r.json()} == {"held"}
    # The name is shown wherever the custodian sees the volume.
    assert client.get(f"/v1/volumes/{main['id']}", headers=me).json()["cadre_name"] == NAME
    listed = {
        v["id"]: v["cadre_name"] for v in client.get("/v1/volumes", headers=me).json()["items"]
    }
    assert listed[main["id"]] == NAME and listed[copy["id"]] == NAME
    assert list(listed.values()).count(None) == 1
    # By identifier the same volumes come back, named.
    r = _find(client, me, cadre_identifier=ID_A)
    assert {v["cadre_name"] for v in r.json()} == {NAME}


def test_several_cadres_of_one_name_are_all_answered(client: TestClient, cast: Cast) -> None:
    me = cast.operator.headers
    a = _create(client, me, ID_A, cadre_name="王伟")
    b = _create(client, me, ID_B, cadre_name="王伟")
    found = _find(client, me, cadre_name="王伟").json()
    assert {v["id"] for v in found} == {a["id"], b["id"]}
    assert len({v["cadre_blind_id"] for v in found}) == 2  # two cadres, told apart


def test_another_unit_never_finds_or_sees_the_name(client: TestClient, cast: Cast) -> None:
    mine = _create(client, cast.operator.headers, ID_A, "main", cadre_name=NAME)
    theirs = _create(client, cast.other.headers, ID_B, "copy", cadre_name="李四")
    seen: list[str] = []

    r = _find(client, cast.other.headers, cadre_name=NAME)
    assert r.status_code == 200 and r.json() == []
    seen.append(r.text)
    # Nor by the identifier, nor by reading the volume, nor in its list.
    for r in (
        _find(client, cast.other.headers, cadre_identifier=ID_A),
        client.get(f"/v1/volumes/{mine['id']}", headers=cast.other.headers),
        client.get("/v1/volumes", headers=cast.other.headers),
        # Setting the name of a volume it does not hold: "not found", nothing changed.
        client.put(
            f"/v1/volumes/{mine['id']}/cadre-name",
            json={"cadre_name": "张三"},
            headers=cast.other.headers,
        ),
    ):
        assert r.status_code in (200, 404)
        seen.append(r.text)
    assert [
        v["id"] for v in client.get("/v1/volumes", headers=cast.other.headers).json()["items"]
    ] == [theirs["id"]]
    assert not any(NAME in text for text in seen)
    # The operator's own lookup does not reach the other unit's 李四 either.
    assert _find(client, cast.operator.headers, cadre_name="李四").json() == []
    found = _find(client, cast.operator.headers, cadre_name=NAME).json()
    assert [(v["id"], v["cadre_name"]) for v in found] == [(mine["id"], NAME)]


def test_exactly_one_of_identifier_and_name(client: TestClient, cast: Cast) -> None:
    both = _find(client, cast.operator.headers, cadre_identifier=ID_A, cadre_name=NAME)
    neither = _find(client, cast.operator.headers)
    for r, said in ((both, "只填一项"), (neither, "请填写干部身份证号或姓名")):
        assert r.status_code == 422
        assert said in r.json()["detail"], r.json()
        assert ID_A not in r.text and NAME not in r.text


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("张三1", "不能含数字"),
        ("张三\n", None),  # a newline is whitespace: removed, a valid name
        ("张\x00三", "控制字符"),
        ("张\u200b三", "不能含数字、符号或控制字符"),  # zero-width space: not a letter
        ("<b>张三</b>", "符号"),
        ("张_三", "符号"),
        ("·张三", "符号"),
        ("　 ", "去掉空格后为空"),
        ("", "不能为空"),
        ("张" * 65, "最多 64 个字"),
        ("张" * 101, "最多 100 个字符"),
    ],
)
def test_names_are_checked_at_the_edge_in_chinese(
    client: TestClient, cast: Cast, name: str, said: str | None
) -> None:
    for r in (
        client.post(
            "/v1/volumes",
            json={"cadre_identifier": ID_A, "kind": "copy", "cadre_name": name},
            headers=cast.operator.headers,
        ),
        _find(client, cast.operator.headers, cadre_name=name),
    ):
        if said is None:
            assert r.status_code in (200, 201), r.json()
            continue
        assert r.status_code == 422, r.json()
        detail = r.json()["detail"]
        assert detail.startswith("填写有误，请检查：干部姓名（"), detail
        assert said in detail, detail
        if name.strip():
            assert name not in r.text  # never echoed


def test_middle_dot_variants_and_full_width_letters_are_one_name(
    client: TestClient, cast: Cast
) -> None:
    v = _create(client, cast.operator.headers, ID_A, cadre_name="买买提•艾力")
    assert v["cadre_name"] == "买买提·艾力"
    for typed in ("买买提·艾力", "买买提・艾力", "买买提．艾力"):
        assert [x["id"] for x in _find(client, cast.operator.headers, cadre_name=typed).json()] == [
            v["id"]
        ]


def test_the_custodian_sets_corrects_and_removes_a_name(client: TestClient, cast: Cast) -> None:
    me = cast.operator.headers
    old = _create(client, me, ID_A)  # registered before names existed
    assert old["cadre_name"] is None
    assert _find(client, me, cadre_name=NAME).json() == []

    r = client.put(f"/v1/volumes/{old['id']}/cadre-name", json={"cadre_name": "欧阳修"}, headers=me)
    assert r.status_code == 200 and r.json()["cadre_name"] == "欧阳修"
    r = client.put(f"/v1/volumes/{old['id']}/cadre-name", json={"cadre_name": NAME}, headers=me)
    assert r.json()["cadre_name"] == NAME
    assert _find(client, me, cadre_name="欧阳修").json() == []  # the old name no longer
    assert [v["id"] for v in _find(client, me, cadre_name=NAME).json()] == [old["id"]]

    r = client.put(f"/v1/volumes/{old['id']}/cadre-name", json={"cadre_name": "张3"}, headers=me)
    assert r.status_code == 422 and "干部姓名" in r.json()["detail"]
    r = client.put(f"/v1/volumes/{old['id']}/cadre-name", json={"cadre_name": None}, headers=me)
    assert r.status_code == 200 and r.json()["cadre_name"] is None
    assert _find(client, me, cadre_name=NAME).json() == []
    # The audit administrator (no volume permission) cannot set one.
    r = client.put(
        f"/v1/volumes/{old['id']}/cadre-name",
        json={"cadre_name": NAME},
        headers=cast.audit.headers,
    )
    assert r.status_code == 403


def test_the_name_is_sealed_in_the_database_and_its_index_is_not_an_identifier_blind(
    client: TestClient, cast: Cast, clean_engine: Engine
) -> None:
    named = _create(client, cast.operator.headers, ID_A, cadre_name=NAME)
    # A volume registered (before names existed) with the name typed as its identifier.
    legacy = _create(client, cast.operator.headers, NAME, "copy")
    with clean_engine.connect() as conn:
        dump = repr([conn.execute(select(t)).all() for t in Base.metadata.sorted_tables])
        row = conn.execute(select(Volume).where(Volume.id == uuid.UUID(named["id"]))).one()
    assert NAME not in dump and NAME.encode("utf-8").hex() not in dump
    assert NAME.encode("utf-8") not in (row.cadre_name_sealed or b"")
    assert row.cadre_name_blind not in (legacy["cadre_blind_id"], named["cadre_blind_id"])
    # So the name finds the named volume, never the one whose identifier is the name.
    found = _find(client, cast.operator.headers, cadre_name=NAME).json()
    assert [v["id"] for v in found] == [named["id"]]


def test_a_sealed_name_moved_to_another_volume_does_not_open(
    client: TestClient, cast: Cast, clean_engine: Engine
) -> None:
    a = _create(client, cast.operator.headers, ID_A, cadre_name=NAME)
    b = _create(client, cast.operator.headers, ID_B, cadre_name="李四")
    with clean_engine.begin() as conn:
        sealed = conn.scalar(
            select(Volume.cadre_name_sealed).where(Volume.id == uuid.UUID(a["id"]))
        )
        conn.execute(
            update(Volume).where(Volume.id == uuid.UUID(b["id"])).values(cadre_name_sealed=sealed)
        )
    shown = client.get(f"/v1/volumes/{b['id']}", headers=cast.operator.headers).json()
    assert shown["cadre_name"] is None  # bound to volume a's id: not 欧阳修远, not 李四


def test_names_never_reach_a_url_or_a_log(
    client: TestClient, cast: Cast, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        v = _create(client, cast.operator.headers, ID_A, cadre_name=NAME)
        _find(client, cast.operator.headers, cadre_name=NAME)
        _find(client, cast.other.headers, cadre_name=NAME)
        _find(client, cast.operator.headers, cadre_name=NAME + "1")  # refused
        client.put(
            f"/v1/volumes/{v['id']}/cadre-name",
            json={"cadre_name": NAME},
            headers=cast.operator.headers,
        )
    logged = "\n".join(f"{rec.getMessage()} {rec.args!r}" for rec in caplog.records)
    assert NAME not in logged
    # No operation of the API takes the name (or the identifier) in its path or query.
    spec = client.get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        assert "cadre" not in path.replace("cadre-name", ""), path
        for op in ops.values():
            names = {p["name"] for p in op.get("parameters", []) if isinstance(p, dict)}
            assert not names & {"cadre_name", "cadre_identifier"}, (path, names)
