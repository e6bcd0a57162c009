"""Faults across two centres (issue 14), each in the two-process world of conftest.py:
a node or a service goes away in the middle of a transfer, and the transfer still
finishes — once — when it is back. Runs after test_two_centres.py (module order);
every test puts back what it stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from notary.store.jsipfs import JsIpfsNode
from tests._support.two_centres import NOTARY, World, kill, stop

pytestmark = [pytest.mark.node, pytest.mark.slow, pytest.mark.faults]


def _restart_ipfs(w: World, centre: str) -> None:
    """The centre's node back on the same repo and ports (its peers re-dial it)."""
    port = urlparse(w.env[f"IPFS_{centre}"]).port
    node = JsIpfsNode(
        w.work / f"ipfs-{centre.lower()}",
        api_port=port,
        swarm_port=int(w.env[f"IPFS_{centre}_SWARM_PORT"]),
    )
    node.start()
    w.owned.append(node)
    w.env[f"IPFS_{centre}_PID"] = str(node.pid)


def _restart_service(w: World, centre: str) -> None:
    port = str(urlparse(w.env[f"{centre}_URL"]).port)
    home = w.work / centre.lower()
    with (w.work / f"serve-{centre.lower()}-again.log").open("ab") as out:
        proc = subprocess.Popen(
            [NOTARY, "serve", "--home", str(home), "--port", port],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    w.owned.append(proc)
    w.env[f"SERVE_{centre}_PID"] = str(proc.pid)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{w.env[f'{centre}_URL']}/v1/health", timeout=15).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"centre {centre} did not come back")


def test_receiver_ipfs_down_during_delivery_is_503_and_a_retry_completes(
    world: World, tmp_path: Path
) -> None:
    w = world
    w.sent(tmp_path, "fed-f1")
    assert w.wait_state("B", "fed-f1", "dispatched")["state"] == "dispatched"
    stop(w.env["IPFS_B_PID"])
    r = w.api("B", "POST", "/v1/transfers/fed-f1/deliver")
    assert r.status_code == 503, r.text
    assert "内容" in r.json()["detail"] or "IPFS" in r.json()["detail"]
    _restart_ipfs(w, "B")
    accepted = w.notary("transfer", "accept", "fed-f1", *w.as_("B"))
    assert "已签署回执" in accepted.stdout
    assert w.wait_state("A", "fed-f1", "received")["state"] == "received"


def test_sender_ipfs_down_after_delivery_the_receiver_still_reads(world: World) -> None:
    w = world
    volumes = w.api("B", "GET", "/v1/volumes").json()["items"]
    assert volumes, "the tests before this one received volumes at B"
    stop(w.env["IPFS_A_PID"])
    try:
        mats = [
            m for v in volumes for m in w.api("B", "GET", f"/v1/volumes/{v['id']}/materials").json()
        ]
        assert mats
        for m in mats:
            r = w.api("B", "GET", f"/v1/materials/{m['id']}/content", params={"purpose": "核验"})
            assert r.status_code == 200, r.text
    finally:
        _restart_ipfs(w, "A")


def test_chain_down_during_dispatch_the_outbox_finishes_it(world: World, tmp_path: Path) -> None:
    w = world
    volume = w.volume("cadre-fed-f3")
    w.ingest(tmp_path, volume, "fed-f3")
    w.create(volume, "fed-f3")
    deadline = time.monotonic() + 90
    while (r := w.api("A", "POST", "/v1/transfers/fed-f3/package")).status_code == 503:
        assert time.monotonic() < deadline, r.text
        time.sleep(1)
    assert r.status_code == 200, r.text
    chain = int(w.env["CHAIN_PID"])
    os.kill(chain, signal.SIGSTOP)
    try:
        r = w.api("A", "POST", "/v1/transfers/fed-f3/dispatch")
        assert r.status_code == 503, r.text
    finally:
        os.kill(chain, signal.SIGCONT)
    # Nobody asks again: A's outbox sends the committed dispatch and hands it to B.
    assert w.wait_state("A", "fed-f3", "dispatched", timeout=90)["state"] == "dispatched"
    assert w.wait_state("B", "fed-f3", "dispatched", timeout=60)["state"] == "dispatched"
    events = w.api("A", "GET", "/v1/transfers/fed-f3/timeline").json()["events"]
    assert [e["event"] for e in events].count("dispatch") == 1


def test_receiver_killed_between_verify_and_receipt_finishes_once(
    world: World, tmp_path: Path
) -> None:
    w = world
    w.sent(tmp_path, "fed-f4")
    assert w.wait_state("B", "fed-f4", "dispatched")["state"] == "dispatched"
    for step in ("deliver", "verify"):
        r = w.api("B", "POST", f"/v1/transfers/fed-f4/{step}")
        assert r.status_code == 200, r.text
    kill(w.env["SERVE_B_PID"])
    _restart_service(w, "B")
    r = w.api("B", "POST", "/v1/transfers/fed-f4/receipt")
    assert r.status_code == 201, r.text
    again = w.api("B", "POST", "/v1/transfers/fed-f4/receipt")
    assert again.status_code == 200, again.text  # the stored receipt, not a second one
    assert w.wait_state("A", "fed-f4", "received")["state"] == "received"
    (custody,) = w.api("B", "GET", "/v1/transfers/fed-f4/timeline").json()["chain"]
    assert custody["dispatch"]["outcome"] == "received" and custody["dispatch"]["number"] == 1
