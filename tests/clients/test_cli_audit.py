"""``notary audit``: the 四性 report over the deployment's database and store, with the
chain read over its JSON-RPC while the service runs. Tampering lands in its column."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from notary.entries import decode_entry, encode_entry
from notary.store import LocalStore
from tests._support.served import Service, new_volume, running_service, write_materials
from transfer.db.models import CustodyEvent, CustodyEventKind, LogLeaf, LogSubject, Material
from transfer.db.session import make_engine, write_sessionmaker
from transfer.services.setup import settings_for


def _ingest(service: Service, tmp_path: Path, n: int) -> tuple[str, list[dict[str, Any]]]:
    vol = new_volume(service)
    names = write_materials(tmp_path / "scans", n)
    ups = []
    with service.client() as c:
        for i, name in enumerate(names, 1):
            up = c.upload_material(
                vol,
                tmp_path / "scans" / name,
                category="1",
                seq_no=i,
                pages=1,
                title=f"材料{i}",
                formation_date="2000-01-01",
            )
            ups.append(up.material)
        for m in ups:
            assert c.receipt(str(m["id"]), wait=30).anchored
    return vol, ups


def test_clean_volume_passes_all_four(service: Service, cli: Any, tmp_path: Path) -> None:
    vol, _ = _ingest(service, tmp_path, 2)
    out = tmp_path / "report"
    r = cli(
        "audit", "--home", service.home, "--volume", vol, "--out", out, "--rpc", service.rpc_url
    )
    assert r.code == 0, r.out + r.err
    assert "材料四性检测" in r.err and "日志一致性监测" in r.err  # progress bars
    assert "结论：通过" in r.out and "四性汇总" in r.out
    doc = json.loads((out / "audit-report.json").read_text(encoding="utf-8"))
    # Two registrations and the volume's custody registration.
    assert doc["summary"]["materials"] == 2 and doc["summary"]["proofs_checked"] == 3
    assert doc["summary"]["volumes"] == 1 and doc["summary"]["custody_events"] == 1
    assert doc["summary"]["checkpoints_checked"] >= 1
    assert all(v["passed"] == 2 for v in doc["summary"]["by_property"].values())
    assert "档案四性检测报告" in (out / "audit-report.html").read_text(encoding="utf-8")


def test_flipped_byte_removed_material_and_stale_proof(
    service: Service, cli: Any, tmp_path: Path
) -> None:
    vol, (flipped, removed, stale) = _ingest(service, tmp_path, 3)
    store = LocalStore(service.home / "blocks")
    block = store.block_path(flipped["cid"])
    raw = bytearray(block.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    block.write_bytes(bytes(raw))
    store.block_path(removed["cid"]).unlink()
    # The log entry as stored no longer matches the tree: its proof fails.
    engine = make_engine(settings_for(service.home).database_url_resolved)
    try:
        with write_sessionmaker(engine)() as s:
            leaf_index = s.scalar(
                select(Material.leaf_index).where(Material.id == uuid.UUID(stale["id"]))
            )
            leaf = s.get(LogLeaf, leaf_index)
            assert leaf is not None
            entry = decode_entry(leaf.entry)
            entry["time_ms"] = int(entry["time_ms"]) + 1  # type: ignore[call-overload]
            leaf.entry = encode_entry(entry)
            # The volume's custody record no longer says what was logged for it.
            s.execute(
                update(CustodyEvent)
                .where(CustodyEvent.volume_id == uuid.UUID(vol))
                .values(kind=CustodyEventKind.RETURNED)
            )
            s.commit()
    finally:
        engine.dispose()
    out = tmp_path / "report"
    r = cli(
        "audit",
        "--home",
        service.home,
        "--volume",
        vol,
        "--out",
        out,
        "--json",
        "--rpc",
        service.rpc_url,
    )
    assert r.code == 1, r.err
    doc = json.loads(r.out)
    assert doc["summary"]["result"] == "未通过"
    found = {(p["property"], p["check"], p["subject"].split("（")[0]) for p in doc["problems"]}
    assert found == {
        ("真实性", "content", flipped["id"]),
        ("完整性", "content", removed["id"]),
        ("真实性", "inclusion", stale["id"]),
        ("真实性", "entry", vol),
    }
    by = doc["summary"]["by_property"]
    assert by["可用性"]["problems"] == 0 and by["安全性"]["problems"] == 0
    html = (out / "audit-report.html").read_text(encoding="utf-8")
    assert "未通过" in html and flipped["id"] in html


def test_audit_needs_the_rpc_while_the_service_runs(
    service: Service, cli: Any, tmp_path: Path
) -> None:
    r = cli("audit", "--home", service.home, "--out", tmp_path / "r")
    assert r.code == 2 and r.err.count("\n") == 1 and "--rpc" in r.err
    r = cli("audit", "--home", tmp_path / "nowhere", "--out", tmp_path / "r")
    assert r.code == 2 and "不是部署目录" in r.err
    r = cli(
        "audit",
        "--home",
        service.home,
        "--volume",
        "not-a-uuid",
        "--out",
        tmp_path / "r",
        "--rpc",
        service.rpc_url,
    )
    assert r.code == 2 and r.err.count("\n") == 1


@pytest.mark.slow
def test_audit_with_the_service_stopped_reads_the_embedded_chain(tmp_path: Path, cli: Any) -> None:
    """The default mode: no --rpc, the audit opens the deployment's chain itself."""
    with running_service(tmp_path / "home") as svc:
        _, (good, flipped) = _ingest(svc, tmp_path, 2)
    block = LocalStore(svc.home / "blocks").block_path(flipped["cid"])
    raw = bytearray(block.read_bytes())
    raw[-1] ^= 0x80
    block.write_bytes(bytes(raw))
    r = cli("audit", "--home", svc.home, "--unit", "UNIT-A", "--out", tmp_path / "r", "--json")
    assert r.code == 1, r.err
    doc = json.loads(r.out)
    assert doc["summary"]["proofs_checked"] == 3 and doc["summary"]["checkpoints_checked"] >= 1
    assert [(p["property"], p["subject"].split("（")[0]) for p in doc["problems"]] == [
        ("真实性", flipped["id"])
    ]
    assert good["id"] not in r.out.split('"problems"')[1]


