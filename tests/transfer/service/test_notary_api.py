"""The notary API end to end, on an embedded deployment: ingest → receipt → anchored →
verified reads, the verify API, provenance, log proofs. SQLite and PostgreSQL both."""

from __future__ import annotations

import concurrent.futures
import time
import uuid

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from notary.anchoring import rpc_reader, verify_anchor
from notary.chain.node.rpcserver import ReadOnlyRpcServer
from notary.crypto import sm3
from notary.deployment import Deployment
from notary.entries import decode_entry
from notary.log import leaf_hash, verify_consistency, verify_inclusion
from notary.receipts import parse_receipt, verify_offline
from notary.store import LocalStore
from tests._support import notary_api as n
from tests._support.api import Cast
from transfer.api import create_app
from transfer.db.models import Alert, LogLeaf, Material, MaterialKey, ReadLogEntry
from transfer.services.errors import VerificationProblem
from transfer.services.verify import verify_sm3_many
from transfer.settings import Settings


def _counts(engine: Engine) -> tuple[int, int]:
    with Session(engine) as s:
        return (
            s.scalar(select(func.count(Material.id))) or 0,
            s.scalar(select(func.count(LogLeaf.idx))) or 0,
        )


def test_upload_is_durable_then_anchored_and_its_receipt_verifies_on_chain(
    nclient: TestClient, ncast: Cast, deployment: Deployment
) -> None:
    vol = n.new_volume(nclient, ncast.operator)
    content = n.pdf("履历")
    r = n.upload(nclient, ncast.operator, vol, content, category="4-1", seq_no=3, pages=12)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["sm3"] == sm3(content).hex() and body["media_type"] == "application/pdf"
    assert body["leaf_index"] == 1  # leaf 0 is the volume's registration
    assert r.headers["location"] == f"/v1/materials/{body['id']}"
    receipt = n.wait_receipt(nclient, ncast.operator, body["id"])
    parsed = parse_receipt(receipt)
    assert parsed.entry["material_id"] == body["id"] and parsed.entry["unit"] == "U1"
    pinned = [deployment.log_key.public_key]
    verify_offline(parsed, material_sm3=sm3(content), trusted_log_keys=pinned)
    check = verify_anchor(parsed, deployment.chain)
    assert check.block_number == receipt["anchor"]["block_number"]
    # The stand-alone verifier needs nothing but the chain's JSON-RPC.
    assert deployment.embedded is not None
    with ReadOnlyRpcServer(deployment.embedded) as rpc:
        assert (
            verify_anchor(parsed, rpc_reader(parsed, rpc.url)).tx_hash
            == receipt["anchor"]["tx_hash"]
        )
    # Asked again, the same receipt (the smallest anchored checkpoint never changes).
    again = nclient.get(body["receipt_url"], headers=ncast.operator.headers).json()
    assert again == receipt


def test_receipt_is_pending_before_anchoring(
    notary_settings: Settings, clean_engine: Engine, deployment: Deployment, cast: Cast
) -> None:
    settings = notary_settings.model_copy(update={"anchoring_enabled": False})
    app = create_app(settings, engine=clean_engine, deployment=deployment)
    with TestClient(app) as c:
        _host(app, cast)
        vol = n.new_volume(c, cast.operator)
        mid = n.upload(c, cast.operator, vol, n.pdf()).json()["id"]
        r = c.get(f"/v1/materials/{mid}/receipt", headers=cast.operator.headers)
        assert r.status_code == 202 and r.headers["retry-after"] == "1"
        assert r.json() == {"status": "pending", "leaf_index": 1, "receipt": None}
        # One round of the worker: signed, then anchored.
        worker = _worker(app)
        try:
            assert worker.run_once(force=True) == 1
        finally:
            worker.stop()  # releases PostgreSQL's anchoring lock for the next tests
        r = c.get(f"/v1/materials/{mid}/receipt", headers=cast.operator.headers)
        assert r.status_code == 200


