"""The fault-injection harness: a real ``notary serve`` process, a stream of uploads
against it, and the checks that must hold after every fault.

Shared by the suite (``tests/faults/test_*.py``, bounded) and the long campaign
(``python -m tests.faults.campaign``). Everything binds 127.0.0.1; every loop is
bounded in count and time.

A transfer phase (:class:`TransferRun`) drives a transfer between two units hosted by
the deployment over HTTP, step by step, so that a kill can land inside any step.

The checks (:func:`check_invariants`, :func:`transfer_agrees`) look only through the
API and the chain's JSON-RPC — what an auditor could see — not into the database:

- every acknowledged upload (a 201 received) is present with its leaf index;
- every checkpoint is eventually anchored, and each anchored checkpoint's root is
  the root on chain at its tree size, in the block the service recorded;
- consecutive anchored checkpoints are consistent (RFC 9162 consistency proofs);
- anchoring happened exactly once per checkpoint: the centre's chain account (which
  sends nothing but anchors) has sent exactly as many transactions as there are
  anchored checkpoints — a duplicate or a stray submission would show as extra nonce.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import secrets
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from notary.checkpoint import log_id_for, parse_signed_checkpoint
from notary.crypto import sm3
from notary.log import verify_consistency
from tests._support.notary_api import pdf
from tests._support.served import ServeProcess

NOTARY = Path(sys.executable).parent / "notary"


META = {
    "category": "4-1",
    "seq_no": "1",
    "pages": "1",
    "title": "学历学位证书",
    "formation_date": "1998-06-30",
}


# --- the deployment home --------------------------------------------------------------


@dataclass
class Home:
    path: Path
    admin_key: str
    security_key: str  # approves the operator keys the admin issues (三员分立)
    database_url: str = ""

    @property
    def descriptor(self) -> dict[str, Any]:
        return dict(json.loads((self.path / "deployment.json").read_text("utf-8")))

    @property
    def log_id(self) -> bytes:
        return log_id_for(self.descriptor["origin"])


def init_embedded_home(path: Path, *, database_url: str = "", store: str = "local") -> Home:
    """``notary init`` in-process: embedded chain, SQLite (or ``database_url``)."""
    from transfer.roles import Role
    from transfer.services.setup import init_home

    keys = init_home(
        path,
        origin=f"faults-{secrets.token_hex(4)}.archive-notary/log",
        centre_code="FAULTS",
        centre_name="故障注入测试中心",
        store=store,
        database_url=database_url,
    )
    admin = next(k.key for k in keys.keys if k.role is Role.ADMIN)
    security = next(k.key for k in keys.keys if k.role is Role.SECURITY)
    return Home(path, admin, security, database_url)


def init_rpc_home(
    path: Path, chain_url: str, admin_chain_key: bytes, centre_chain_key: bytes
) -> Home:
    """A home anchoring on a JSON-RPC chain (anvil): ``notary init`` cannot deploy the
    contract there (it needs the network admin's key), so this deploys it as the admin
    and then prepares the service's part as ``init_home`` does. The centre's account
    pays for its anchors: give a funded key (anvil's dev accounts are)."""
    database_url = ""
    from notary.deployment import init_deployment
    from transfer.db.migrate import upgrade
    from transfer.db.models import UnitKind
    from transfer.db.session import make_engine, write_sessionmaker
    from transfer.roles import Role
    from transfer.security import blinding_secret, issue_api_key
    from transfer.services.setup import SERVICE_FILE, add_unit, settings_for

    path.mkdir(parents=True, exist_ok=True)
    (path / SERVICE_FILE).write_text(
        json.dumps({"store": "local", "database_url": database_url}), "utf-8"
    )
    with init_deployment(
        path,
        origin=f"faults-{secrets.token_hex(4)}.archive-notary/log",
        centre_code="FAULTS",
        chain=chain_url,
        chain_key=centre_chain_key,
        admin_key=admin_chain_key,
    ) as dep:
        centre_key = dep.create_unit_key("FAULTS").raw.hex()
    settings = settings_for(path)
    blinding_secret(settings, create=True)
    engine = make_engine(settings.database_url_resolved)
    try:
        upgrade(engine)
        with write_sessionmaker(engine)() as s:
            unit = add_unit(s, "FAULTS", "故障注入测试中心", UnitKind.ARCHIVE_CENTRE, centre_key)
            _, admin = issue_api_key(s, unit, Role.ADMIN, "faults")
            _, security = issue_api_key(s, unit, Role.SECURITY, "faults")
            s.commit()
    finally:
        engine.dispose()
    return Home(path, admin, security, database_url)


# --- the server process ---------------------------------------------------------------


@dataclass
class Server(ServeProcess):
    """``notary serve`` as the faults see it: checkpoints every 0.2 s, so that a fault
    lands among anchors."""

    checkpoint_interval_s: float = 0.2

    def env(self) -> dict[str, str]:
        interval = {"NOTARY_CHECKPOINT_INTERVAL_S": str(self.checkpoint_interval_s)}
        return {**super().env(), **interval, **self.extra_env}


# --- the API as a client sees it ------------------------------------------------------


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def setup_operator(base: str, admin_key: str, security_key: str) -> tuple[str, str]:
    """A hosted unit with an operator key (issued by the admin, approved by the
    security administrator) and one volume: (operator key, volume id)."""
    with httpx.Client(base_url=base, timeout=30) as c:
        code = f"U{secrets.token_hex(3)}"
        r = c.post(
            "/v1/units",
            json={"code": code, "name": "故障测试单位", "kind": "unit"},
            headers=bearer(admin_key),
        )
        r.raise_for_status()
        unit_id = r.json()["id"]
        r = c.post(
            f"/v1/units/{unit_id}/keys", json={"role": "operator"}, headers=bearer(admin_key)
        )
        r.raise_for_status()
        key = str(r.json()["key"])
        r = c.post(
            f"/v1/units/{unit_id}/keys/{r.json()['id']}/approve", headers=bearer(security_key)
        )
        r.raise_for_status()
        r = c.post(
            "/v1/volumes",
            json={
                "cadre_identifier": f"11010119800101{secrets.randbelow(9999):04d}",
                "kind": "main",
            },
            headers=bearer(key),
        )
        r.raise_for_status()
        return key, str(r.json()["id"])


@dataclass(frozen=True)
class Ack:
    material_id: str
    leaf_index: int
    sm3: str


@dataclass
class UploadStream:
    """``workers`` threads uploading small PDFs until stopped (or until ``max_each``).

    Records every acknowledgement (201) and classifies every other outcome: a
    transport error (the server died or is down) is expected under faults; a 5xx with a
    problem body is counted by status; a 500 is what must never happen.
    """

    base: str
    key: str
    volume_id: str
    workers: int = 4
    max_each: int = 10_000
    acks: list[Ack] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    transport_errors: int = 0
    bad_answers: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=30, headers=bearer(self.key)) as c:
            for _ in range(self.max_each):
                if self._stop.is_set():
                    return
                content = pdf(f"fault stream {uuid.uuid4()}")
                try:
                    r = c.post(
                        f"/v1/volumes/{self.volume_id}/materials",
                        data=META,
                        files={"file": ("m.pdf", content, "application/pdf")},
                    )
                except httpx.TransportError:
                    with self._lock:
                        self.transport_errors += 1
                    # The server is down (killed, restarting): do not spin.
                    self._stop.wait(0.05)
                    continue
                with self._lock:
                    self.statuses[r.status_code] = self.statuses.get(r.status_code, 0) + 1
                if r.status_code == 201:
                    body = r.json()
                    if body["sm3"] != sm3(content).hex():
                        self.bad_answers.append(f"201 with a wrong SM3: {body}")
                    with self._lock:
                        self.acks.append(Ack(body["id"], int(body["leaf_index"]), body["sm3"]))
                elif not r.headers.get("content-type", "").startswith("application/problem+json"):
                    self.bad_answers.append(f"{r.status_code} without problem+json: {r.text[:200]}")
                else:
                    self._stop.wait(0.05)

    def start(self) -> UploadStream:
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._run, name=f"upload-{i}", daemon=True)
            for i in range(self.workers)
        ]
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)
        self._threads = []

    def __enter__(self) -> UploadStream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_for(predicate: Any, timeout: float, what: str, poll: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(poll)


def health(base: str) -> dict[str, Any]:
    try:
        return dict(httpx.get(f"{base}/v1/health", timeout=10).json())
    except (httpx.TransportError, ValueError):
        return {}


def wait_all_anchored(base: str, log_size_at_least: int, timeout: float = 60) -> dict[str, Any]:
    """Until no checkpoint is pending and the anchored tree covers ``log_size_at_least``."""

    def done() -> dict[str, Any] | None:
        h = health(base)
        a = h.get("checks", {}).get("anchoring", {}).get("detail", {})
        if (
            a
            and a["pending_checkpoints"] == 0
            and a["anchored_tree_size"] >= log_size_at_least
            and a["anchored_tree_size"] == a["log_size"]
        ):
            return a
        return None

    return dict(wait_for(done, timeout, f"every checkpoint anchored (>= {log_size_at_least})"))


def anchored_checkpoints(c: httpx.Client) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        page = c.get("/v1/log/checkpoints", params={"limit": 200, "offset": offset}).json()
        items.extend(page["items"])
        offset = page["next_offset"]
    return sorted(items, key=lambda x: int(x["tree_size"]))


@dataclass
class Findings:
    acknowledged: int
    log_size: int
    anchored_checkpoints: int
    anchor_txs: int


def check_invariants(
    base: str,
    key: str,
    acks: list[Ack],
    rpc_url: str,
    home: Home,
    *,
    timeout: float = 60,
    key_for: dict[str, str] | None = None,
) -> Findings:
    """Assert the invariants of the module docstring; returns what was checked.
    ``key_for``: the key that reads a material now (its volume was transferred)."""
    from web3 import HTTPProvider, Web3

    from notary.chain import ChainClient

    expected_size = max((a.leaf_index + 1 for a in acks), default=0)
    status = wait_all_anchored(base, expected_size, timeout)
    with httpx.Client(base_url=base, timeout=30, headers=bearer(key)) as c:
        # 1. Nothing acknowledged is lost, and nothing moved in the log.
        leaves = [a.leaf_index for a in acks]
        assert len(set(leaves)) == len(leaves), "two acknowledgements share a leaf index"
        for a in acks:
            r = c.get(
                f"/v1/materials/{a.material_id}",
                headers=bearer((key_for or {}).get(a.material_id, key)),
            )
            assert r.status_code == 200, f"acknowledged material {a.material_id} lost: {r.text}"
            body = r.json()
            assert body["leaf_index"] == a.leaf_index, (a, body["leaf_index"])
            assert body["sm3"] == a.sm3
        # 2. Every checkpoint anchored, roots consistent along the log.
        checkpoints = anchored_checkpoints(c)
        assert checkpoints, "no checkpoint at all"
        pending = [cp["tree_size"] for cp in checkpoints if cp["status"] != "anchored"]
        assert not pending, f"checkpoints never anchored: {pending}"
        sizes = [int(cp["tree_size"]) for cp in checkpoints]
        assert sizes == sorted(set(sizes)), "a tree size was checkpointed twice"
        signed = [parse_signed_checkpoint(cp["checkpoint"]) for cp in checkpoints]
        for before, after in itertools.pairwise(signed):
            a_, b_ = before.checkpoint, after.checkpoint
            proof = c.get(
                "/v1/log/consistency", params={"first": a_.tree_size, "second": b_.tree_size}
            ).json()["proof"]
            verify_consistency(
                sm3, a_.tree_size, b_.tree_size, a_.root, b_.root, [bytes.fromhex(p) for p in proof]
            )
    # 3. The chain agrees, and each checkpoint was anchored by exactly one transaction.
    desc = home.descriptor
    w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
    reader = ChainClient.reader(w3, desc["contract"])
    for cp, s in zip(checkpoints, signed, strict=True):
        on_chain = reader.get_anchor(home.log_id, s.checkpoint.tree_size)
        assert on_chain is not None, f"checkpoint {s.checkpoint.tree_size} not on chain"
        assert on_chain.root == s.checkpoint.root, f"root differs at {s.checkpoint.tree_size}"
        recorded = cp["anchor"]["block_number"]
        assert on_chain.block_number == recorded, "the service recorded another block"
    latest = reader.latest_anchor(home.log_id)
    assert latest is not None and latest.tree_size == sizes[-1], "an anchor the service lost"
    nonce = int(w3.eth.get_transaction_count(desc["chain_account"]))
    assert nonce == len(checkpoints), (
        f"{nonce} anchor transactions for {len(checkpoints)} checkpoints: "
        "a checkpoint was anchored more than once (or a submission failed)"
    )
    return Findings(len(acks), int(status["log_size"]), len(checkpoints), nonce)


@contextlib.contextmanager
def embedded_rpc(chain_dir: Path, chain_id: int) -> Iterator[str]:
    """An embedded chain's read-only JSON-RPC served from this process, from nothing but
    the chain's directory: no service, no database, no keys."""
    from notary.chain.node.embedded import EmbeddedChain
    from notary.chain.node.rpcserver import ReadOnlyRpcServer

    chain = EmbeddedChain.open(chain_dir, chain_id)
    try:
        with ReadOnlyRpcServer(chain) as server:
            yield server.url
    finally:
        chain.close()


# --- a transfer between two hosted units --------------------------------------------------

TRANSFER_STEPS = ("create", "package", "dispatch", "deliver", "verify", "answer")
# How far a transfer got, by the state the API reports (answered: received or rejected).
_PROGRESS = {
    "created": 1,
    "packaged": 2,
    "dispatched": 3,
    "delivered": 4,
    "verified": 5,
    "received": 6,
    "rejected": 6,
}


@dataclass(frozen=True)
class Parties:
    """Two units hosted by the deployment, each with an operator key and a chain account
    of its own (the contract refuses a dispatch to oneself)."""

    sender_key: str
    receiver_key: str
    receiver_code: str
    sender_account: str
    receiver_account: str


def init_transfer_parties(home: Home) -> Parties:
    """Offline, before ``notary serve`` starts: the embedded chain has one writer, and a
    unit's chain account is added by the network admin, whose key only the home holds."""
    from notary.deployment import open_deployment
    from transfer.db.models import UnitKind
    from transfer.db.session import make_engine, write_sessionmaker
    from transfer.roles import Role
    from transfer.security import issue_api_key
    from transfer.services.context import NotaryContext
    from transfer.services.setup import add_unit, settings_for
    from transfer.services.transfer_units import give_chain_account

    settings = settings_for(home.path)
    admin_key = bytes.fromhex((home.path / "keys" / "admin.key").read_text("ascii").strip())
    deployment = open_deployment(home.path, store=settings.store)
    ctx = NotaryContext(deployment, origin=deployment.origin)
    engine = make_engine(settings.database_url_resolved)
    made: list[tuple[str, str]] = []
    try:
        with write_sessionmaker(engine)() as s:
            for code, name in (("TSEND", "故障测试转出单位"), ("TRECV", "故障测试接收单位")):
                unit = add_unit(s, code, name, UnitKind.UNIT, ctx.ensure_unit_key(code).raw.hex())
                account = give_chain_account(s, ctx.deployment, unit, admin_key=admin_key).account
                made.append((issue_api_key(s, unit, Role.OPERATOR, "faults")[1], account))
            s.commit()
    finally:
        engine.dispose()
        ctx.close()
    (sender_key, sender_account), (receiver_key, receiver_account) = made
    return Parties(sender_key, receiver_key, "TRECV", sender_account, receiver_account)


def pdf_that_opens(text: str) -> bytes:
    """:func:`pdf` with a ``startxref``: the receiver's usability check (可用性) opens it."""
    return pdf(text).removesuffix(b"%%EOF\n") + b"startxref\n0\n%%EOF\n"


def problem(r: httpx.Response) -> bool:
    return r.headers.get("content-type", "").startswith("application/problem+json")


@dataclass
class TransferRun:
    """One transfer of a fresh volume from the sender to the receiver, step by step over
    HTTP. ``answer`` is ``accept`` (回执) or ``reject`` (退回)."""

    base: str
    parties: Parties
    answer: str
    transfer_id: str = field(default_factory=lambda: f"tr-faults-{secrets.token_hex(8)}")
    volume_id: str = ""
    acks: list[Ack] = field(default_factory=list)

    def _client(self, receiver: bool) -> httpx.Client:
        key = self.parties.receiver_key if receiver else self.parties.sender_key
        return httpx.Client(base_url=self.base, timeout=60, headers=bearer(key))

    def upload(self, materials: int) -> None:
        with self._client(False) as c:
            r = c.post(
                "/v1/volumes",
                json={
                    "cadre_identifier": f"11010519750101{secrets.randbelow(9999):04d}",
                    "kind": "main",
                },
            )
            r.raise_for_status()
            self.volume_id = str(r.json()["id"])
            for i in range(materials):
                content = pdf_that_opens(f"transfer {self.transfer_id} {i}")
                r = c.post(
                    f"/v1/volumes/{self.volume_id}/materials",
                    data={**META, "seq_no": str(i + 1)},
                    files={"file": ("m.pdf", content, "application/pdf")},
                )
                assert r.status_code == 201, r.text
                body = r.json()
                self.acks.append(Ack(body["id"], int(body["leaf_index"]), body["sm3"]))

    def request(self, step: str) -> httpx.Response:
        """The step's one request (no retry)."""
        receiver = step in ("deliver", "verify", "answer")
        with self._client(receiver) as c:
            if step == "create":
                return c.post(
                    "/v1/transfers",
                    json={
                        "transfer_no": f"故障〔2026〕{self.transfer_id[-6:]}号",
                        "volume_ids": [self.volume_id],
                        "receiver": self.parties.receiver_code,
                        "reason": "故障注入测试",
                        "transfer_id": self.transfer_id,
                    },
                )
            if step == "answer" and self.answer == "reject":
                return c.post(
                    f"/v1/transfers/{self.transfer_id}/rejection",
                    json={"reasons": [{"code": "faults", "detail": "故障注入测试退回"}]},
                )
            path = "receipt" if step == "answer" else step
            return c.post(f"/v1/transfers/{self.transfer_id}/{path}")

    def perform(self, step: str, timeout: float = 60) -> httpx.Response:
        """The step until it is done: packaging answers 503 until every material's
        checkpoint is anchored, and only then."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.request(step)
            if step == "package" and r.status_code == 503 and time.monotonic() < deadline:
                time.sleep(0.2)
                continue
            assert r.status_code in (200, 201), f"{step}: {r.status_code} {r.text[:300]}"
            return r

    def view(self) -> dict[str, Any] | None:
        """The transfer as the sender sees it (None before it exists)."""
        with self._client(False) as c:
            r = c.get(f"/v1/transfers/{self.transfer_id}")
        if r.status_code == 404:
            return None
        assert r.status_code == 200, r.text
        return dict(r.json())

    def timeline(self) -> dict[str, Any]:
        with self._client(False) as c:
            r = c.get(f"/v1/transfers/{self.transfer_id}/timeline")
        assert r.status_code == 200, r.text
        return dict(r.json())

    def progress(self) -> int:
        """How many steps are done (0: not created)."""
        v = self.view()
        return 0 if v is None else _PROGRESS[v["state"]]

    def finish(self) -> None:
        """The remaining steps, from wherever the transfer stands."""
        while (done := self.progress()) < len(TRANSFER_STEPS):
            self.perform(TRANSFER_STEPS[done])

    def key_for_materials(self) -> dict[str, str]:
        """Who reads the transferred materials now: the receiver after a receipt."""
        key = self.parties.receiver_key if self.answer == "accept" else self.parties.sender_key
        return {a.material_id: key for a in self.acks}


def chain_reader(rpc_url: str, home: Home) -> Any:
    from web3 import HTTPProvider, Web3

    from notary.chain.client import ChainClient

    w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
    return ChainClient.reader(w3, home.descriptor["contract"])


def transfer_agrees(run: TransferRun, reader: Any) -> str | None:
    """None when the transfer's state (API) and the volume's custody (chain) agree, else
    what differs. A receipt agrees only once closed (custody moved here too)."""
    from notary.chain.models import CustodyState, Outcome

    v = run.view()
    if v is None:
        return None  # not created: nothing on chain either (checked by the nonces)
    (chain_hex,) = v["chain_volumes"].values()
    vid = bytes.fromhex(chain_hex)
    custody = reader.custody_state(vid)
    state = v["state"]
    p = run.parties
    if state in ("created", "packaged"):
        if custody is not None and custody.state is CustodyState.IN_TRANSIT:
            return f"{state} here, in transit on chain"
        return None
    if custody is None:
        return f"{state} here, volume unknown on chain"
    if state in ("dispatched", "delivered", "verified"):
        sent = custody.in_transit
        if sent is None or sent.addressee != p.receiver_account:
            return f"{state} here, {custody.state.name} on chain"
        if sent.package_root.hex() != v["package_root"]:
            return "another package root on chain"
        return None
    record = reader.get_transfer(vid, custody.transfers)
    want = {
        "received": (Outcome.RECEIVED, p.receiver_account),
        "rejected": (Outcome.REJECTED, p.sender_account),
    }[state]
    if state == "received" and v["closed_at"] is None:
        return "received here, custody move not closed"
    if (record.outcome, custody.custodian) != want or custody.state is not CustodyState.HELD:
        return f"{state} here, {record.outcome.name} held by {custody.custodian} on chain"
    if record.outcome_hash.hex() != v["outcome_hash"]:
        return "the act on chain is not the act here"
    return None


def account_nonce(rpc_url: str, account: str) -> int:
    from web3 import HTTPProvider, Web3

    w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
    return int(w3.eth.get_transaction_count(Web3.to_checksum_address(account)))
