"""The audit re-verifies holdings and puts each finding in the right 四性 column."""

from __future__ import annotations

import io
import json
import struct
import zlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from notary.audit import (
    AUTHENTICITY,
    COMPLETENESS,
    INDEX_CHECK,
    SECURITY,
    USABILITY,
    AuditItem,
    CustodyItem,
    IndexedLeaf,
    LoggedRecord,
    LoggedRecords,
    SubjectIndex,
    VolumeCustody,
    audit_checkpoints,
    audit_custody,
    audit_materials,
    audit_records,
    cited_checkpoints,
    new_report,
    write_report,
)
from notary.checkpoint import sign_checkpoint
from notary.crypto import SM2PrivateKey
from notary.entries import (
    SUBJECT_CUSTODY,
    SUBJECT_READ,
    custody_event,
    decode_entry,
    encode_entry,
    material_read,
    material_registered,
    transfer_event,
)
from notary.envelope import seal, wrap_key
from notary.log import MerkleLog
from notary.reader import MaterialRecord
from notary.receipts import build_receipt
from notary.store import LocalStore


def png(width: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(width))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, width, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


class Holdings:
    def __init__(self, root: Path) -> None:
        self.store = LocalStore(root)
        self.unit, self.log_key = SM2PrivateKey.generate(), SM2PrivateKey.generate()
        self.log = MerkleLog()
        self.items: list[tuple[MaterialRecord, str, dict[str, object]]] = []

    def add(self, material_id: str, data: bytes, media_type: str) -> MaterialRecord:
        s = seal(io.BytesIO(data), material_id)
        cid = self.store.put(b"".join(s.sealed))
        record = MaterialRecord(material_id, s.sm3, cid, wrap_key(s.data_key, self.unit.public_key))
        entry = material_registered(
            material_id=material_id, sm3_hex=s.sm3.hex(), cid=cid, size=len(data),
            category="1", volume="v", unit="U", version=1, time_ms=1,
        )  # fmt: skip
        self.log.append(encode_entry(entry))
        self.items.append((record, media_type, entry))
        return record

    def audit_items(self) -> list[AuditItem]:
        cp = sign_checkpoint(self.log_key, "o", self.log.size, self.log.root(), 1)
        return [
            AuditItem(
                record,
                media_type,
                build_receipt(
                    decode_entry(encode_entry(entry)),
                    i,
                    self.log.inclusion_proof(i),
                    cp,
                    self.log_key.public_key,
                ),
            )
            for i, (record, media_type, entry) in enumerate(self.items)
        ]

    def run(self, items: list[AuditItem] | None = None) -> dict[str, list[str]]:
        report = new_report("test volume")
        audit_materials(
            items or self.audit_items(),
            store=self.store,
            holder=lambda _r: self.unit,
            log_keys=[self.log_key.public_key],
            chain=None,
            report=report,
        )
        self.report = report
        return {p: [x.subject for x in v] for p, v in report.by_property().items()}


@pytest.fixture
def holdings(tmp_path: Path) -> Holdings:
    h = Holdings(tmp_path / "blocks")
    h.add("pdf", PDF, "application/pdf")
    h.add("png", png(), "image/png")
    h.add("photo", png(3), "image/png")
    return h


def _block_of(h: Holdings, record: MaterialRecord) -> Path:
    return h.store.block_path(record.cid)


def test_clean_holdings_pass_all_four(holdings: Holdings) -> None:
    assert holdings.run() == {AUTHENTICITY: [], COMPLETENESS: [], USABILITY: [], SECURITY: []}
    assert holdings.report.passed == dict.fromkeys(
        (AUTHENTICITY, COMPLETENESS, USABILITY, SECURITY), 3
    )


def test_flipped_byte_removed_material_and_stale_proof_land_in_their_columns(
    holdings: Holdings,
) -> None:
    pdf, png_rec, _photo = (r for r, _, _ in holdings.items)
    block = _block_of(holdings, pdf)
    raw = bytearray(block.read_bytes())
    raw[30] ^= 0x40
    block.write_bytes(bytes(raw))
    _block_of(holdings, png_rec).unlink()
    items = holdings.audit_items()
    stale = items[2].receipt
    assert stale is not None
    items[2] = replace(items[2], receipt=replace(stale, leaf_index=0))
    found = holdings.run(items)
    assert found[AUTHENTICITY] == ["pdf", "photo"]
    assert found[COMPLETENESS] == ["png"]
    checks = {p.subject: p.check for p in holdings.report.problems}
    assert checks == {"pdf": "content", "png": "content", "photo": "inclusion"}