def test_content_read_is_verified_and_logged(nclient: TestClient, ncast: Cast, db: Session) -> None:
    vol = n.new_volume(nclient, ncast.operator)
    content = n.png(7)
    mid = n.upload(nclient, ncast.operator, vol, content, filename="scan.png").json()["id"]
    n.wait_receipt(nclient, ncast.operator, mid)
    r = nclient.get(
        f"/v1/materials/{mid}/content",
        params={"purpose": "干部考察"},
        headers=ncast.operator.headers,
    )
    assert r.status_code == 200, r.text
    assert r.content == content and r.headers["content-type"] == "image/png"
    assert r.headers["x-notary-anchored"] == "true"
    assert r.headers["x-notary-checks"] == "content,envelope,sm3,log,anchor"
    row = db.scalars(select(ReadLogEntry)).one()
    assert row.purpose == "干部考察" and str(row.material_id) == mid
    leaf = db.get(LogLeaf, row.leaf_index)
    assert leaf is not None
    entry = decode_entry(leaf.entry)
    assert entry["type"] == "material.read" and entry["material_id"] == mid
    assert entry["unit"] == "U1" and entry["purpose"] == "干部考察"
    db.rollback()
    # purpose is required
    r = nclient.get(f"/v1/materials/{mid}/content", headers=ncast.operator.headers)
    assert r.status_code == 422
    # the audit role reads the read log, not content
    r = nclient.get(
        f"/v1/materials/{mid}/content", params={"purpose": "x"}, headers=ncast.audit.headers
    )
    assert r.status_code == 403
    log = nclient.get("/v1/read-log", headers=ncast.audit.headers).json()
    assert [x["material_id"] for x in log["items"]] == [mid]


def test_content_reads_beyond_the_setting_wait_their_turn(
    notary_settings: Settings, clean_engine: Engine, deployment: Deployment, cast: Cast
) -> None:
    settings = notary_settings.model_copy(update={"content_reads_at_once": 1})
    app = create_app(settings, engine=clean_engine, deployment=deployment)
    limiter = app.state.notary.content_reads
    with TestClient(app) as c, concurrent.futures.ThreadPoolExecutor(1) as pool:
        _host(app, cast)
        vol = n.new_volume(c, cast.operator)
        mid = n.upload(c, cast.operator, vol, n.pdf("排队")).json()["id"]
        assert c.portal is not None
        c.portal.call(limiter.acquire_on_behalf_of, "another read")
        read = pool.submit(
            c.get, f"/v1/materials/{mid}/content", params={"purpose": "审核"},
            headers=cast.operator.headers,
        )  # fmt: skip
        time.sleep(1.0)
        assert not read.done()  # the only admission is taken
        c.portal.call(limiter.release_on_behalf_of, "another read")
        assert read.result(timeout=30).status_code == 200


