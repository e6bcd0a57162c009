"""``notary audit``'s report lists what it covered: one row per material (类号-序号, 题名,
SM3, CID, custodian, log position, anchored checkpoint, chain tx and block, plain and
cipher sizes, each property's result), per custody event and per read (利用登记), the
tool's version and the chain state it checked against; its counts add up. Each row is
compared with the database; a failing audit marks the material's row."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from notary.store import LocalStore
from tests._support.paper import pdf_text
from tests._support.served import Service, new_volume, write_materials
from transfer.db.models import Material, ReadLogEntry, Unit, Volume
from transfer.db.session import make_engine, read_sessionmaker
from transfer.services.audit_scope import AUDIT_COLUMNS, material_columns
from transfer.services.setup import settings_for

PROPS = ("真实性", "完整性", "可用性", "安全性")


def _ingest(service: Service, tmp_path: Path, n: int) -> tuple[str, list[dict[str, Any]]]:
    vol = new_volume(service)
    names = write_materials(tmp_path / "scans", n)
    ups = []
    with service.client() as c:
        for i, name in enumerate(names, 1):
            up = c.upload_material(
                vol,
                tmp_path / "scans" / name,
                category=str(i),
                seq_no=1,
                pages=i,
                title=f"审计材料{i}",
                formation_date="2001-01-01",
            )
            ups.append(up.material)
        for m in ups:
            assert c.receipt(str(m["id"]), wait=30).anchored
    return vol, ups


def _audit(service: Service, cli: Any, vol: str, out: Path) -> tuple[int, dict[str, Any]]:
    r = cli("audit", "--home", service.home, "--volume", vol, "--out", out, "--json",
            "--rpc", service.rpc_url)  # fmt: skip
    return r.code, json.loads(r.out)


def _db(service: Service, vol: str) -> tuple[list[Material], str, int]:
    """The volume's materials, its custodian's code and its reads, from the database."""
    engine = make_engine(settings_for(service.home).database_url_resolved)
    try:
        with read_sessionmaker(engine)() as s:
            volume = s.get(Volume, uuid.UUID(vol))
            assert volume is not None
            unit = s.get(Unit, volume.custodian_unit_id)
            assert unit is not None
            materials = list(s.scalars(select(Material).where(Material.volume_id == volume.id)))
            reads = len(
                list(
                    s.scalars(
                        select(ReadLogEntry).where(
                            ReadLogEntry.material_id.in_([m.id for m in materials])
                        )
                    )
                )
            )
            s.expunge_all()
            return materials, unit.code, reads
    finally:
        engine.dispose()


def test_the_audit_selects_its_columns_in_the_order_it_reads_them() -> None:
    assert tuple(material_columns().selected_columns.keys()) == AUDIT_COLUMNS


def test_every_material_custody_event_and_read_is_listed(
    service: Service, cli: Any, tmp_path: Path
) -> None:
    vol, ups = _ingest(service, tmp_path, 3)
    with service.client() as c:
        c.download(ups[0]["id"], purpose="干部考察")
        receipts = {m["id"]: c.receipt(m["id"], wait=30).document for m in ups}
    # A later entry anchored (another volume's): the read's entry is anchored too.
    _ingest(service, tmp_path / "later", 1)
    code, doc = _audit(service, cli, vol, tmp_path / "report")
    assert code == 0, doc["problems"]
    materials, custodian, reads = _db(service, vol)

    rows = {r["material_id"]: r for r in doc["materials"]}
    assert set(rows) == {str(m.id) for m in materials}
    for m in materials:
        row, receipt = rows[str(m.id)], receipts[str(m.id)]
        assert receipt is not None
        assert row["designation"] == f"{m.category}-{m.seq_no}-{m.pages}"
        assert row["title"] == m.title and row["sm3"] == m.sm3 and row["cid"] == m.cid
        assert row["custodian"] == custodian and row["leaf_index"] == m.leaf_index
        assert row["checkpoint_tree_size"] == receipt["checkpoint"]["checkpoint"]["tree_size"]
        assert row["chain_tx"] == receipt["anchor"]["tx_hash"]
        assert row["block"] == receipt["anchor"]["block_number"]
        assert row["plain_size"] == m.size and row["sealed_size"] == m.sealed_size
        assert row["results"] == dict.fromkeys(PROPS, "通过") and row["passed"]

    assert doc["format"] == "archive-notary/audit-report/v2"
    s = doc["summary"]
    assert s["materials"] == 3 == s["materials_passed"] + s["materials_with_problems"]
    assert s["materials_with_problems"] == 0
    assert s["plain_bytes_rehashed"] == sum(m.size for m in materials)
    assert s["sealed_bytes_rehashed"] == sum(m.sealed_size for m in materials)
    assert len(doc["custody_events"]) == s["custody_events"] == 1  # the registration
    assert doc["custody_events"][0]["kind"] == "registered"
    read_rows = [r for r in doc["records"] if r["kind"] == "read_log"]
    assert len(read_rows) == reads == s["records"]["read_log"] == 1
    assert read_rows[0]["passed"] is True

    assert doc["tool_version"]
    chain = httpx.get(
        f"{service.url}/v1/chain", headers={"Authorization": f"Bearer {service.keys['UNIT-A']}"}
    ).json()
    assert doc["chain"]["chain_id"] == chain["chain_id"]
    assert doc["chain"]["block_number"] >= max(r["block"] for r in doc["materials"])

    html = (tmp_path / "report" / "audit-report.html").read_text(encoding="utf-8")
    for expected in ("材料明细", "审计材料2", materials[0].sm3, "保管记录", "利用登记", "明文字节"):
        assert expected in html, expected
    pdf = pdf_text(tmp_path / "report" / "audit-report.pdf")
    for expected in (
        "档案四性检测报告",
        "材料明细",
        "3件：通过3件，有问题0件",
        f"检测时链高{doc['chain']['block_number']}",
        *(m.title for m in materials),
        *(m.sm3[:12] for m in materials),
    ):
        assert expected in pdf, expected


def test_a_failing_audit_marks_the_material_and_the_counts_add_up(
    service: Service, cli: Any, tmp_path: Path
) -> None:
    vol, ups = _ingest(service, tmp_path, 3)
    bad = ups[1]
    block = LocalStore(service.home / "blocks").block_path(bad["cid"])
    raw = bytearray(block.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    block.write_bytes(bytes(raw))
    code, doc = _audit(service, cli, vol, tmp_path / "report")
    assert code == 1
    materials, _, _ = _db(service, vol)
    rows = {r["material_id"]: r for r in doc["materials"]}
    row = rows[bad["id"]]
    assert row["passed"] is False and row["checks_failed"] == ["content"]
    assert row["results"]["真实性"] == "未通过" and row["sealed_size"] is None
    assert all(rows[m["id"]]["passed"] for m in ups if m is not bad)
    s = doc["summary"]
    assert (s["materials"], s["materials_passed"], s["materials_with_problems"]) == (3, 2, 1)
    assert s["plain_bytes_rehashed"] == sum(m.size for m in materials if str(m.id) != bad["id"])
    assert s["by_property"]["真实性"] == {"problems": 1, "passed": 2}


def test_a_transferred_volume_lists_its_custody_events_and_transfer_steps(
    service: Service, cli: Any, tmp_path: Path
) -> None:
    vol, _ = _ingest(service, tmp_path, 1)
    with service.client("UNIT-A") as c:
        t = c.create_transfer(
            transfer_no="组转字〔2026〕40号", volume_ids=[vol], receiver="UNIT-B", reason="调动"
        )
    env = {"NOTARY_URL": service.url, "NOTARY_API_KEY": service.keys["UNIT-A"]}
    assert cli("transfer", "send", t["transfer_id"], env=env).code == 0
    _ingest(service, tmp_path / "later", 1)  # the steps' entries are anchored by now
    code, doc = _audit(service, cli, vol, tmp_path / "report")
    assert code == 0, doc["problems"]
    custody = doc["custody_events"]
    assert [r["kind"] for r in custody] == ["registered", "dispatched"]
    assert custody[1]["chain_tx"] and all(r["passed"] for r in custody)
    steps = [r for r in doc["records"] if r["kind"] == "transfer_events"]
    assert steps and all(t["transfer_id"] in r["about"] for r in steps)
    assert len(steps) == doc["summary"]["records"]["transfer_events"]
    assert all(r["passed"] and r["anchor_tx"] for r in steps)