def test_unusable_file_and_unopenable_envelope(holdings: Holdings) -> None:
    broken = holdings.add("scan", b"\x89PNG\r\n\x1a\n truncated", "image/png")
    holdings.add("memo", PDF, "application/pdf")
    items = holdings.audit_items()
    other = SM2PrivateKey.generate().public_key
    items[4] = replace(
        items[4], record=replace(items[4].record, wrapped_key=wrap_key(b"k" * 16, other))
    )
    found = holdings.run(items)
    assert found[USABILITY] == [broken.material_id]
    assert found[SECURITY] == ["memo"]


def test_a_forged_signature_is_found_after_the_same_checkpoint_verified_for_others(
    holdings: Holdings,
) -> None:
    # The audit verifies a checkpoint shared by many materials once per run: the
    # materials before and after the forged one carry the genuine signature of the same
    # checkpoint, and the forged one is still checked, and found.
    items = holdings.audit_items()
    genuine = items[1].receipt
    assert genuine is not None
    forged = SM2PrivateKey.generate().sign(genuine.checkpoint.checkpoint.signed_bytes())
    items[1] = replace(
        items[1], receipt=replace(genuine, checkpoint=replace(genuine.checkpoint, signature=forged))
    )
    found = holdings.run(items)
    assert found[AUTHENTICITY] == ["png"]
    assert [p.check for p in holdings.report.problems] == ["checkpoint-signature"]
    assert holdings.report.proofs_checked == 2


def test_log_monitor_detects_a_rewritten_log(holdings: Holdings) -> None:
    log, key = holdings.log, holdings.log_key
    cps = [sign_checkpoint(key, "o", n, log.root(n), n) for n in (1, 2, 3)]
    report = audit_checkpoints(
        cps,
        log.consistency_proof,
        log_key=key.public_key,
        chain_root=None,
        report=new_report("log"),
    )
    assert report.ok and report.checkpoints_checked == 3
    # A forked history: a validly signed checkpoint over a different tree at size 3.
    forked = MerkleLog()
    forked.append_many([b"x", b"y", b"z"])
    cps[2] = sign_checkpoint(key, "o", 3, forked.root(), 3)
    report = audit_checkpoints(
        cps,
        log.consistency_proof,
        log_key=key.public_key,
        chain_root=None,
        report=new_report("log"),
    )
    assert [p.check for p in report.problems] == ["consistency"]
    assert report.problems[0].property == AUTHENTICITY


def test_an_audit_of_some_volumes_monitors_the_checkpoints_its_evidence_cites(
    holdings: Holdings,
) -> None:
    # Leaves 0 and 4 are cited by the checkpoints at sizes 2 and 5, and the newest (8)
    # is always monitored: 3 checkpoints however long the log grows.
    log, key = MerkleLog(), holdings.log_key
    log.append_many([bytes([i]) for i in range(8)])
    cps = [sign_checkpoint(key, "o", n, log.root(n), n) for n in (2, 3, 5, 8)]
    cited = cited_checkpoints(cps, [0, 4])
    assert [c.checkpoint.tree_size for c in cited] == [2, 5, 8]
    report = audit_checkpoints(
        cited,
        log.consistency_proof,
        log_key=key.public_key,
        chain_root=None,
        report=new_report("volume"),
        against_newest=True,
    )
    assert report.ok and report.checkpoints_checked == 3
    # A cited checkpoint over another history is not consistent with the newest.
    forked = MerkleLog()
    forked.append_many([b"x"] * 5)
    cited[1] = sign_checkpoint(key, "o", 5, forked.root(), 5)
    report = audit_checkpoints(
        cited,
        log.consistency_proof,
        log_key=key.public_key,
        chain_root=None,
        report=new_report("volume"),
        against_newest=True,
    )
    assert [(p.check, p.subject) for p in report.problems] == [("consistency", "checkpoints 5→8")]
    assert cited_checkpoints([], [0]) == []