def test_tampered_block_is_refused_naming_the_check_and_raises_an_alert(
    nclient: TestClient, ncast: Cast, db: Session, deployment: Deployment
) -> None:
    vol = n.new_volume(nclient, ncast.operator)
    body = n.upload(nclient, ncast.operator, vol, n.pdf("tamper")).json()
    assert isinstance(deployment.store, LocalStore)
    path = deployment.store.block_path(body["cid"])
    original = path.read_bytes()
    damaged = bytearray(original)
    damaged[len(damaged) // 2] ^= 0x01
    path.write_bytes(bytes(damaged))
    try:
        r = nclient.get(
            f"/v1/materials/{body['id']}/content",
            params={"purpose": "审核"},
            headers=ncast.operator.headers,
        )
    finally:
        path.write_bytes(original)
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["type"] == "urn:archive-notary:problem:verification-content"
    assert problem["check"] == "content"
    alert = db.scalars(select(Alert)).one()
    assert alert.kind == "integrity" and str(alert.material_id) == body["id"]
    assert alert.detail["check"] == "content"
    assert db.scalar(select(func.count(ReadLogEntry.id))) == 0  # a refused read is no read
    seen = nclient.get("/v1/alerts", headers=ncast.security.headers).json()["items"]
    assert seen[0]["detail"]["check"] == "content"


def test_bad_uploads_are_refused_and_write_nothing(
    notary_settings: Settings, clean_engine: Engine, deployment: Deployment, cast: Cast
) -> None:
    settings = notary_settings.model_copy(update={"upload_max_bytes": 4096})
    app = create_app(settings, engine=clean_engine, deployment=deployment)
    with TestClient(app) as c:
        _host(app, cast)
        vol = n.new_volume(c, cast.operator)
        before = _counts(clean_engine)
        big = n.pdf() + b"\x00" * 5000
        r = n.upload(c, cast.operator, vol, big)
        assert r.status_code == 413 and r.json()["type"].endswith("payload-too-large")
        exe = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200
        r = n.upload(c, cast.operator, vol, exe, filename="resume.pdf")
        assert r.status_code == 415 and r.json()["type"].endswith("unsupported-media-type")
        plain_zip = n.ofd().replace(b"OFD.xml", b"ABC.xml")
        r = n.upload(c, cast.operator, vol, plain_zip, filename="x.ofd")
        assert r.status_code == 415
        r = n.upload(c, cast.operator, vol, n.pdf(), category="11")
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "category"]
        r = n.upload(c, cast.operator, vol, n.pdf(), headers={"X-Content-SM3": "zz"})
        assert r.status_code == 400
        r = n.upload(c, cast.operator, vol, n.pdf(), headers={"X-Content-SM3": "ab" * 32})
        assert r.status_code == 422 and r.json()["type"].endswith("sm3-mismatch")
        r = n.upload(c, cast.operator, str(uuid.uuid4()), n.pdf())
        assert r.status_code == 404
        r = n.upload(c, cast.other, vol, n.pdf())  # another unit's volume
        assert r.status_code == 404
        r = n.upload(c, cast.admin, vol, n.pdf())  # administrators hold no archive data
        assert r.status_code == 403
        r = c.post(f"/v1/volumes/{vol}/materials", headers=cast.operator.headers, json={})
        assert r.status_code == 400
        assert _counts(clean_engine) == before
        # OFD (a ZIP with OFD.xml at its root) and a declared SM3 are accepted.
        doc = n.ofd()
        r = n.upload(
            c, cast.operator, vol, doc, filename="x.ofd", headers={"X-Content-SM3": sm3(doc).hex()}
        )
        assert r.status_code == 201, r.text
        assert r.json()["media_type"] == "application/ofd"


def test_a_correction_is_a_new_version_and_history_is_kept(
    nclient: TestClient, ncast: Cast, db: Session
) -> None:
    vol = n.new_volume(nclient, ncast.operator)
    v1 = n.upload(nclient, ncast.operator, vol, n.pdf("v1")).json()
    v2 = n.upload(nclient, ncast.operator, vol, n.pdf("v2"), supersedes=v1["id"]).json()
    assert v2["version"] == 2 and v2["supersedes_id"] == v1["id"]
    assert v2["lineage_id"] == v1["id"]
    r = n.upload(nclient, ncast.operator, vol, n.pdf("v2b"), supersedes=v1["id"])
    assert r.status_code == 409
    detail = nclient.get(f"/v1/materials/{v1['id']}", headers=ncast.operator.headers).json()
    assert [v["version"] for v in detail["versions"]] == [1, 2] and detail["current"] is False
    assert db.scalar(select(func.count(MaterialKey.id))) == 2


