"""Two independent archive centres on one chain, set up and used only through the
public CLI and HTTP, exactly as docs/federation.md walks through it.

``scripts/two_centres.py up`` runs the operator's commands (network create, init
--join, unit add, network admit, serve, peer add) with a real anvil, two js-ipfs nodes
(one per centre, peered on loopback), centre A on SQLite and centre B on PostgreSQL.
Then a transfer goes from a unit of A to a unit of B: ingest, create, send; B's inbox,
accept (deliver by CID from A's node, 四性, 回执); A learns the outcome.
"""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import pytest

from tests._support.two_centres import World

pytestmark = [pytest.mark.node, pytest.mark.slow]


def test_a_transfer_between_two_centres_is_proven_on_both_sides(
    world: World, tmp_path: Path
) -> None:
    w = world
    w.sent(tmp_path, "fed-1")

    # B's inbox holds the dispatch: A's service handed it over, B checked it on chain.
    inbox = w.notary("transfer", "inbox", *w.as_("B"), "--json")
    assert "fed-1" in inbox.stdout
    # B delivers by CID (its own IPFS node fetches from A's), verifies 四性, signs 回执.
    accepted = w.notary("transfer", "accept", "fed-1", *w.as_("B"), "--json")
    answer = json.loads(accepted.stdout)
    assert answer["report"]["accepted"] is True
    assert answer["transfer"]["state"] == "received"

    # A learns the receipt at once (pushed by B, checked against the chain's hash).
    t = w.wait_state("A", "fed-1", "received", timeout=30)
    assert t["state"] == "received", t
    timeline_a = w.api("A", "GET", "/v1/transfers/fed-1/timeline").json()
    timeline_b = w.api("B", "GET", "/v1/transfers/fed-1/timeline").json()
    # Both sides read the same custody from the contract: UB's account holds it now.
    assert timeline_a["chain"] == timeline_b["chain"]
    (custody,) = timeline_b["chain"]
    assert custody["custody_state"] == "held"
    assert custody["dispatch"]["outcome"] == "received"
    ub = next(u for u in w.peers("A")["CB"]["units"] if u["code"] == "UB")
    assert custody["custodian"] == ub["chain_account"]
    # A keeps the signed receipt: its hash is the one the chain recorded.
    events_a = [e["event"] for e in timeline_a["events"]]
    assert events_a[-1] == "accept"

    # B now holds the volume and reads each material verified, from its own IPFS node.
    volumes = w.api("B", "GET", "/v1/volumes").json()["items"]
    assert len(volumes) == 1
    mats = w.api("B", "GET", f"/v1/volumes/{volumes[0]['id']}/materials").json()
    assert len(mats) == 2
    for m in mats:
        r = w.api("B", "GET", f"/v1/materials/{m['id']}/content", params={"purpose": "核验"})
        assert r.status_code == 200, r.text
        assert r.content.startswith(b"%PDF")
    # A no longer reads the content it handed over.
    handed_over = w.api(
        "A", "GET", f"/v1/materials/{mats[0]['id']}/content", params={"purpose": "核验"}
    )
    assert handed_over.status_code in (403, 404), handed_over.text