def _change_leaf(service: Service, material_id: str, change: Callable[[Any, int], None]) -> int:
    """``change(session, leaf_index)`` on the material's log entry, behind the service."""
    engine = make_engine(settings_for(service.home).database_url_resolved)
    try:
        with write_sessionmaker(engine)() as s:
            leaf_index = s.scalar(
                select(Material.leaf_index).where(Material.id == uuid.UUID(material_id))
            )
            assert leaf_index is not None
            change(s, leaf_index)
            s.commit()
    finally:
        engine.dispose()
    return leaf_index


def _garble(s: Any, leaf_index: int) -> None:
    leaf = s.get(LogLeaf, leaf_index)
    assert leaf is not None
    leaf.entry = b"{" + leaf.entry[1:-1] + b"!"  # no longer canonical JSON


def _delete(s: Any, leaf_index: int) -> None:
    s.execute(delete(LogLeaf).where(LogLeaf.idx == leaf_index))


def test_an_entry_that_no_longer_parses_is_a_finding_and_the_audit_goes_on(
    service: Service, cli: Any, tmp_path: Path
) -> None:
    vol, (garbled, intact) = _ingest(service, tmp_path, 2)
    _change_leaf(service, garbled["id"], _garble)
    doc = _audit_volume_json(service, cli, tmp_path / "report", vol)
    found = {(p["property"], p["check"], p["subject"].split("（")[0]) for p in doc["problems"]}
    assert ("真实性", "format", garbled["id"]) in found
    # The other material was still checked, and passed.
    assert not any(p["subject"].startswith(intact["id"]) for p in doc["problems"])
    assert doc["summary"]["materials"] == 2


def test_a_deleted_log_entry_is_a_finding_and_the_audit_goes_on(
    service: Service, cli: Any, tmp_path: Path
) -> None:
    vol, (deleted, intact) = _ingest(service, tmp_path, 2)
    leaf_index = _change_leaf(service, deleted["id"], _delete)
    doc = _audit_volume_json(service, cli, tmp_path / "report", vol)
    found = [p for p in doc["problems"] if p["subject"].startswith(deleted["id"])]
    assert [(p["property"], p["check"]) for p in found] == [("真实性", "log-missing")]
    assert f"第 {leaf_index} 号条目" in found[0]["detail"]
    # The other material was still checked, and passed.
    assert not any(p["subject"].startswith(intact["id"]) for p in doc["problems"])
    assert doc["summary"]["materials"] == 2