def test_verify_api_by_file_sm3_and_receipt(
    nclient: TestClient, ncast: Cast, deployment: Deployment
) -> None:
    vol = n.new_volume(nclient, ncast.operator)
    content = n.pdf("verify")
    mid = n.upload(nclient, ncast.operator, vol, content).json()["id"]
    receipt = n.wait_receipt(nclient, ncast.operator, mid)
    h = ncast.audit.headers  # auditors verify too

    by_sm3 = nclient.post("/v1/verify", json={"sm3": sm3(content).hex()}, headers=h).json()
    assert by_sm3["found"] is True and by_sm3["anchored"] is True
    reg = by_sm3["registrations"][0]
    assert reg["material_id"] == mid and reg["unit"] == "U1" and reg["version"] == 1
    assert reg["chain"] == receipt["anchor"] and reg["receipt"] == receipt
    assert reg["checkpoint"]["tree_size"] == receipt["checkpoint"]["checkpoint"]["tree_size"]

    by_file = nclient.post("/v1/verify", files={"file": ("a.pdf", content)}, headers=h).json()
    assert by_file == by_sm3

    unknown = nclient.post("/v1/verify", json={"sm3": "00" * 32}, headers=h)
    assert unknown.status_code == 200 and unknown.json()["found"] is False

    ok = nclient.post("/v1/verify", json={"receipt": receipt, "sm3": sm3(content).hex()}, headers=h)
    assert ok.status_code == 200, ok.text
    assert ok.json()["valid"] is True and ok.json()["anchored"] is True
    assert ok.json()["this_log"] is True and ok.json()["registration"]["material_id"] == mid

    tampered = {**receipt, "entry": {**receipt["entry"], "size": receipt["entry"]["size"] + 1}}
    r = nclient.post("/v1/verify", json={"receipt": tampered}, headers=h)
    assert r.status_code == 422
    assert r.json()["type"] == "urn:archive-notary:problem:verification-inclusion"
    wrong_block = {**receipt, "anchor": {**receipt["anchor"], "block_number": 1}}
    r = nclient.post("/v1/verify", json={"receipt": wrong_block}, headers=h)
    assert r.status_code == 422 and r.json()["check"] == "anchor"
    r = nclient.post("/v1/verify", json={"receipt": receipt, "sm3": "11" * 32}, headers=h)
    assert r.json()["check"] == "entry"
    r = nclient.post("/v1/verify", json={"receipt": {"format": "nope"}}, headers=h)
    assert r.status_code == 422 and r.json()["check"] == "format"
    r = nclient.post("/v1/verify", json={"sm3": "xyz"}, headers=h)
    assert r.status_code == 422
    r = nclient.post("/v1/verify", json={"sm3": "00" * 32}, headers=ncast.admin.headers)
    assert r.status_code == 403


def test_concurrent_verify_calls_each_get_the_answer_for_their_own_digest(
    nclient: TestClient, ncast: Cast
) -> None:
    # Concurrent lookups are batched into shared database calls (transfer/api/batching.py).
    vol = n.new_volume(nclient, ncast.operator)
    known = {}
    for i in range(3):
        content = n.pdf(f"batched {i}")
        mid = n.upload(nclient, ncast.operator, vol, content, seq_no=i + 1).json()["id"]
        n.wait_receipt(nclient, ncast.operator, mid)
        known[sm3(content).hex()] = mid
    asked = [*known, *(f"{i:064x}" for i in range(3))] * 10

    def one(digest: str) -> tuple[str, dict[str, object]]:
        r = nclient.post("/v1/verify", json={"sm3": digest}, headers=ncast.audit.headers)
        assert r.status_code == 200, r.text
        return digest, r.json()

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(one, asked))
    for digest, body in answers:
        assert body["sm3"] == digest and body["found"] is (digest in known)
        mids = [reg["material_id"] for reg in body["registrations"]]  # type: ignore[attr-defined]
        assert mids == ([known[digest]] if digest in known else [])


