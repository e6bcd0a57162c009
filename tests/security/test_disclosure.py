"""Minimal disclosure across units (issue 15): what another unit's key learns about
materials and cadres it does not hold."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from notary.crypto import sm3
from notary.deployment import Deployment
from tests._support.api import Cast
from tests.security._world import World, build_world
from transfer.services.verify import FOREIGN_FIELDS


@pytest.fixture
def world(sclient: TestClient, scast: Cast, deployment: Deployment) -> World:
    return build_world(sclient, scast, deployment)


def _by_sm3(world: World, headers: dict[str, str]) -> dict[str, Any]:
    r = world.client.post("/v1/verify", json={"sm3": sm3(world.content_a).hex()}, headers=headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_another_unit_learns_only_that_a_material_is_registered_and_its_anchor(
    world: World,
) -> None:
    mine = _by_sm3(world, world.cast.operator.headers)["registrations"][0]
    assert mine["held"] is True and mine["material_id"] == world.a["id"]

    answer = _by_sm3(world, world.cast.other.headers)
    assert answer["found"] is True and answer["anchored"] is True
    (foreign,) = answer["registrations"]
    assert set(foreign) == {*FOREIGN_FIELDS, "held"} and foreign["held"] is False
    assert foreign["chain"] == mine["chain"] and foreign["checkpoint"] == mine["checkpoint"]
    entry = world.receipt_a["entry"]
    r = world.client.post(
        "/v1/verify", json={"sm3": sm3(world.content_a).hex()}, headers=world.cast.other.headers
    )
    for secret in (world.a["id"], entry["volume"], entry["cid"], world.cast.operator.unit_code):
        assert secret not in r.text, secret
    # By file: the same answer.
    by_file = world.client.post(
        "/v1/verify",
        files={"file": ("a.pdf", world.content_a)},
        headers=world.cast.other.headers,
    )
    assert by_file.json() == answer
    # The deployment's audit administrator oversees every unit: all of it.
    audited = _by_sm3(world, world.cast.audit.headers)["registrations"][0]
    assert audited["material_id"] == world.a["id"] and audited["held"] is False


def test_a_receipt_presented_by_another_unit_is_checked_without_telling_more(
    world: World,
) -> None:
    r = world.client.post(
        "/v1/verify", json={"receipt": world.receipt_a}, headers=world.cast.other.headers
    )
    assert r.status_code == 200 and r.json()["valid"] is True
    registration = r.json()["registration"]
    assert set(registration) == {*FOREIGN_FIELDS, "held"}


CADRE = "110105194912310020"  # the world's volume (tests/_support/notary_api.py::new_volume)


def test_a_main_volume_held_elsewhere_is_refused_without_naming_the_holder_and_alerted(
    world: World,
) -> None:
    client, cast = world.client, world.cast
    r = client.post(
        "/v1/volumes", json={"cadre_identifier": CADRE, "kind": "main"}, headers=cast.other.headers
    )
    assert r.status_code == 409
    assert cast.operator.unit_code not in r.text and world.volume not in r.text
    alerts = client.get("/v1/alerts", headers=cast.security.headers).json()["items"]
    probe = [a for a in alerts if a["kind"] == "cadre-main-volume-elsewhere"]
    assert len(probe) == 1 and probe[0]["detail"]["unit"] == cast.other.unit_code
    # The holder's own second attempt is a plain refusal, not an alert.
    again = client.post(
        "/v1/volumes",
        json={"cadre_identifier": CADRE, "kind": "main"},
        headers=cast.operator.headers,
    )
    assert again.status_code == 409
    alerts = client.get("/v1/alerts", headers=cast.security.headers).json()["items"]
    assert len([a for a in alerts if a["kind"] == "cadre-main-volume-elsewhere"]) == 1


def test_a_main_volume_refusal_is_the_same_whoever_holds_it_and_probing_is_limited_per_key(
    world: World,
) -> None:
    client, cast = world.client, world.cast
    main = {"cadre_identifier": CADRE, "kind": "main"}
    own = client.post("/v1/volumes", json=main, headers=cast.operator.headers)
    foreign = client.post("/v1/volumes", json=main, headers=cast.other.headers)
    # The holder and another unit get the same answer: status, problem, headers.
    assert own.status_code == foreign.status_code == 409
    assert own.json() == foreign.json()
    assert {k: v for k, v in own.headers.items() if k != "content-length"} == {
        k: v for k, v in foreign.headers.items() if k != "content-length"
    }
    # Probing 身份证号 held elsewhere: main_volume_probes_per_hour (10) refusals per key,
    # then every main-volume registration by that key is a 429 — a cadre with no 正本
    # included, so the limit itself tells nothing.
    for _ in range(9):
        r = client.post("/v1/volumes", json=main, headers=cast.other.headers)
        assert r.status_code == 409
    fresh = {"cadre_identifier": "110105198001010077", "kind": "main"}
    r = client.post("/v1/volumes", json=fresh, headers=cast.other.headers)
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 3000
    assert "联系安全保密管理员" in r.json()["detail"]
    assert client.post("/v1/volumes", json=main, headers=cast.other.headers).status_code == 429
    # 副本 and other keys are not held back; each probe was an alert.
    copy = {"cadre_identifier": CADRE, "kind": "copy"}
    assert client.post("/v1/volumes", json=copy, headers=cast.other.headers).status_code == 201
    other_key = {"cadre_identifier": "110105198001010078", "kind": "main"}
    r = client.post("/v1/volumes", json=other_key, headers=cast.operator.headers)
    assert r.status_code == 201
    alerts = client.get("/v1/alerts", headers=cast.security.headers).json()["items"]
    assert len([a for a in alerts if a["kind"] == "cadre-main-volume-elsewhere"]) == 10