def test_a_rejected_transfer_stays_with_the_sender_and_is_sent_again(
    world: World, tmp_path: Path
) -> None:
    w = world
    volume = w.sent(tmp_path, "fed-2")
    assert w.wait_state("B", "fed-2", "dispatched")["state"] == "dispatched"
    w.notary("transfer", "verify", "fed-2", *w.as_("B"))  # deliver by CID, 四性
    w.notary("transfer", "reject", "fed-2", "--reason", "材料缺页，请补齐后重新转递",
             *w.as_("B"))  # fmt: skip

    # A sees the rejection and its reasons at once (pushed by B, hash checked on chain).
    t = w.wait_state("A", "fed-2", "rejected", timeout=30)
    assert t["state"] == "rejected", t
    assert "材料缺页" in json.dumps(t["outcome"], ensure_ascii=False)
    # Custody stays with UA on chain, as both sides read it.
    ua = next(u for u in w.peers("B")["CA"]["units"] if u["code"] == "UA")
    (custody,) = w.api("A", "GET", "/v1/transfers/fed-2/timeline").json()["chain"]
    assert custody["custodian"] == ua["chain_account"]
    assert custody["dispatch"]["outcome"] == "rejected"
    assert w.api("B", "GET", "/v1/transfers/fed-2/timeline").json()["chain"] == [custody]
    provenance = w.api("A", "GET", f"/v1/volumes/{volume}/provenance")
    assert provenance.status_code == 200, provenance.text

    # A takes it back and sends it again as a new transfer; B accepts that one.
    # The new transfer is created once; only its sending waits for anchoring (a resend
    # asked again after a 503 would find fed-2b already made, and be refused).
    w.notary("transfer", "resend", "fed-2", "--id", "fed-2b", "--no-send", *w.as_("A"))
    w.until_ok("transfer", "send", "fed-2b", *w.as_("A"))
    assert w.wait_state("B", "fed-2b", "dispatched")["state"] == "dispatched"
    w.notary("transfer", "accept", "fed-2b", *w.as_("B"))
    assert w.wait_state("A", "fed-2b", "received")["state"] == "received"
    (custody,) = w.api("B", "GET", "/v1/transfers/fed-2b/timeline").json()["chain"]
    ub = next(u for u in w.peers("A")["CB"]["units"] if u["code"] == "UB")
    assert custody["custodian"] == ub["chain_account"]
    assert custody["dispatch"]["number"] == 2  # the volume's second dispatch


def test_a_transfer_by_offline_package_between_the_centres(world: World, tmp_path: Path) -> None:
    """机要: the package travels as a file; B checks it against the root on chain."""
    w = world
    w.sent(tmp_path, "fed-3")
    package = tmp_path / "fed-3.tar"
    w.notary("transfer", "export", "fed-3", "--out", str(package), *w.as_("A"))
    assert w.wait_state("B", "fed-3", "dispatched")["state"] == "dispatched"
    w.notary("transfer", "import", str(package), *w.as_("B"))
    assert w.wait_state("B", "fed-3", "delivered")["state"] == "delivered"
    w.notary("transfer", "accept", "fed-3", *w.as_("B"))
    assert w.wait_state("A", "fed-3", "received")["state"] == "received"


def test_a_peer_presenting_a_key_the_chain_does_not_hold_is_refused(world: World) -> None:
    """A fake centre answers with CB's code and account but another log key."""
    w = world
    genuine = httpx.get(w.env["B_URL"] + "/v1/federation", timeout=30).json()
    forged = dict(genuine, log_public_key="04" * 0 + genuine["units"][0]["public_key"])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(forged).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        done = w.notary("peer", "add", "CB", url, "--url", w.env["A_URL"],
                        "--key", w.env["A_ADMIN_KEY"], ok=False)  # fmt: skip
    finally:
        server.shutdown()
    assert done.returncode != 0
    assert "member-key" in done.stderr or "不是链上为账户" in done.stderr, done.stderr


def test_an_unadmitted_centre_does_not_serve(world: World, tmp_path: Path) -> None:
    w = world
    home = tmp_path / "c"
    w.notary("init", "--home", str(home), "--join", w.env["NETWORK"], "--centre-code", "CC",
             "--store", "local")  # fmt: skip
    done = w.notary("serve", "--home", str(home), "--port", "0", ok=False)
    assert done.returncode == 2
    assert "尚未被网络接纳" in done.stderr and "join-request.json" in done.stderr
    # A second init on the same home: one line, no traceback, nothing changed.
    again = w.notary("init", "--home", str(home), "--join", w.env["NETWORK"], ok=False)
    assert again.returncode == 2 and "Traceback" not in again.stderr
    assert os.path.exists(home / "join-request.json")