def test_a_digest_whose_stored_evidence_fails_gets_its_own_problem(
    nclient: TestClient, ncast: Cast, db: Session
) -> None:
    vol = n.new_volume(nclient, ncast.operator)
    good, bad = n.pdf("good"), n.pdf("bad")
    ids = [n.upload(nclient, ncast.operator, vol, c, seq_no=i).json()["id"]
           for i, c in enumerate((good, bad), 1)]  # fmt: skip
    receipts = [n.wait_receipt(nclient, ncast.operator, mid) for mid in ids]
    leaf = db.get(LogLeaf, receipts[1]["leaf_index"])
    assert leaf is not None
    leaf.entry = leaf.entry.replace(b"}", b" }", 1)
    db.commit()

    state = nclient.app.state.notary  # type: ignore[attr-defined]
    asked = [sm3(good), sm3(bad), b"\0" * 32, sm3(good)]
    answers = verify_sm3_many(state, state.notary, asked)
    assert isinstance(answers[0], dict) and answers[0]["anchored"] is True
    assert isinstance(answers[1], VerificationProblem) and answers[1].own_evidence
    assert isinstance(answers[2], dict) and answers[2]["found"] is False
    assert answers[3] == answers[0]
    r = nclient.post("/v1/verify", json={"sm3": sm3(bad).hex()}, headers=ncast.audit.headers)
    assert r.status_code == 409 and r.json()["check"] == answers[1].check
    r = nclient.post("/v1/verify", json={"sm3": sm3(good).hex()}, headers=ncast.audit.headers)
    assert r.status_code == 200 and r.json()["anchored"] is True


def test_provenance_lists_registration_versions_and_reads_with_proofs(
    nclient: TestClient, ncast: Cast
) -> None:
    vol = n.new_volume(nclient, ncast.operator)
    v1 = n.upload(nclient, ncast.operator, vol, n.pdf("p1")).json()
    v2 = n.upload(nclient, ncast.operator, vol, n.pdf("p2"), supersedes=v1["id"]).json()
    n.wait_receipt(nclient, ncast.operator, v2["id"])
    r = nclient.get(
        f"/v1/materials/{v2['id']}/content",
        params={"purpose": "复核"},
        headers=ncast.operator.headers,
    )
    assert r.status_code == 200
    timeline = nclient.get(
        f"/v1/materials/{v1['id']}/provenance", headers=ncast.operator.headers
    ).json()["items"]
    assert [i["kind"] for i in timeline] == [
        "custody.registered",
        "registered",
        "corrected",
        "read",
    ]
    assert [i["leaf_index"] for i in timeline] == [0, 1, 2, 3]
    assert timeline[1]["proof"]["anchored"] is True
    assert timeline[1]["receipt_url"] == f"/v1/materials/{v1['id']}/receipt"
    assert timeline[3]["purpose"] == "复核" and timeline[3]["unit"] == "U1"
    # The custody fact is served with its logged entry and an evidence receipt that
    # verifies on its own, and the row was checked against that entry.
    custody = timeline[0]
    assert custody["verification"] == {"ok": True, "check": None, "detail": None}
    assert custody["entry"]["event"] == "registered" and custody["entry"]["to"] == "U1"
    receipt = parse_receipt(custody["receipt"])
    assert receipt.entry == custody["entry"] and receipt.leaf_index == 0
    verify_offline(receipt)
    vol_items = nclient.get(f"/v1/volumes/{vol}/provenance", headers=ncast.operator.headers).json()
    assert [i["kind"] for i in vol_items["items"]] == [i["kind"] for i in timeline]
    assert (
        nclient.get(f"/v1/volumes/{vol}/provenance", headers=ncast.other.headers).status_code == 404
    )


