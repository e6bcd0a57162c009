"""Tamper battery: every stored byte that matters, changed behind the service's back, is
caught — by the verified read, the verify API, the 四性 audit or the log monitor — and
the table of which detector caught what is printed at the end of the run (SECURITY.md §5).

The verify API answers by SM3 from the anchored proofs it verified and cached when it
first served them (``NotaryContext.anchored``): tampering with the database afterwards
does not change its (genuine) answers, and is caught by the read path, the audit or
the monitor instead; only a changed ``materials.sm3`` shows there (``found: false``).

Each case builds a fresh notarised world (``_world.py``), tampers with one thing the
way an insider with database or disk access would (a flipped bit, or a well-formed
substitution that keeps every format valid), and runs every detector. The expected
detectors and checks are the specification: a detector that stops noticing, or a 5xx
instead of a named refusal, fails the case.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update

from notary.anchoring import verify_anchor
from notary.checkpoint import sign_checkpoint
from notary.crypto import SM2PrivateKey, sm3
from notary.deployment import Deployment
from notary.errors import VerificationError
from notary.log.merkle import leaf_hash, node_hash
from notary.receipts import parse_receipt, verify_offline
from notary.store import LocalStore
from tests._support import notary_api as n
from tests._support.api import Cast
from tests._support.transfer_package import Built, FakeChain, Parties, build
from tests.security._world import (
    DETECTIONS,
    Detection,
    World,
    build_world,
    flip_byte,
    flip_hex,
)
from transfer.db.models import (
    Alert,
    Checkpoint,
    CustodyEvent,
    CustodyEventKind,
    LogLeaf,
    LogNode,
    Material,
    MaterialKey,
    ReadLogEntry,
    Transfer,
    TransferEvent,
    Volume,
)
from transfer.workflow.archive import export_tar, import_tar
from transfer.workflow.bag_reader import open_bag
from transfer.workflow.errors import PackageError, TransferError
from transfer.workflow.results import Status
from transfer.workflow.verify import verify_package

# --- tampering with the service's own state ------------------------------------------


def _block(w: World, cid: str) -> Path:
    store = w.deployment.store
    assert isinstance(store, LocalStore)
    return store.block_path(cid)


def flip_block(w: World) -> None:
    path = _block(w, w.a["cid"])
    path.write_bytes(flip_byte(path.read_bytes()))


def delete_block(w: World) -> None:
    _block(w, w.a["cid"]).unlink()


def substitute_block(w: World) -> None:
    _block(w, w.a["cid"]).write_bytes(_block(w, w.b["cid"]).read_bytes())


def _material(w: World, **values: Any) -> None:
    with w.session() as s:
        s.execute(update(Material).where(Material.id == uuid.UUID(w.a["id"])).values(**values))
        s.commit()


def _key_of(w: World, material_id: str) -> bytes:
    with w.session() as s:
        return s.scalars(
            select(MaterialKey.wrapped).where(MaterialKey.material_id == uuid.UUID(material_id))
        ).one()


def _wrapped(w: World, value: bytes) -> None:
    with w.session() as s:
        s.execute(
            update(MaterialKey)
            .where(MaterialKey.material_id == uuid.UUID(w.a["id"]))
            .values(wrapped=value)
        )
        s.commit()


def _leaf(w: World, index: int, change: Callable[[bytes], bytes]) -> None:
    with w.session() as s:
        row = s.get(LogLeaf, index)
        assert row is not None
        row.entry = change(row.entry)
        s.commit()


def _node(w: World, level: int, index: int) -> None:
    with w.session() as s:
        row = s.get(LogNode, (level, index))
        assert row is not None
        row.hash = flip_byte(row.hash, 0)
        s.commit()


def _checkpoint(w: World, size: int, change: Callable[[Checkpoint], None]) -> None:
    with w.session() as s:
        row = s.scalars(select(Checkpoint).where(Checkpoint.tree_size == size)).one()
        change(row)
        s.commit()


def _body(field: str, change: Callable[[str], str]) -> Callable[[Checkpoint], None]:
    def apply(row: Checkpoint) -> None:
        body = {"checkpoint": dict(row.body["checkpoint"]), "signature": row.body["signature"]}
        if field == "signature":
            body["signature"] = change(body["signature"])
        else:
            body["checkpoint"][field] = change(body["checkpoint"][field])
        row.body = body

    return apply


def _flip_b64(sig: str) -> str:
    return sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]


def poison_node_then_append(w: World) -> None:
    """Node (1, 0) — leaves 0 and 1 — is on B's path and in the compact range the next
    append reads: the next checkpoint is signed and anchored over a wrong root."""
    _node(w, 1, 0)
    n.upload(w.client, w.cast.operator, w.volume, n.pdf("after the flip"))
    w.anchor()


def custodian_to_other_unit(w: World) -> None:
    with w.session() as s:
        s.execute(
            update(Volume)
            .where(Volume.id == uuid.UUID(w.volume))
            .values(custodian_unit_id=uuid.UUID(w.cast.other.unit_id))
        )
        s.commit()


def _custody_event(w: World, **values: Any) -> None:
    """The volume's one custody row (registered to U1, leaf 0)."""
    with w.session() as s:
        s.execute(
            update(CustodyEvent)
            .where(CustodyEvent.volume_id == uuid.UUID(w.volume))
            .values(**values)
        )
        s.commit()