def test_report_is_written_as_json_and_chinese_html(holdings: Holdings, tmp_path: Path) -> None:
    _block_of(holdings, holdings.items[0][0]).unlink()
    holdings.run()
    write_report(holdings.report, tmp_path / "r.json", tmp_path / "r.html")
    doc = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert doc["summary"]["result"] == "未通过"
    assert doc["summary"]["by_property"][COMPLETENESS]["problems"] == 1
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "档案四性检测报告" in page and "完整性" in page


def _custody(h: Holdings, rows: list[dict[str, Any]]) -> tuple[list[CustodyItem], list[int]]:
    """Log one custody entry per row (as the service would), and the items for the audit
    with each row's entry re-derived: a row may then be changed before the audit."""
    leaves = []
    for row in rows:
        leaves.append(h.log.size)
        h.log.append(encode_entry(custody_event(**row)))
    cp = sign_checkpoint(h.log_key, "o", h.log.size, h.log.root(), 1)
    items = [
        CustodyItem(
            subject=f"v（{row['event']}）",
            kind=str(row["event"]),
            to_unit=row.get("to_unit"),
            leaf_index=leaf,
            derived_entry=custody_event(**row),
            receipt=build_receipt(
                decode_entry(encode_entry(custody_event(**row))),
                leaf,
                h.log.inclusion_proof(leaf),
                cp,
                h.log_key.public_key,
            ),
        )
        for leaf, row in zip(leaves, rows, strict=True)
    ]
    return items, leaves


REGISTERED: dict[str, Any] = {"event": "registered", "volume": "v", "to_unit": "U1", "time_ms": 1}
RECEIVED: dict[str, Any] = {
    "event": "received", "volume": "v", "from_unit": "U1", "to_unit": "U2", "time_ms": 2,
    "transfer_id": "t1", "tx": "0x" + "ab" * 32,
}  # fmt: skip
DISPATCHED = {**RECEIVED, "event": "dispatched", "time_ms": 3}


def _audit_custody(h: Holdings, volume: VolumeCustody) -> dict[str, list[str]]:
    report = audit_custody(
        [volume], log_keys=[h.log_key.public_key], chain=None, report=new_report("custody")
    )
    h.report = report
    return {p: [f"{x.check}: {x.subject}" for x in v] for p, v in report.by_property().items()}


def test_custody_history_that_matches_its_log_passes(holdings: Holdings) -> None:
    items, leaves = _custody(holdings, [REGISTERED, RECEIVED, DISPATCHED])
    # A dispatch leaves custody with the sender: U2 holds the volume.
    found = _audit_custody(holdings, VolumeCustody("v", "U2", tuple(items), tuple(leaves)))
    assert found == {AUTHENTICITY: [], COMPLETENESS: [], USABILITY: [], SECURITY: []}
    assert holdings.report.custody_events == 3 and holdings.report.proofs_checked == 3


def test_a_custody_row_that_no_longer_derives_its_entry_is_an_authenticity_finding(
    holdings: Holdings,
) -> None:
    items, leaves = _custody(holdings, [REGISTERED])
    changed = replace(
        items[0],
        to_unit="U2",
        derived_entry=custody_event(**{**REGISTERED, "to_unit": "U2"}),
    )
    found = _audit_custody(holdings, VolumeCustody("v", "U1", (changed,), tuple(leaves)))
    assert found[AUTHENTICITY] == ["entry: v（registered）", "custody-history: v"]
    assert "to: 记录 'U2' ≠ 日志 'U1'" in holdings.report.problems[0].detail


def test_a_deleted_custody_row_and_a_custodian_off_its_history_are_found(
    holdings: Holdings,
) -> None:
    items, leaves = _custody(holdings, [REGISTERED, RECEIVED])
    # The receipt's row deleted: the log still holds its entry, the history ends at U1.
    found = _audit_custody(holdings, VolumeCustody("v", "U2", (items[0],), tuple(leaves)))
    assert found[COMPLETENESS] == ["custody-record: v"]
    assert found[AUTHENTICITY] == ["custody-history: v"]
    # No record at all of a volume the log never mentioned either.
    found = _audit_custody(holdings, VolumeCustody("w", "U1", ()))
    assert found[COMPLETENESS] == ["custody-record: w"]