def test_log_proofs_verify_with_notary_log(nclient: TestClient, ncast: Cast, db: Session) -> None:
    vol = n.new_volume(nclient, ncast.operator)
    for i in range(4):
        n.upload(nclient, ncast.operator, vol, n.pdf(f"log {i}"), seq_no=i + 1)
    h = ncast.audit.headers
    r = nclient.get("/v1/log/inclusion", params={"leaf_index": 2, "tree_size": 5}, headers=h)
    proof = r.json()
    entry = db.get(LogLeaf, 2)
    assert entry is not None
    assert proof["leaf_hash"] == leaf_hash(sm3, entry.entry).hex()
    db.rollback()  # the fixture's session holds SQLite's write lock until it ends
    verify_inclusion(
        sm3, 2, 5, bytes.fromhex(proof["leaf_hash"]), [bytes.fromhex(p) for p in proof["proof"]],
        bytes.fromhex(proof["root"]),
    )  # fmt: skip
    c = nclient.get("/v1/log/consistency", params={"first": 2, "second": 5}, headers=h).json()
    verify_consistency(
        sm3, 2, 5, bytes.fromhex(c["first_root"]), bytes.fromhex(c["second_root"]),
        [bytes.fromhex(p) for p in c["proof"]],
    )  # fmt: skip
    r = nclient.get("/v1/log/inclusion", params={"leaf_index": 5, "tree_size": 5}, headers=h)
    assert r.status_code == 422
    deadline = time.monotonic() + 20
    while True:
        latest = nclient.get("/v1/log/checkpoints/latest?anchored=true", headers=h)
        if latest.status_code == 200 and latest.json()["tree_size"] == 5:
            break
        assert time.monotonic() < deadline, nclient.get("/v1/log/checkpoints", headers=h).text
        time.sleep(0.05)
    assert latest.json()["root"] == proof["root"] and latest.json()["anchor"]["tx_hash"]
    page = nclient.get("/v1/log/checkpoints", params={"limit": 1}, headers=h).json()
    assert page["items"][0]["tree_size"] == 5
    assert nclient.get("/v1/log/checkpoints").status_code == 401


def test_fifty_concurrent_uploads_are_all_present_gapless_and_anchored(
    nclient: TestClient, ncast: Cast, db: Session
) -> None:
    vol = n.new_volume(nclient, ncast.operator)

    def one(i: int) -> dict[str, object]:
        r = n.upload(nclient, ncast.operator, vol, n.pdf(f"concurrent {i}"), seq_no=i + 1)
        assert r.status_code == 201, r.text
        return dict(r.json())

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        acked = list(pool.map(one, range(50)))
    elapsed = time.perf_counter() - start
    leaves = sorted(int(str(a["leaf_index"])) for a in acked)
    assert leaves == list(range(1, 51))  # unique and gapless (leaf 0: the volume)
    rows = {str(m.id): m.leaf_index for m in db.scalars(select(Material))}
    assert rows == {str(a["id"]): a["leaf_index"] for a in acked}
    db.rollback()  # the fixture's session holds SQLite's write lock until it ends
    for a in acked:
        receipt = n.wait_receipt(nclient, ncast.operator, str(a["id"]))
        assert receipt["leaf_index"] == a["leaf_index"]
    print(f"\n50 concurrent uploads: {elapsed:.2f} s")


def test_health_and_metrics_cover_store_chain_and_anchoring(
    nclient: TestClient, ncast: Cast
) -> None:
    vol = n.new_volume(nclient, ncast.operator)
    n.upload(nclient, ncast.operator, vol, n.pdf("metrics"))
    body = nclient.get("/v1/health").json()
    assert body["status"] == "ok", body
    assert set(body["checks"]) == {"database", "process", "store", "chain", "anchoring"}
    assert body["checks"]["anchoring"]["detail"]["worker"] == "active"
    text = nclient.get("/metrics").text
    assert "notary_uploads_total 1.0" in text
    assert "notary_anchoring_lag_seconds" in text and "notary_pending_checkpoints" in text


def _host(app: object, cast: Cast) -> None:
    """Give U1 and U2 hosted envelope keys (what registering them through the API does)."""
    from transfer.db.models import Unit

    state = app.state.notary  # type: ignore[attr-defined]
    with state.write_sessions() as s:
        for actor in (cast.operator, cast.other):
            unit = s.get(Unit, uuid.UUID(actor.unit_id))
            key = state.notary.ensure_unit_key(unit.code)
            unit.public_key_hex = key.raw.hex()
            unit.key_fingerprint = key.fingerprint().hex()
        s.commit()


def _worker(app: object):  # type: ignore[no-untyped-def]
    from transfer.services.anchoring import AnchoringWorker

    state = app.state.notary  # type: ignore[attr-defined]
    ctx = state.notary
    return AnchoringWorker(
        state.engine,
        state.sessions,
        state.write_sessions,
        signer=ctx.deployment.log_key,
        origin=ctx.origin,
        chain=ctx.deployment.chain,
        interval_s=1.0,
        max_entries=1000,
    )