def delete_custody_event(w: World) -> None:
    with w.session() as s:
        s.execute(delete(CustodyEvent).where(CustodyEvent.volume_id == uuid.UUID(w.volume)))
        s.commit()


def _read_row(w: World, change: Callable[[], Any]) -> None:
    """A's read (利用登记, leaf 3), anchored, then ``change`` applied to its row."""
    assert w.read() is None
    w.anchor()
    with w.session() as s:
        s.execute(change())
        s.commit()


def _of_a(w: World) -> Any:
    return ReadLogEntry.material_id == uuid.UUID(w.a["id"])


def _transfer_row(w: World, change: Callable[[World], Any]) -> None:
    """A transfer of the volume to U2 created (its ``create`` step, leaf 3), anchored,
    then ``change`` applied to that step's row."""
    r = w.client.post(
        "/v1/transfers",
        json={
            "transfer_no": f"组转字〔2026〕{uuid.uuid4().hex[:8]}号",
            "volume_ids": [w.volume],
            "receiver": w.cast.other.unit_code,
            "reason": "干部调动",
        },
        headers=w.cast.operator.headers,
    )
    assert r.status_code == 201, r.text
    w.transfer = r.json()["transfer_id"]
    w.anchor()
    with w.session() as s:
        s.execute(change(w))
        s.commit()


def _of_transfer(w: World) -> Any:
    pk = select(Transfer.id).where(Transfer.transfer_id == w.transfer).scalar_subquery()
    return TransferEvent.transfer_pk == pk


@dataclass(frozen=True)
class Case:
    target: str
    tamper: str
    apply: Callable[[World], None]
    expected: dict[str, str]


