"""What an outsider (no key) reaches, as SECURITY.md §2 states it: only the operations
routes, the printed form's check, the peer-centre routes and the API's own pages;
every other operation of the OpenAPI schema answers 401. And ``/metrics`` carries no
archive data."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from notary.deployment import Deployment
from tests._support.api import Cast
from tests.security._world import World, build_world

#: SECURITY.md §2, the outsider row (and §8.4 for /docs, the peer routes of §2).
NO_KEY = {
    ("GET", "/v1/health"),
    ("GET", "/v1/chain"),
    ("GET", "/metrics"),
    ("GET", "/v1/check"),
    ("GET", "/v1/display"),
    ("GET", "/v1/federation"),
    ("POST", "/v1/federation/dispatches"),
    ("POST", "/v1/federation/outcomes"),
}


@pytest.fixture
def world(sclient: TestClient, scast: Cast, deployment: Deployment) -> World:
    return build_world(sclient, scast, deployment)


def test_every_other_operation_needs_a_key(world: World) -> None:
    client = world.client
    schema = client.get("/openapi.json").json()
    operations = [
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    ]
    assert len(operations) > 40
    assert set(operations) >= NO_KEY
    for method, path in operations:
        if (method, path) in NO_KEY:
            continue
        concrete = re.sub(r"\{[^}]+\}", "00000000-0000-4000-8000-000000000000", path)
        r = client.request(method, concrete, json={})
        assert r.status_code == 401, (method, path, r.status_code)
        assert r.headers["www-authenticate"].startswith("Bearer")


def test_metrics_carry_no_archive_data(world: World) -> None:
    client, cast = world.client, world.cast
    assert world.read() is None  # a read, logged
    text = client.get("/metrics").text
    assert "notary_" in text or "http_" in text
    secrets = [world.volume, world.a["id"], world.b["id"], cast.operator.unit_code]
    secrets += [cast.other.unit_code, "110105"]
    secrets += [world.a.get("sm3", "x" * 64)]
    for secret in secrets:
        if len(secret) > 3:
            assert secret not in text, secret
    assert not re.search(r'unit="U\d"', text)
