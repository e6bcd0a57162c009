"""Per-client rate limits on what anyone may call without a key (issue 15): the public
API routes and the read-only chain JSON-RPC endpoint. A flood from one address gets 429
with Retry-After; a caller from another address is unaffected; the limiter's table is
bounded. Over real sockets (uvicorn, the chain endpoint's own server), the flooding
client on 127.0.0.1 and the normal caller on 127.0.0.2."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from notary._internal.ratelimit import RateLimiter
from notary.chain.node.embedded import EmbeddedChain
from notary.chain.node.rpcserver import ReadOnlyRpcServer
from notary.deployment import Deployment
from tests._support.chain_accounts import FUNDING, TEST_CHAIN_ID, deployment_account
from tests.security.test_request_bounds import _serving
from transfer.settings import Settings

FLOOD = 60
BURST = 10


def _client(local: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=local), timeout=10)


@pytest.fixture
def port(notary_settings: Settings, clean_engine: Engine, deployment: Deployment) -> Iterator[int]:
    settings = notary_settings.model_copy(
        update={"anchoring_enabled": False, "public_rate_per_s": 2.0, "public_rate_burst": BURST}
    )
    with _serving(settings, clean_engine, deployment) as p:
        yield p


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/check"), ("GET", "/v1/federation"), ("POST", "/v1/federation/dispatches")],
)
def test_a_flood_on_a_public_route_gets_429_and_another_client_is_unaffected(
    port: int, method: str, path: str
) -> None:
    url = f"http://127.0.0.1:{port}"
    with _client("127.0.0.1") as flood, _client("127.0.0.2") as normal:
        answers = [flood.request(method, url + path, json={}) for _ in range(FLOOD)]
        limited = [r for r in answers if r.status_code == 429]
        assert len(limited) >= FLOOD - BURST - 5, [r.status_code for r in answers]
        assert all(r.status_code != 429 for r in answers[:BURST])
        r = limited[-1]
        assert int(r.headers["retry-after"]) >= 1
        assert r.headers["content-type"] == "application/problem+json"
        assert "请求过于频繁" in r.json()["detail"]
        # Another client, meanwhile: answered as usual.
        for _ in range(BURST):
            assert normal.request(method, url + path, json={}).status_code != 429
        # Routes that need a key are not limited per address.
        assert flood.get(url + "/v1/units").status_code == 401


def test_the_limiters_table_is_bounded() -> None:
    limiter = RateLimiter(1.0, 2, max_clients=1000)
    for i in range(100_000):
        limiter.take(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}")
    assert len(limiter) == 1000
    # A client seen recently is still counted: its third request in a row waits.
    assert [limiter.take("x") for _ in range(3)][:2] == [0, 0]
    assert limiter.take("x") >= 1


def test_defaults_limit_the_public_routes_and_the_chain_endpoint() -> None:
    s = Settings()
    assert s.public_rate_per_s > 0 and s.chain_rpc_rate_per_s > 0
    assert s.rate_limit_clients <= 1_000_000


@pytest.fixture
def rpc(tmp_path: Path) -> Iterator[ReadOnlyRpcServer]:
    account = deployment_account()
    with (
        EmbeddedChain.open(tmp_path / "chain", TEST_CHAIN_ID, {account.address: FUNDING}) as c,
        ReadOnlyRpcServer(c, limiter=RateLimiter(2.0, BURST)) as server,
    ):
        yield server


def test_a_flood_on_the_chain_endpoint_gets_429_and_another_client_is_unaffected(
    rpc: ReadOnlyRpcServer,
) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}
    with _client("127.0.0.1") as flood, _client("127.0.0.2") as normal:
        answers = [flood.post(rpc.url, json=body) for _ in range(FLOOD)]
        limited = [r for r in answers if r.status_code == 429]
        assert len(limited) >= FLOOD - BURST - 5
        assert int(limited[-1].headers["retry-after"]) >= 1
        for _ in range(BURST):
            r = normal.post(rpc.url, json=body)
            assert r.status_code == 200 and "result" in json.loads(r.content)
