"""The read-only chain JSON-RPC endpoint (offered to third-party verifiers) bounds the
work of every caller: a caller's code runs outside the chain lock the API and anchoring
need, within a gas cap and a wall-time budget; batches, bodies, Content-Length and
connections are limited (issue 15)."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from notary.chain.node.embedded import EmbeddedChain
from notary.chain.node.rpcserver import (
    CALL_GAS_CAP,
    MAX_BATCH,
    MAX_BODY_BYTES,
    MAX_CONNECTIONS,
    SOCKET_TIMEOUT_S,
    ReadOnlyRpc,
    ReadOnlyRpcServer,
)
from tests._support.chain_accounts import FUNDING, TEST_CHAIN_ID, Sender, deployment_account

# JUMPDEST PUSH1 0 JUMP: loops until the gas runs out (2^40 gas: hours in py-evm).
LOOP = "0x5b600056"
# GAS PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN: the gas the code was given.
GAS_LEFT = "0x5a60005260206000f3"
# Long enough that a transaction on a loaded machine finishes well inside it: the test
# proves it does not wait for the call, whatever the machine.
TIME_S = 2.0


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[EmbeddedChain]:
    account = deployment_account()
    with EmbeddedChain.open(tmp_path / "chain", TEST_CHAIN_ID, {account.address: FUNDING}) as c:
        yield c


@pytest.fixture
def server(chain: EmbeddedChain) -> Iterator[ReadOnlyRpcServer]:
    with ReadOnlyRpcServer(chain, time_s=TIME_S) as running:
        yield running


def _post(url: str, payload: Any, timeout: float = 30) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def _call(data: str, gas: int | None = None, id_: int = 1) -> dict[str, Any]:
    call: dict[str, Any] = {"data": data}
    if gas is not None:
        call["gas"] = hex(gas)
    return {"jsonrpc": "2.0", "id": id_, "method": "eth_call", "params": [call, "latest"]}


def _in_thread(fn: Any) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def run() -> None:
        started = time.monotonic()
        try:
            out["result"] = fn()
        except Exception as exc:  # reported to the test, which asserts on it
            out["error"] = exc
        out["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


@pytest.mark.slow
def test_a_looping_call_is_stopped_at_its_time_limit_and_never_holds_the_chain_lock(
    chain: EmbeddedChain, server: ReadOnlyRpcServer
) -> None:
    loop, looped = _in_thread(lambda: _post(server.url, _call(LOOP, 2**40)))
    time.sleep(0.1)  # the loop is running
    # What the API and the anchoring worker do meanwhile: take the chain lock, send.
    sender = Sender(chain.w3, deployment_account())
    send, sent = _in_thread(lambda: sender.send(to=sender.account.address, value=1, gas=21_000))
    send.join(timeout=5)
    assert not send.is_alive() and "error" not in sent, "a transaction waited for a caller's call"
    assert sent["seconds"] < TIME_S
    loop.join(timeout=10)
    assert not loop.is_alive(), "the looping call was not stopped"
    assert looped["seconds"] < TIME_S + 1.5
    error = looped["result"]["error"]
    assert error["code"] == -32000 and "timeout" in error["message"]


def test_gas_per_call_is_capped(server: ReadOnlyRpcServer) -> None:
    given = int(_post(server.url, _call(GAS_LEFT, 2**40))["result"], 16)
    assert 0 < given <= CALL_GAS_CAP
    default = int(_post(server.url, _call(GAS_LEFT))["result"], 16)
    assert 0 < default <= CALL_GAS_CAP


def test_the_calls_of_one_batch_share_a_gas_budget(chain: EmbeddedChain) -> None:
    rpc = ReadOnlyRpc(chain, gas_budget=1_000_000, time_s=10)
    batch = [_call(LOOP, 900_000, id_=i) for i in range(3)]
    body = rpc.handle_body(json.dumps(batch).encode())
    assert body is not None
    answers = {a["id"]: a for a in json.loads(body)}
    assert "out of gas" in answers[0]["error"]["message"].lower()
    assert "spent" in answers[2]["error"]["message"]


def test_batches_are_limited(server: ReadOnlyRpcServer) -> None:
    item = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
    assert len(_post(server.url, [item] * MAX_BATCH)) == MAX_BATCH
    refused = _post(server.url, [item] * (MAX_BATCH + 1))
    assert refused["error"]["code"] == -32600 and "batch" in refused["error"]["message"]


def test_a_deeply_nested_body_is_a_parse_error(server: ReadOnlyRpcServer) -> None:
    depth = MAX_BODY_BYTES // 2 - 1
    request = urllib.request.Request(
        server.url, data=b"[" * depth + b"]" * depth, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.loads(response.read())["error"]["code"] == -32700


def _raw(server: ReadOnlyRpcServer, head: bytes, timeout: float = 5) -> bytes:
    """Sends ``head`` (and nothing more, keeping the connection open); the status line."""
    with socket.create_connection(server.address, timeout=timeout) as sock:
        sock.sendall(head)
        return sock.recv(4096).split(b"\r\n", 1)[0]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (b"Content-Length: -1\r\n", b"400"),
        (b"Content-Length: +5\r\n", b"400"),
        (b"Content-Length: 0x10\r\n", b"400"),
        (b"Content-Length: 99999999999999999999\r\n", b"400"),
        (b"Content-Length: 5\r\nContent-Length: 6\r\n", b"411"),
        (b"", b"411"),
        (b"Transfer-Encoding: chunked\r\n", b"411"),
        (f"Content-Length: {MAX_BODY_BYTES + 1}\r\n".encode(), b"413"),
    ],
)
def test_a_bad_content_length_is_refused_without_reading_the_body(
    server: ReadOnlyRpcServer, headers: bytes, status: bytes
) -> None:
    head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + headers + b"\r\n"
    started = time.monotonic()
    assert _raw(server, head + b'{"jsonrpc"').split()[1] == status
    assert time.monotonic() - started < 2


def test_connections_beyond_the_limit_are_closed_at_once(server: ReadOnlyRpcServer) -> None:
    idle = [socket.create_connection(server.address, timeout=5) for _ in range(MAX_CONNECTIONS)]
    try:
        time.sleep(0.2)  # each has its thread
        with socket.create_connection(server.address, timeout=5) as extra:
            extra.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
            assert extra.recv(1) == b""  # closed, not queued
    finally:
        for sock in idle:
            sock.close()
    time.sleep(0.2)
    item = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
    assert _post(server.url, item)["result"] == hex(TEST_CHAIN_ID)


@pytest.mark.slow
def test_a_silent_connection_is_closed_after_the_socket_timeout(
    server: ReadOnlyRpcServer,
) -> None:
    with socket.create_connection(server.address, timeout=SOCKET_TIMEOUT_S + 5) as sock:
        started = time.monotonic()
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")  # and never the rest
        assert sock.recv(1) == b""
        assert SOCKET_TIMEOUT_S - 0.5 <= time.monotonic() - started < SOCKET_TIMEOUT_S + 3