SERVICE_CASES = [
    Case(
        "content: blockstore file of A",
        "one bit flipped",
        flip_block,
        {"audit": "content", "read": "content"},
    ),
    Case(
        "content: blockstore file of A",
        "deleted",
        delete_block,
        {"audit": "content", "read": "content"},
    ),
    Case(
        "content: blockstore file of A",
        "replaced by B's (valid) ciphertext",
        substitute_block,
        {"audit": "content", "read": "content"},
    ),
    Case(
        "materials.sm3",
        "one hex digit changed",
        lambda w: _material(w, sm3=flip_hex(w.a["sm3"])),
        {"audit": "entry,envelope", "verify": "found=false", "read": "envelope"},
    ),
    Case(
        "materials.cid",
        "set to B's CID (valid, stored)",
        lambda w: _material(w, cid=w.b["cid"]),
        {"audit": "entry,envelope", "read": "envelope"},
    ),
    Case(
        "materials.cid",
        "one character changed (unknown CID)",
        lambda w: _material(w, cid=w.a["cid"][:-4] + "aaaa"),
        {"audit": "entry,content", "read": "content"},
    ),
    Case(
        "materials.cid",
        "one character changed (not a CID)",
        lambda w: _material(w, cid=w.a["cid"][:20] + "0" + w.a["cid"][21:]),
        {"audit": "entry,content", "read": "content"},
    ),
    Case(
        "materials.media_type",
        "application/pdf → image/png",
        lambda w: _material(w, media_type="image/png"),
        {"audit": "media-type"},
    ),
    Case(
        "material_keys.wrapped (A)",
        "one bit flipped",
        lambda w: _wrapped(w, flip_byte(_key_of(w, w.a["id"]))),
        {"audit": "envelope", "read": "envelope"},
    ),
    Case(
        "material_keys.wrapped (A)",
        "replaced by B's wrapped key",
        lambda w: _wrapped(w, _key_of(w, w.b["id"])),
        {"audit": "envelope", "read": "envelope"},
    ),
    Case(
        "log_leaves.entry (A)",
        "one hex digit of its sm3 changed (still canonical)",
        lambda w: _leaf(
            w, 1, lambda e: e.replace(w.a["sm3"].encode(), flip_hex(w.a["sm3"]).encode())
        ),
        # A read matches the entry to the material before its proof (one verification).
        {"audit": "entry", "read": "entry"},
    ),
    Case(
        "log_leaves.entry (A)",
        "one byte flipped (not canonical JSON)",
        lambda w: _leaf(w, 1, lambda e: flip_byte(e, 0, 0x20)),
        {"audit": "format", "read": "format"},
    ),
    Case(
        "log_nodes (0, 0)",
        "one bit flipped (A's sibling)",
        lambda w: _node(w, 0, 0),
        {"audit": "inclusion", "read": "inclusion"},
    ),
    Case(
        "log_nodes (1, 0)",
        "one bit flipped, then one more upload anchored",
        poison_node_then_append,
        # The node is also on the proof of the world's read of A (leaf 3, anchored at
        # size 4), which the audit and the provenance's read item re-verify.
        {"monitor": "consistency", "audit": "inclusion", "provenance": "inclusion"},
    ),
    Case(
        "checkpoints.body (size 2)",
        "one hex digit of the root changed",
        lambda w: _checkpoint(w, 2, _body("root", flip_hex)),
        {
            "monitor": "checkpoint-signature,anchor,consistency",
            "audit": "checkpoint-signature",
            "provenance": "checkpoint-signature",  # the volume's custody entry, leaf 0
            "read": "checkpoint-signature",
        },
    ),
    Case(
        "checkpoints.body (size 2)",
        "signature changed",
        lambda w: _checkpoint(w, 2, _body("signature", _flip_b64)),
        {
            "monitor": "checkpoint-signature",
            "audit": "checkpoint-signature",
            "provenance": "checkpoint-signature",  # the volume's custody entry, leaf 0
            "read": "checkpoint-signature",
        },
    ),
    Case(
        "checkpoints.tx_hash (size 2)",
        "one hex digit changed",
        lambda w: _checkpoint(w, 2, lambda r: setattr(r, "tx_hash", flip_hex(r.tx_hash or "", 5))),
        {"audit": "anchor", "read": "anchor"},
    ),
    Case(
        "checkpoints.block_number (size 2)",
        "+1",
        lambda w: _checkpoint(
            w, 2, lambda r: setattr(r, "block_number", (r.block_number or 0) + 1)
        ),
        {"audit": "anchor", "read": "anchor"},
    ),
    Case(
        "volumes.custodian_unit_id",
        "moved to unit U2",
        custodian_to_other_unit,
        # The key is not wrapped for U2, and the logged custody history ends with U1.
        {"audit": "envelope,custody-history"},
    ),
    Case(
        "custody_events.to_unit_id",
        "changed to unit U2",
        lambda w: _custody_event(w, to_unit_id=uuid.UUID(w.cast.other.unit_id)),
        {"audit": "entry,custody-history", "provenance": "entry"},
    ),
    Case(
        "custody_events.kind",
        "registered → received",
        lambda w: _custody_event(w, kind=CustodyEventKind.RECEIVED),
        {"audit": "entry", "provenance": "entry"},
    ),
    Case(
        "custody_events.from_unit_id",
        "set to unit U2",
        lambda w: _custody_event(w, from_unit_id=uuid.UUID(w.cast.other.unit_id)),
        {"audit": "entry", "provenance": "entry"},
    ),
    Case(
        "custody_events (volume's registration)",
        "row deleted",
        delete_custody_event,
        {"audit": "custody-record"},
    ),
    Case(
        "read_log.purpose (A's read)",
        "审核 → 其他",
        lambda w: _read_row(w, lambda: update(ReadLogEntry).where(_of_a(w)).values(purpose="其他")),
        {"audit": "entry", "provenance": "entry"},
    ),
    Case(
        "read_log.unit_id (A's read)",
        "changed to unit U2",
        lambda w: _read_row(
            w,
            lambda: (
                update(ReadLogEntry).where(_of_a(w)).values(unit_id=uuid.UUID(w.cast.other.unit_id))
            ),
        ),
        {"audit": "entry", "provenance": "entry"},
    ),
    Case(
        "read_log (A's read)",
        "row deleted",
        lambda w: _read_row(w, lambda: delete(ReadLogEntry).where(_of_a(w))),
        # Its entry is in the log, its row is not.
        {"audit": "read-record"},
    ),
    Case(
        "transfer_events.to_state (create step)",
        "created → packaged",
        lambda w: _transfer_row(
            w, lambda w: update(TransferEvent).where(_of_transfer(w)).values(to_state="packaged")
        ),
        {"audit": "entry", "timeline": "entry"},
    ),
    Case(
        "transfer_events.event (create step)",
        "create → package",
        lambda w: _transfer_row(
            w, lambda w: update(TransferEvent).where(_of_transfer(w)).values(event="package")
        ),
        {"audit": "entry", "timeline": "entry"},
    ),
    Case(
        "transfer_events (create step)",
        "row deleted",
        lambda w: _transfer_row(w, lambda w: delete(TransferEvent).where(_of_transfer(w))),
        # Its entry is in the log, its row is not.
        {"audit": "transfer-record"},
    ),
]