READ: dict[str, Any] = {"material_id": "m1", "unit": "U1", "purpose": "审核", "time_ms": 5}
STEP: dict[str, Any] = {
    "event": "dispatch", "transfer_id": "t1", "state": "dispatched", "time_ms": 6,
    "package_root": "cd" * 32, "tx": ["0x" + "ef" * 32],
}  # fmt: skip


def _records(h: Holdings) -> tuple[list[LoggedRecord], list[int]]:
    """A logged read and a logged transfer step, as rows re-derived for the audit."""
    entries = [material_read(**READ), transfer_event(**STEP)]
    leaves = []
    for e in entries:
        leaves.append(h.log.size)
        h.log.append(encode_entry(e))
    cp = sign_checkpoint(h.log_key, "o", h.log.size, h.log.root(), 1)
    rows = [
        LoggedRecord(
            subject=f"row {leaf}",
            leaf_index=leaf,
            derived_entry=e,
            receipt=build_receipt(e, leaf, h.log.inclusion_proof(leaf), cp, h.log_key.public_key),
        )
        for leaf, e in zip(leaves, entries, strict=True)
    ]
    return rows, leaves


def _audit_records(h: Holdings, groups: list[LoggedRecords]) -> list[str]:
    report = audit_records(
        groups, log_keys=[h.log_key.public_key], chain=None, report=new_report("records")
    )
    h.report = report
    return [f"{p.property} {p.check}: {p.subject}" for p in report.problems]


def test_read_and_transfer_rows_that_derive_their_entries_pass(holdings: Holdings) -> None:
    (read, step), (r, t) = _records(holdings)
    groups = [
        LoggedRecords("read_log", "m1", (read,), (r,)),
        LoggedRecords("transfer_events", "t1", (step,), (t,)),
    ]
    assert _audit_records(holdings, groups) == []
    assert holdings.report.records == {"read_log": 1, "transfer_events": 1}
    assert holdings.report.to_json()["summary"]["records"] == {
        "read_log": 1,
        "transfer_events": 1,
        "access_events": 0,
    }


def test_a_changed_or_deleted_read_or_transfer_row_is_found(holdings: Holdings) -> None:
    (read, _), (r, t) = _records(holdings)
    changed = replace(read, derived_entry=material_read(**{**READ, "purpose": "其他"}))
    found = _audit_records(
        holdings,
        [
            LoggedRecords("read_log", "m1", (changed,), (r,)),
            LoggedRecords("transfer_events", "t1", (), (t,)),  # the step's row deleted
        ],
    )
    assert found == [f"{AUTHENTICITY} entry: row {r}", f"{COMPLETENESS} transfer-record: t1"]
    assert "purpose: 记录 '其他' ≠ 日志 '审核'" in holdings.report.problems[0].detail


# --- the log's subject index: read by an audit of some volumes, checked, not trusted ----


def _unmatched(h: Holdings, leaf: int, logged: dict[str, Any]) -> IndexedLeaf:
    """A leaf the index lists and no row stands for, as the log holds it (``logged``)."""
    cp = sign_checkpoint(h.log_key, "o", h.log.size, h.log.root(), 1)
    entry = decode_entry(encode_entry(logged))
    receipt = build_receipt(entry, leaf, h.log.inclusion_proof(leaf), cp, h.log_key.public_key)
    return IndexedLeaf(leaf, entry, receipt)


def test_an_index_that_agrees_with_the_rows_and_the_log_passes(holdings: Holdings) -> None:
    items, leaves = _custody(holdings, [REGISTERED, RECEIVED])
    index = SubjectIndex(SUBJECT_CUSTODY, "v", tuple(leaves))
    found = _audit_custody(holdings, VolumeCustody("v", "U2", tuple(items), index=index))
    assert found == {AUTHENTICITY: [], COMPLETENESS: [], USABILITY: [], SECURITY: []}


