"""The chain writer endpoint: how the extra worker processes of ``notary serve
--workers N`` use an embedded chain that only the first process can open."""

from __future__ import annotations

import concurrent.futures
import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from notary.chain.errors import AlreadyRegistered
from notary.chain.node.rpcserver import ChainWriterRpcServer, ReadOnlyRpcServer
from notary.deployment import Deployment, init_deployment, open_deployment

TOKEN = "a-token-only-the-deployment-knows"


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    dep = init_deployment(tmp_path / "home", origin="tests.writer/log", centre_code="CENTRE")
    yield dep
    dep.close()


@pytest.fixture
def writer(deployment: Deployment) -> Iterator[ChainWriterRpcServer]:
    assert deployment.embedded is not None
    with ChainWriterRpcServer(deployment.embedded, TOKEN) as server:
        yield server


@pytest.fixture
def worker(deployment: Deployment, writer: ChainWriterRpcServer) -> Iterator[Deployment]:
    """The deployment as a worker process opens it: the chain through the endpoint."""
    dep = open_deployment(deployment.home, writer=(writer.url, TOKEN))
    yield dep
    dep.close()


def _post(url: str, payload: object, token: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        return e.code


def test_only_requests_with_the_token_are_answered(writer: ChainWriterRpcServer) -> None:
    ask = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}
    assert _post(writer.url, ask, TOKEN) == 200
    assert _post(writer.url, ask, None) == 401
    assert _post(writer.url, ask, "a-guess") == 401
    assert writer.address[0] == "127.0.0.1"


def test_a_worker_sends_custody_transactions_the_first_process_sees(
    deployment: Deployment, worker: Deployment
) -> None:
    volume = os.urandom(32)
    ref = worker.chain.register_volume(volume, worker.chain.account)
    assert deployment.chain.transaction_receipt(ref.tx_hash)["status"] == 1
    # A contract refusal reaches the worker typed, as from any node.
    with pytest.raises(AlreadyRegistered):
        worker.chain.register_volume(volume, worker.chain.account)


def test_both_processes_sending_from_one_account_lose_no_transaction(
    deployment: Deployment, worker: Deployment
) -> None:
    # The same centre account signs in both processes: a nonce taken by the other is
    # refused as "nonce too low" and the sender reads the count again.
    volumes = [os.urandom(32) for _ in range(16)]
    clients = [deployment.chain, worker.chain] * 8
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        refs = list(pool.map(lambda c, v: c.register_volume(v, c.account), clients, volumes))
    assert len({r.tx_hash for r in refs}) == 16
    for ref in refs:
        assert deployment.chain.transaction_receipt(ref.tx_hash)["status"] == 1


def test_the_public_read_only_endpoint_still_refuses_writes(
    deployment: Deployment, writer: ChainWriterRpcServer
) -> None:
    assert deployment.embedded is not None
    send = {"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": ["0x02"]}
    with ReadOnlyRpcServer(deployment.embedded) as public:
        request = urllib.request.Request(
            public.url, data=json.dumps(send).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert "read-only" in json.loads(response.read())["error"]["message"]