def _case_id(c: Any) -> str:
    return f"{c.target}: {c.tamper}" if isinstance(c, Case) else str(c)


@pytest.mark.parametrize("case", SERVICE_CASES, ids=_case_id)
def test_service_state_tampering_is_detected(
    case: Case, sclient: TestClient, scast: Cast, deployment: Deployment
) -> None:
    world = build_world(sclient, scast, deployment)
    assert world.all_detectors() == {}, "the untouched world must verify"
    store = deployment.store
    assert isinstance(store, LocalStore)
    saved = {cid: _block(world, cid).read_bytes() for cid in (world.a["cid"], world.b["cid"])}
    try:
        case.apply(world)
        found = world.all_detectors()
    finally:  # the blockstore is shared by the session's tests
        for cid, data in saved.items():
            _block(world, cid).write_bytes(data)
    row = Detection(case.target, case.tamper, found, tuple(case.expected))
    DETECTIONS.append(row)
    assert found == case.expected
    assert row.detected, f"{case.target} / {case.tamper} is not detected"
    if "read" in found:  # a refused read leaves an alert for the security administrator
        with world.session() as s:
            alerts = s.scalars(select(Alert).where(Alert.kind == "integrity")).all()
            assert [a.detail["check"] for a in alerts] == [found["read"]]


# --- tampering with an evidence receipt the holder keeps -------------------------------


def _forged_log(doc: dict[str, Any]) -> None:
    """An outsider's own log key, the checkpoint re-signed with it: offline-valid."""
    key = SM2PrivateKey.generate()
    cp = doc["checkpoint"]["checkpoint"]
    signed = sign_checkpoint(
        key, cp["origin"], cp["tree_size"], bytes.fromhex(cp["root"]), cp["timestamp_ms"]
    )
    doc["checkpoint"] = signed.to_json()
    doc["log_public_key"] = key.public_key.raw.hex()