def _index_row(s: Any, vol: str) -> LogSubject:
    """The log subject index's row of the volume's custody registration."""
    leaf = s.scalar(select(CustodyEvent.leaf_index).where(CustodyEvent.volume_id == uuid.UUID(vol)))
    row = s.scalar(select(LogSubject).where(LogSubject.leaf_index == leaf))
    assert row is not None and row.kind == "custody"
    return row


def _audit_volume_json(service: Service, cli: Any, out: Path, vol: str) -> dict[str, Any]:
    r = cli("audit", "--home", service.home, "--volume", vol, "--out", out, "--json",
            "--rpc", service.rpc_url)  # fmt: skip
    doc: dict[str, Any] = json.loads(r.out)
    assert r.code == (1 if doc["problems"] else 0), r.err
    return doc


def _audit_volume(service: Service, cli: Any, out: Path, vol: str) -> set[tuple[str, str, str]]:
    doc = _audit_volume_json(service, cli, out, vol)
    return {(p["property"], p["check"], p["subject"].split("（")[0]) for p in doc["problems"]}


def test_the_volume_audit_checks_the_log_subject_index_it_reads(
    service: Service, cli: Any, tmp_path: Path
) -> None:
    # A volume audit finds the volume's logged entries through the index, not by a scan
    # of the log; an index row deleted, or pointed at another leaf, is a finding.
    lost, _ = _ingest(service, tmp_path / "a", 1)
    misdirected, (material,) = _ingest(service, tmp_path / "b", 1)
    deleted, _ = _ingest(service, tmp_path / "c", 1)
    both, _ = _ingest(service, tmp_path / "d", 1)
    assert _audit_volume(service, cli, tmp_path / "clean", lost) == set()
    engine = make_engine(settings_for(service.home).database_url_resolved)
    try:
        with write_sessionmaker(engine)() as s:
            s.delete(_index_row(s, lost))
            row = _index_row(s, misdirected)
            row.leaf_index = s.scalar(
                select(Material.leaf_index).where(Material.id == uuid.UUID(material["id"]))
            )
            # The custody row deleted, its index row kept: the index finds the entry.
            s.execute(delete(CustodyEvent).where(CustodyEvent.volume_id == uuid.UUID(deleted)))
            # Both deleted: what the index never listed, the scan of the whole log finds.
            s.delete(_index_row(s, both))
            s.execute(delete(CustodyEvent).where(CustodyEvent.volume_id == uuid.UUID(both)))
            s.commit()
    finally:
        engine.dispose()
    assert _audit_volume(service, cli, tmp_path / "lost", lost) == {("完整性", "log-index", lost)}
    assert _audit_volume(service, cli, tmp_path / "misdirected", misdirected) == {
        ("真实性", "log-index", misdirected),
        ("完整性", "log-index", misdirected),
    }
    assert _audit_volume(service, cli, tmp_path / "deleted", deleted) == {
        ("完整性", "custody-record", deleted)
    }
    doc = json.loads((tmp_path / "lost" / "audit-report.json").read_text(encoding="utf-8"))
    (problem,) = doc["problems"]
    assert "不在日志索引中" in problem["detail"]
    # The volume audit sees a volume without custody records; the whole-log audit (the
    # backstop, unchanged: it scans) names the logged entry whose row is gone.
    assert _audit_volume(service, cli, tmp_path / "both", both) == {
        ("完整性", "custody-record", both)
    }
    r = cli("audit", "--home", service.home, "--out", tmp_path / "all", "--json",
            "--rpc", service.rpc_url)  # fmt: skip
    everything = json.loads(r.out)["problems"]
    assert any(
        p["check"] == "custody-record"
        and p["subject"].startswith(both)
        and "日志序号" in p["detail"]
        for p in everything
    )
    assert not any(p["check"] == "log-index" for p in everything)
