"""The in-process cache of authenticated keys (transfer/api/principals.py): what it
remembers, and how soon a revocation or a suspension takes effect."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from tests._support.api import Actor, Cast
from transfer.api import create_app
from transfer.api.principals import PrincipalCache
from transfer.db.models import ApiKey, Unit, UnitStatus
from transfer.db.types import utcnow
from transfer.roles import Role
from transfer.security import Principal, hash_api_key
from transfer.settings import Settings

SHORT_TTL = 0.5


def cache_of(client: TestClient) -> PrincipalCache:
    cache: PrincipalCache = client.app.state.notary.principals  # type: ignore[attr-defined]
    return cache


def key_id(client: TestClient, cast: Cast, actor: Actor) -> str:
    keys = client.get(f"/v1/units/{actor.unit_id}/keys", headers=cast.security.headers).json()
    (key,) = keys
    return str(key["id"])


@pytest.fixture
def short_client(settings: Settings, clean_engine: Engine) -> Iterator[TestClient]:
    """A service whose cache forgets a key after SHORT_TTL seconds."""
    app = create_app(
        settings.model_copy(update={"principal_cache_ttl_s": SHORT_TTL}), engine=clean_engine
    )
    with TestClient(app) as c:
        yield c


def test_an_authenticated_key_is_remembered_by_its_digest(client: TestClient, cast: Cast) -> None:
    assert client.get("/v1/volumes", headers=cast.operator.headers).status_code == 200
    cached = cache_of(client).get(hash_api_key(cast.operator.key))
    assert cached is not None
    assert str(cached.unit_id) == cast.operator.unit_id and cached.role is Role.OPERATOR


def test_unknown_keys_are_not_remembered(client: TestClient, cast: Cast) -> None:
    before = len(cache_of(client))
    for _ in range(20):
        r = client.get("/v1/volumes", headers={"Authorization": f"Bearer an_{uuid.uuid4().hex}"})
        assert r.status_code == 401
    assert len(cache_of(client)) == before


def test_revocation_through_the_api_takes_effect_at_once(client: TestClient, cast: Cast) -> None:
    assert client.get("/v1/volumes", headers=cast.operator.headers).status_code == 200
    assert cache_of(client).get(hash_api_key(cast.operator.key)) is not None
    r = client.post(
        f"/v1/units/{cast.operator.unit_id}/keys/{key_id(client, cast, cast.operator)}/revoke",
        headers=cast.security.headers,
    )
    assert r.status_code == 200
    assert cache_of(client).get(hash_api_key(cast.operator.key)) is None
    assert client.get("/v1/volumes", headers=cast.operator.headers).status_code == 401


def test_a_unit_suspended_through_the_api_is_refused_at_once(
    client: TestClient, cast: Cast
) -> None:
    assert client.get("/v1/volumes", headers=cast.operator.headers).status_code == 200
    url = f"/v1/units/{cast.operator.unit_id}"
    assert client.post(url + "/suspend", headers=cast.security.headers).status_code == 200
    r = client.get("/v1/volumes", headers=cast.operator.headers)
    assert r.status_code == 403 and "已暂停" in r.json()["detail"]
    # Refused on every call, not only the first after the suspension.
    assert client.get("/v1/volumes", headers=cast.operator.headers).status_code == 403
    assert client.post(url + "/reinstate", headers=cast.security.headers).status_code == 200
    assert client.get("/v1/volumes", headers=cast.operator.headers).status_code == 200


def test_a_revocation_made_elsewhere_takes_effect_within_the_ttl(
    short_client: TestClient, cast: Cast, db: Session
) -> None:
    """The documented trade-off: a change this process did not make (another instance
    on the same database, SQL by hand) is seen once the cached entry expires."""
    headers = cast.operator.headers
    assert short_client.get("/v1/volumes", headers=headers).status_code == 200
    db.execute(
        update(ApiKey).where(ApiKey.key_hash == hash_api_key(cast.operator.key)),
        {"revoked_at": utcnow()},
    )
    db.commit()
    revoked = time.monotonic()
    assert short_client.get("/v1/volumes", headers=headers).status_code == 200  # still cached
    time.sleep(max(0.0, SHORT_TTL - (time.monotonic() - revoked)) + 0.05)
    assert short_client.get("/v1/volumes", headers=headers).status_code == 401


def test_a_suspension_made_elsewhere_takes_effect_within_the_ttl(
    short_client: TestClient, cast: Cast, db: Session
) -> None:
    headers = cast.operator.headers
    assert short_client.get("/v1/volumes", headers=headers).status_code == 200
    db.execute(
        update(Unit).where(Unit.id == uuid.UUID(cast.operator.unit_id)),
        {"status": UnitStatus.SUSPENDED},
    )
    db.commit()
    time.sleep(SHORT_TTL + 0.05)
    assert short_client.get("/v1/volumes", headers=headers).status_code == 403


def test_ttl_zero_looks_every_key_up(
    settings: Settings, clean_engine: Engine, cast: Cast, db: Session
) -> None:
    app = create_app(settings.model_copy(update={"principal_cache_ttl_s": 0}), engine=clean_engine)
    with TestClient(app) as client:
        assert client.get("/v1/volumes", headers=cast.operator.headers).status_code == 200
        assert len(cache_of(client)) == 0
        db.execute(
            update(ApiKey).where(ApiKey.key_hash == hash_api_key(cast.operator.key)),
            {"revoked_at": utcnow()},
        )
        db.commit()
        assert client.get("/v1/volumes", headers=cast.operator.headers).status_code == 401


def _principal() -> Principal:
    return Principal(uuid.uuid4(), uuid.uuid4(), "U1", Role.OPERATOR, unit_active=True)


def test_an_answer_read_before_an_invalidation_is_not_stored_after_it() -> None:
    """A lookup that read the database before a revocation committed, and finishes
    after the cache was cleared, must not put the pre-revocation answer back."""
    cache = PrincipalCache(ttl_s=60)
    generation = cache.generation  # the lookup starts
    cache.invalidate()  # a revocation commits meanwhile
    cache.put(b"k" * 32, _principal(), generation)  # the lookup finishes
    assert cache.get(b"k" * 32) is None
    cache.put(b"k" * 32, _principal(), cache.generation)  # a lookup after the revocation
    assert cache.get(b"k" * 32) is not None


def test_the_cache_is_bounded() -> None:
    cache = PrincipalCache(ttl_s=60, max_entries=8)
    for i in range(50):
        cache.put(i.to_bytes(32, "big"), _principal(), cache.generation)
    assert len(cache) == 8
    assert cache.get((49).to_bytes(32, "big")) is not None  # the newest stay
    assert cache.get((0).to_bytes(32, "big")) is None