def _set(path: str, change: Callable[[Any], Any]) -> Callable[[dict[str, Any]], None]:
    def apply(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        obj: Any = doc
        for p in parents:
            obj = obj[int(p)] if p.isdigit() else obj[p]
        key: Any = int(last) if last.isdigit() else last
        obj[key] = change(obj[key])

    return apply


def _drop(name: str) -> Callable[[dict[str, Any]], None]:
    def apply(doc: dict[str, Any]) -> None:
        del doc[name]

    return apply


RECEIPT_CASES = [
    # A receipt without its anchor proves only that some key signed the entry: the one
    # strict reading refuses it as malformed, in the API and the offline verifier alike.
    ("anchor", "removed", _drop("anchor"), "format"),
    ("anchor", "set to null", _set("anchor", lambda v: None), "format"),
    ("entry", "a field added", _set("entry", lambda v: {**v, "note": "补充"}), "format"),
    ("entry.sm3", "one hex digit changed", _set("entry.sm3", flip_hex), "entry"),
    ("entry.size", "+1", _set("entry.size", lambda v: v + 1), "inclusion"),
    (
        "inclusion_proof[0]",
        "one hex digit changed",
        _set("inclusion_proof.0", flip_hex),
        "inclusion",
    ),
    (
        "leaf_index",
        "+1 (another leaf's position)",
        _set("leaf_index", lambda v: v - 1),
        "inclusion",
    ),
    (
        "checkpoint.root",
        "one hex digit changed",
        _set("checkpoint.checkpoint.root", flip_hex),
        "checkpoint-signature",
    ),
    (
        "checkpoint.signature",
        "changed",
        _set("checkpoint.signature", _flip_b64),
        "checkpoint-signature",
    ),
    ("checkpoint + log_public_key", "re-signed with an outsider's key", _forged_log, "anchor"),
    (
        "anchor.tx_hash",
        "one hex digit changed",
        _set("anchor.tx_hash", lambda v: flip_hex(v, 5)),
        "anchor",
    ),
    ("anchor.block_number", "+1", _set("anchor.block_number", lambda v: v + 1), "anchor"),
    ("anchor.chain_id", "another chain", _set("anchor.chain_id", lambda v: v + 1), "anchor"),
]


def test_receipt_tampering_is_detected_by_the_verify_api_and_the_offline_verifier(
    sclient: TestClient, scast: Cast, deployment: Deployment
) -> None:
    world = build_world(sclient, scast, deployment)
    assert world.verify(world.receipt_a) is None
    for target, tamper, apply, check in RECEIPT_CASES:
        doc: dict[str, Any] = {
            **world.receipt_a,
            "entry": dict(world.receipt_a["entry"]),
            "inclusion_proof": list(world.receipt_a["inclusion_proof"]),
            "checkpoint": {
                "checkpoint": dict(world.receipt_a["checkpoint"]["checkpoint"]),
                "signature": world.receipt_a["checkpoint"]["signature"],
            },
            "anchor": dict(world.receipt_a["anchor"]),
        }
        apply(doc)
        found = {"verify": world.verify(doc) or ""}
        try:
            parsed = parse_receipt(doc)
            verify_offline(parsed, material_sm3=bytes.fromhex(world.a["sm3"]))
            verify_anchor(parsed, deployment.chain)
        except VerificationError as e:
            found["offline verifier"] = e.check
        found = {k: v for k, v in found.items() if v}
        DETECTIONS.append(Detection(f"receipt: {target}", tamper, found))
        assert found == {"verify": check, "offline verifier": check}, (target, found)


# --- tampering with a transfer package (bag directory and 机要 tar file) ----------------


@pytest.fixture(scope="module")
def parties() -> Parties:
    return Parties(*(SM2PrivateKey.generate() for _ in range(4)))


def _verify(built: Built, parties: Parties, path: Path) -> str | None:
    """Open the bag against the signed root, then the receiver's 四性 verification."""
    try:
        bag = open_bag(path, expected_root=built.written.package_root)
    except TransferError as e:
        return f"package-open: {type(e).__name__}"
    report = verify_package(
        bag, holder=parties.receiver, dispatch=built.dispatch,
        sender_key=parties.sender.public_key, trusted_log_keys=[parties.log.public_key],
        chain=FakeChain(list(built.evidence.values()), parties.log),
    )  # fmt: skip
    failed = sorted(
        {c.name for m in report.materials for c in m.checks if c.status is Status.FAIL}
        | {c.name for c in report.transfer_checks if c.status is Status.FAIL}
    )
    return f"四性 verify: {','.join(failed)}" if failed else None


PACKAGE_FILES = [
    ("data/materials/m001.sm4", "四性 verify: cid,gcm-tag,manifest"),
    ("data/evidence/m001.json", "四性 verify: log-proof"),
    ("data/envelope.json", "package-open: ManifestMismatch"),
    ("transfer-notice.json", "package-open: ManifestMismatch"),
    ("bag-info.txt", "package-open: ManifestMismatch"),
    ("manifest-sm3.txt", "package-open: ManifestMismatch"),
    ("tagmanifest-sm3.txt", "package-open: PackageRootMismatch"),
]


@pytest.mark.parametrize(("rel", "expected"), PACKAGE_FILES)
def test_package_tampering_is_detected(
    rel: str, expected: str, tmp_path: Path, parties: Parties
) -> None:
    built = build(tmp_path, parties)
    assert _verify(built, parties, built.path) is None
    target = built.path / rel
    data = target.read_bytes()
    # A flipped bit inside the content (past any JSON/manifest syntax it would break).
    target.write_bytes(flip_byte(data, len(data) - 20, 0x01))
    found = _verify(built, parties, built.path)
    detector, _, check = (found or "").partition(": ")
    DETECTIONS.append(
        Detection(f"package (bag): {rel}", "one bit flipped", {detector: check} if found else {})
    )
    assert found == expected


def test_tar_tampering_is_detected(tmp_path: Path, parties: Parties) -> None:
    built = build(tmp_path, parties)
    buf = io.BytesIO()
    export_tar(built.path, buf, top_dir="tr-0001")
    raw = buf.getvalue()
    sealed = (built.path / "data/materials/m002.sm4").read_bytes()
    at = raw.index(sealed) + len(sealed) // 2
    found: dict[str, str] = {}
    try:
        bag = import_tar(
            io.BytesIO(flip_byte(raw, at)), tmp_path / "in",
            expected_root=built.written.package_root,
        )  # fmt: skip
        result = _verify(built, parties, bag.path)
        if result:
            detector, _, check = result.partition(": ")
            found[detector] = check
    except PackageError as e:
        found["package-open"] = type(e).__name__
    DETECTIONS.append(Detection("package (机要 tar): a material's bytes", "one bit flipped", found))
    assert found == {"四性 verify": "cid,gcm-tag,manifest"}


# --- the limit: what the chain anchor does not bound ---------------------------------


def test_known_limit_an_insider_rewrites_an_entry_before_it_is_anchored_undetected(
    sclient: TestClient, scast: Cast, deployment: Deployment
) -> None:
    """SECURITY.md §7: an operator with the database (the log signing key is not even
    needed: the service signs what is stored) can rewrite an entry between its commit
    and the next checkpoint. The rewrite is then signed and anchored as if genuine and
    no detector can tell. The anchor bounds the window: once a checkpoint covering the
    entry is on chain, the same rewrite is detected (the log_leaves/log_nodes cases)."""
    world = build_world(sclient, scast, deployment)
    c = n.upload(sclient, scast.operator, world.volume, n.pdf("C, not yet anchored")).json()
    leaf = c["leaf_index"]
    assert leaf == 3  # the fourth leaf completes the subtrees (1, 1) and (2, 0)
    with world.session() as s:
        row = s.get(LogLeaf, leaf)
        assert row is not None
        row.entry = row.entry.replace(b'"unit":"U1"', b'"unit":"U2"')  # registered by U2
        nodes = {(lv, ix): s.get(LogNode, (lv, ix)) for lv, ix in [(0, 2), (0, 3), (1, 0), (1, 1),
                                                                   (2, 0)]}  # fmt: skip
        nodes[(0, 3)].hash = leaf_hash(sm3, row.entry)  # type: ignore[union-attr]
        for (lv, ix), (left, right) in {(1, 1): ((0, 2), (0, 3)), (2, 0): ((1, 0), (1, 1))}.items():
            parent = nodes[(lv, ix)]
            assert parent is not None
            parent.hash = node_hash(sm3, nodes[left].hash, nodes[right].hash)  # type: ignore[union-attr]
        s.commit()
    world.anchor()
    found = world.detect(
        world.monitor, lambda: world.audit(c["id"]), lambda: world.read(c["id"]),
        names=("monitor", "audit", "read"),
    )  # fmt: skip
    assert found == {}
    receipt = n.wait_receipt(sclient, scast.operator, c["id"], timeout=5)
    assert receipt["entry"]["unit"] == "U2"  # the forged fact, now anchored
