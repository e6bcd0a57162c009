"""``notary log monitor`` catches a rewritten log: a validly signed checkpoint that is
not an extension of the previous one fails its consistency proof (served by a fake API
through an httpx MockTransport)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from clients.commands import log as log_cmd
from clients.sdk import NotaryClient
from notary.checkpoint import SignedCheckpoint, sign_checkpoint
from notary.crypto import SM2PrivateKey
from notary.log import MerkleLog

KEY = SM2PrivateKey.generate()


def fake_api(log: MerkleLog, cps: list[SignedCheckpoint]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        path, q = request.url.path, request.url.params
        if path == "/v1/log/checkpoints":
            items = [
                {
                    "tree_size": cp.checkpoint.tree_size,
                    "root": cp.checkpoint.root.hex(),
                    "status": "anchored",
                    "checkpoint": cp.to_json(),
                    "anchor": None,
                }
                for cp in sorted(cps, key=lambda c: -c.checkpoint.tree_size)
            ]
            return httpx.Response(200, json={"items": items, "next_offset": None})
        if path == "/v1/log/consistency":
            first, second = int(q["first"]), int(q["second"])
            proof = [h.hex() for h in log.consistency_proof(first, second)]
            return httpx.Response(200, json={"proof": proof})
        if path == "/v1/chain":
            return httpx.Response(200, json={"contract": "0x" + "00" * 20, "rpc_url": None})
        return httpx.Response(404, json={"title": "not found"})

    return httpx.MockTransport(handler)


@pytest.fixture
def history() -> tuple[MerkleLog, list[SignedCheckpoint]]:
    log = MerkleLog()
    cps = []
    for n in range(1, 7):
        log.append(f"entry {n}".encode())
        if n % 2 == 0:
            cps.append(sign_checkpoint(KEY, "o", n, log.root(), n))
    return log, cps


def run_monitor(
    monkeypatch: pytest.MonkeyPatch, cli: Any, transport: httpx.MockTransport, *args: str
) -> Any:
    monkeypatch.setattr(
        log_cmd, "client", lambda url, key, **kw: NotaryClient(url, key, transport=transport)
    )
    return cli("log", "monitor", "--url", "http://notary.test", "--key", "k", *args)


def test_a_consistent_history_passes(
    monkeypatch: pytest.MonkeyPatch, cli: Any, history: Any
) -> None:
    log, cps = history
    r = run_monitor(
        monkeypatch, cli, fake_api(log, cps), "--json", "--log-key", KEY.public_key.raw.hex()
    )
    assert r.code == 0, r.out + r.err
    report = json.loads(r.out)
    assert report["checkpoints"] == 3 and report["pairs_checked"] == 2 and report["ok"]
    assert report["signatures_checked"] and not report["chain_checked"]


def test_a_rewritten_log_is_caught(monkeypatch: pytest.MonkeyPatch, cli: Any, history: Any) -> None:
    log, cps = history
    forked = MerkleLog()
    forked.append_many([b"x", b"y", b"z", b"w"])
    cps[1] = sign_checkpoint(KEY, "o", 4, forked.root(), 4)  # signed, but a fork
    r = run_monitor(monkeypatch, cli, fake_api(log, cps), "--json")
    assert r.code == 1
    problems = json.loads(r.out)["problems"]
    assert {p["check"] for p in problems} == {"consistency"}
    assert {p["subject"] for p in problems} == {"checkpoints 2→4", "checkpoints 4→6"}


def test_a_checkpoint_under_another_key_is_caught(
    monkeypatch: pytest.MonkeyPatch, cli: Any, history: Any
) -> None:
    log, cps = history
    cps[2] = sign_checkpoint(SM2PrivateKey.generate(), "o", 6, log.root(6), 6)
    pinned = KEY.public_key.raw.hex()
    r = run_monitor(monkeypatch, cli, fake_api(log, cps), "--log-key", pinned)
    assert r.code == 1
    assert "[checkpoint-signature]" in r.err and "[log-key]" in r.err
    assert "发现 2 个问题" in r.out
