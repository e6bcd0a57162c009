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
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from clients.demo import sample_pdf

pytestmark = [pytest.mark.node, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
NOTARY = str(Path(sys.executable).with_name("notary"))


class World:
    def __init__(self, env: dict[str, str], work: Path) -> None:
        self.env = env
        self.work = work

    def notary(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [NOTARY, *args], capture_output=True, text=True, timeout=300, check=False
        )
        if ok:
            assert done.returncode == 0, f"notary {shlex.join(args)}: {done.stderr}"
        return done

    def api(self, centre: str, method: str, path: str, **kw: Any) -> httpx.Response:
        key = self.env[f"{centre}_OPERATOR_KEY"]
        return httpx.request(
            method,
            self.env[f"{centre}_URL"] + path,
            headers={"Authorization": f"Bearer {key}"},
            timeout=120,
            **kw,
        )

    def as_(self, centre: str) -> list[str]:
        return ["--url", self.env[f"{centre}_URL"], "--key", self.env[f"{centre}_OPERATOR_KEY"]]


def _read_env(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text("utf-8").splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = shlex.split(value)[0]
    return env


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    work = tmp_path_factory.mktemp("two-centres")
    log = work.parent / "two-centres.out"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(REPO / "scripts" / "two_centres.py"), "up", str(work)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 420
        while not (work / "env.sh").exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"two_centres.py did not come up:\n{log.read_text()[-4000:]}")
            time.sleep(0.5)
        yield World(_read_env(work / "env.sh"), work)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()


def _wait_state(w: World, centre: str, transfer_id: str, state: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        t = w.api(centre, "GET", f"/v1/transfers/{transfer_id}").json()
        if t.get("state") == state or time.monotonic() > deadline:
            return t
        time.sleep(0.5)


def _ingest(w: World, tmp: Path, volume: str, tag: str) -> None:
    files = tmp / f"materials-{tag}"
    files.mkdir()
    rows = ["file,category,title,formation_date,pages,seq_no"]
    for i, (cat, title) in enumerate([("1", "干部履历表"), ("9-1", "工资审批表")], start=1):
        (files / f"{i}.pdf").write_bytes(sample_pdf(f"{tag} {i}"))
        rows.append(f"{i}.pdf,{cat},{title},2001-0{i}-01,1,{i}")
    (files / "list.csv").write_text("\n".join(rows) + "\n", "utf-8")
    w.notary("ingest", str(files), "--volume", volume, "--manifest", str(files / "list.csv"),
             *w.as_("A"))  # fmt: skip


def _volume(w: World, cadre: str) -> str:
    r = w.api("A", "POST", "/v1/volumes", json={"cadre_identifier": cadre, "kind": "main"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _send(w: World, volume: str, transfer_id: str, no: str) -> None:
    w.notary("transfer", "create", "--to", "UB", "--volume", volume, "--reason", "工作调动",
             "--no", no, "--id", transfer_id, *w.as_("A"))  # fmt: skip
    # Packaging waits until every material's checkpoint is anchored (503 meanwhile).
    deadline = time.monotonic() + 60
    while True:
        done = w.notary("transfer", "send", transfer_id, *w.as_("A"), ok=False)
        if done.returncode == 0 or time.monotonic() > deadline:
            break
        assert "503" in done.stderr or "锚定" in done.stderr, done.stderr
        time.sleep(1)
    assert done.returncode == 0, done.stderr


def test_a_transfer_between_two_centres_is_proven_on_both_sides(
    world: World, tmp_path: Path
) -> None:
    w = world
    volume = _volume(w, "110101199001011234")
    _ingest(w, tmp_path, volume, "first")
    _send(w, volume, "fed-1", "组转字〔2026〕1号")

    # B's inbox holds the dispatch: A's service handed it over, B checked it on chain.
    inbox = w.notary("transfer", "inbox", *w.as_("B"), "--json")
    assert "fed-1" in inbox.stdout
    # B delivers by CID (its own IPFS node fetches from A's), verifies 四性, signs 回执.
    accepted = w.notary("transfer", "accept", "fed-1", *w.as_("B"), "--json")
    answer = json.loads(accepted.stdout)
    assert answer["report"]["accepted"] is True
    assert answer["transfer"]["state"] == "received"

    # A learns the receipt at once (pushed by B, checked against the chain's hash).
    t = _wait_state(w, "A", "fed-1", "received", timeout=30)
    assert t["state"] == "received", t
    timeline_a = w.api("A", "GET", "/v1/transfers/fed-1/timeline").json()
    timeline_b = w.api("B", "GET", "/v1/transfers/fed-1/timeline").json()
    # Both sides read the same custody from the contract: UB's account holds it now.
    assert timeline_a["chain"] == timeline_b["chain"]
    (custody,) = timeline_b["chain"]
    assert custody["custody_state"] == "held"
    assert custody["dispatch"]["outcome"] == "received"
    ub = next(u for u in _peers(w, "A")["CB"]["units"] if u["code"] == "UB")
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
    assert w.api("A", "GET", f"/v1/materials/{mats[0]['id']}/content").status_code in (403, 404)


def _peers(w: World, centre: str) -> dict[str, Any]:
    r = httpx.get(
        w.env[f"{centre}_URL"] + "/v1/transfers/peers",
        headers={"Authorization": f"Bearer {w.env[centre + '_ADMIN_KEY']}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return {p["code"]: p for p in r.json()}


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