def test_a_deleted_index_row_is_a_completeness_finding(holdings: Holdings) -> None:
    items, leaves = _custody(holdings, [REGISTERED, RECEIVED])
    index = SubjectIndex(SUBJECT_CUSTODY, "v", (leaves[0],))  # the receipt's row is gone
    found = _audit_custody(holdings, VolumeCustody("v", "U2", tuple(items), index=index))
    assert found[COMPLETENESS] == [f"{INDEX_CHECK}: v"] and found[AUTHENTICITY] == []
    assert f"日志序号 {leaves[1]} 的保管条目不在日志索引中" in holdings.report.problems[0].detail


def test_an_index_row_pointing_at_the_wrong_leaf_is_found(holdings: Holdings) -> None:
    items, leaves = _custody(holdings, [REGISTERED])
    wrong = 0  # the fixture's first material registration, not a custody entry of v
    index = SubjectIndex(
        SUBJECT_CUSTODY, "v", (wrong,), (_unmatched(holdings, wrong, holdings.items[0][2]),)
    )
    found = _audit_custody(holdings, VolumeCustody("v", "U1", tuple(items), index=index))
    # The index lists a leaf that is not v's custody entry, and misses the one that is.
    assert found[AUTHENTICITY] == [f"{INDEX_CHECK}: v"]
    assert found[COMPLETENESS] == [f"{INDEX_CHECK}: v"]
    details = [p.detail for p in holdings.report.problems]
    assert any(f"日志索引把日志序号 {wrong} 列为本对象的保管条目" in d for d in details)
    # Pointing at a leaf the log does not have is the same finding.
    index = SubjectIndex(SUBJECT_CUSTODY, "v", (leaves[0], 999), (IndexedLeaf(999, None),))
    found = _audit_custody(holdings, VolumeCustody("v", "U1", tuple(items), index=index))
    assert found[AUTHENTICITY] == [f"{INDEX_CHECK}: v"] and found[COMPLETENESS] == []


def test_a_deleted_row_is_found_through_the_index_after_its_leaf_is_proven(
    holdings: Holdings,
) -> None:
    items, leaves = _custody(holdings, [REGISTERED, RECEIVED])
    listed = SubjectIndex(
        SUBJECT_CUSTODY,
        "v",
        tuple(leaves),
        (_unmatched(holdings, leaves[1], custody_event(**RECEIVED)),),
    )
    found = _audit_custody(holdings, VolumeCustody("v", "U2", (items[0],), index=listed))
    assert found[COMPLETENESS] == ["custody-record: v"]
    assert found[AUTHENTICITY] == ["custody-history: v"]
    assert holdings.report.proofs_checked == 2  # the row's and the listed leaf's
    # A listed leaf whose proof fails is that finding, not taken as a logged entry.
    bad = _unmatched(holdings, leaves[1], custody_event(**RECEIVED))
    assert bad.receipt is not None
    forged = replace(bad, receipt=replace(bad.receipt, inclusion_proof=(b"\0" * 32,)))
    listed = SubjectIndex(SUBJECT_CUSTODY, "v", tuple(leaves), (forged,))
    found = _audit_custody(holdings, VolumeCustody("v", "U2", (items[0],), index=listed))
    assert found[COMPLETENESS] == []
    assert [(p.check, p.subject) for p in holdings.report.problems][:1] == [("inclusion", "v")]


def test_the_read_log_through_the_index(holdings: Holdings) -> None:
    (read, _), (r, _t) = _records(holdings)
    ok = LoggedRecords("read_log", "m1", (read,), index=SubjectIndex(SUBJECT_READ, "m1", (r,)))
    assert _audit_records(holdings, [ok]) == []
    lost = LoggedRecords("read_log", "m1", (read,), index=SubjectIndex(SUBJECT_READ, "m1", ()))
    assert _audit_records(holdings, [lost]) == [f"{COMPLETENESS} {INDEX_CHECK}: m1"]
    deleted = LoggedRecords(
        "read_log",
        "m1",
        (),
        index=SubjectIndex(
            SUBJECT_READ, "m1", (r,), (_unmatched(holdings, r, material_read(**READ)),)
        ),
    )
    assert _audit_records(holdings, [deleted]) == [f"{COMPLETENESS} read-record: m1"]
