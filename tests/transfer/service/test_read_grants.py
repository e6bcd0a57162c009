"""在线阅档 (issue 19): 查阅申请 → 审批 → a time-limited grant, enforced on every content
and page read, each read logged with the grant; every step an anchored access event.

The people: U1 (an archive centre, operator ``ncast.operator``) holds the volumes; U2's
operator (``ncast.other``) holds nothing of them; a reader of 市纪委 (unit RD) applies;
the three administrators of ORG. Reads are real: uploaded, anchored, decrypted and
verified by the deployment.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from notary.audit import audit_records, new_report
from notary.entries import decode_entry
from tests._support import notary_api as n
from tests._support.api import Actor, Cast
from transfer.db.models import LogLeaf, ReadLogEntry, Unit, UnitKind
from transfer.db.types import utcnow
from transfer.roles import Role
from transfer.security import issue_api_key
from transfer.services.record_audit import logged_records


def two_page_pdf() -> bytes:
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    c = canvas.Canvas(out)
    for text in ("page one", "page two"):
        c.drawString(100, 700, text)
        c.showPage()
    c.save()
    return out.getvalue()


@dataclass
class Archive:
    """U1's volume: 1-1 a two-page PDF, 4-1-1 a PNG scan, 10-1 a PDF; and a second
    volume of U1 with one material."""

    volume: str
    pdf: str
    png: str
    png_bytes: bytes
    ten: str
    other_volume: str
    other_material: str


@pytest.fixture
def reader(ncast: Cast, db: Session) -> Actor:
    unit = Unit(code="RD", name="市纪委监委", kind=UnitKind.AUDITOR)
    db.add(unit)
    db.flush()
    _, key = issue_api_key(db, unit, Role.READER, "查阅人")
    db.commit()
    return Actor(unit.code, Role.READER, key, unit_id=str(unit.id))


@pytest.fixture
def archive(nclient: TestClient, ncast: Cast) -> Archive:
    op = ncast.operator
    vol = n.new_volume(nclient, op, "110105194912310020")
    png = n.png(3)
    ids = [
        n.upload(nclient, op, vol, content, filename=name, category=cat, seq_no=seq).json()["id"]
        for content, name, cat, seq in (
            (n.pdf("ten"), "ten.pdf", "10", 1),
            (png, "scan.png", "4-1", 1),
            (two_page_pdf(), "cv.pdf", "1", 1),
        )
    ]
    other = n.new_volume(nclient, op, "110105195001010011")
    other_id = n.upload(nclient, op, other, n.pdf("other")).json()["id"]
    n.wait_receipt(nclient, op, other_id)
    return Archive(vol, ids[2], ids[1], png, ids[0], other, other_id)


def in_days(days: float) -> str:
    return (utcnow() + timedelta(days=days)).isoformat()


def apply(c: TestClient, who: Actor, volumes: list[str], categories: list[str], **over: Any) -> Any:
    body = {
        "volume_ids": volumes,
        "categories": categories,
        "purpose": "干部任前审核",
        "expires_at": in_days(7),
    } | over
    return c.post("/v1/read-grants", json=body, headers=who.headers)


def granted(c: TestClient, cast: Cast, reader: Actor, archive: Archive) -> dict[str, Any]:
    r = apply(c, reader, [archive.volume], ["1", "4-1"])
    assert r.status_code == 201, r.text
    r = c.post(f"/v1/read-grants/{r.json()['id']}/approve", headers=cast.operator.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


def read(c: TestClient, who: Actor, material: str) -> Any:
    return c.get(
        f"/v1/materials/{material}/content", params={"purpose": "查阅"}, headers=who.headers
    )


def refusal(r: Any) -> tuple[int, str, str]:
    body = r.json()
    return r.status_code, body.get("reason", ""), body.get("detail", "")


def test_a_reader_reads_nothing_before_an_approved_grant(
    nclient: TestClient, ncast: Cast, reader: Actor, archive: Archive
) -> None:
    status, reason, detail = refusal(read(nclient, reader, archive.pdf))
    assert (status, reason) == (403, "no-grant") and "没有查阅该案卷的授权" in detail
    # A reader has no volume list, no metadata, no read log.
    for path in ("/v1/volumes", f"/v1/materials/{archive.pdf}", "/v1/read-log"):
        assert nclient.get(path, headers=reader.headers).status_code == 403, path
    r = apply(nclient, reader, [archive.volume], ["1"])
    assert r.status_code == 201, r.text
    grant = r.json()
    assert grant["state"] == "pending" and grant["holder_unit_code"] == "U1"
    assert grant["reader_unit_code"] == "RD" and grant["categories"] == ["1"]
    status, reason, detail = refusal(read(nclient, reader, archive.pdf))
    assert (status, reason) == (403, "pending") and "尚未审批" in detail


def test_only_an_operator_of_the_holding_unit_decides(
    nclient: TestClient, ncast: Cast, reader: Actor, archive: Archive
) -> None:
    grant = apply(nclient, reader, [archive.volume], ["1"]).json()
    approve = f"/v1/read-grants/{grant['id']}/approve"
    # Not the three administrators (they read no archive data), not the reader, not
    # another unit's operator.
    for who in (ncast.admin, ncast.security, ncast.audit, reader):
        assert nclient.post(approve, headers=who.headers).status_code == 403, who.role
    r = nclient.post(approve, headers=ncast.other.headers)
    assert r.status_code == 403 and r.json()["rule"] == "holder-decides"
    assert "保管" in r.json()["detail"]
    r = nclient.post(approve, headers=ncast.operator.headers)
    assert r.status_code == 200 and r.json()["state"] == "approved", r.text
    assert r.json()["decided_by_key_id"] is not None
    # Decided once: approving or refusing again is a conflict named in Chinese.
    r = nclient.post(f"/v1/read-grants/{grant['id']}/refuse", headers=ncast.operator.headers)
    assert r.status_code == 409 and "有效" in r.json()["detail"]


def test_a_reader_reads_granted_categories_verified_and_logged_with_the_grant(
    nclient: TestClient, ncast: Cast, reader: Actor, archive: Archive, db: Session
) -> None:
    grant = granted(nclient, ncast, reader, archive)
    r = read(nclient, reader, archive.png)
    assert r.status_code == 200, r.text
    assert r.content == archive.png_bytes
    assert r.headers["x-notary-checks"] == "content,envelope,sm3,log,anchor"
    row = db.scalars(select(ReadLogEntry).where(ReadLogEntry.grant_id.is_not(None))).one()
    assert str(row.grant_id) == grant["id"] and str(row.material_id) == archive.png
    leaf = db.get(LogLeaf, row.leaf_index)
    assert leaf is not None
    entry = decode_entry(leaf.entry)
    # 利用登记: the grant's purpose and id, and the reader's unit, in the logged entry.
    assert entry["type"] == "material.read" and entry["material_id"] == archive.png
    assert entry["purpose"] == f"干部任前审核（查阅授权 {grant['id']}，查阅单位 RD）"
    db.rollback()
    log = nclient.get("/v1/read-log", headers=ncast.audit.headers).json()["items"]
    assert [(x["material_id"], x["grant_id"]) for x in log] == [(archive.png, grant["id"])]
    # The volume's granted materials, in 类号-序号 order (1 before 4-1; 10 not granted).
    listed = nclient.get(f"/v1/read-grants/{grant['id']}/materials", headers=reader.headers)
    assert [m["id"] for m in listed.json()] == [archive.pdf, archive.png]


def test_pages_are_verified_reads_rendered_for_the_browser(
    nclient: TestClient, ncast: Cast, reader: Actor, archive: Archive, db: Session
) -> None:
    granted(nclient, ncast, reader, archive)
    r = nclient.get(f"/v1/materials/{archive.pdf}/pages/2", headers=reader.headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png" and r.content.startswith(b"\x89PNG")
    assert (r.headers["x-page"], r.headers["x-page-count"]) == ("2", "2")
    assert r.headers["x-notary-anchored"] == "true"
    from PIL import Image

    image = Image.open(io.BytesIO(r.content))
    assert image.width == 1240 and image.height > image.width  # A4 portrait at ~150 dpi
    r = nclient.get(f"/v1/materials/{archive.png}/pages/1", headers=reader.headers)
    assert r.status_code == 200 and r.content == archive.png_bytes  # an image as it is
    r = nclient.get(f"/v1/materials/{archive.pdf}/pages/3", headers=reader.headers)
    assert r.status_code == 404 and r.json()["detail"] == "第 3 页不存在（共 2 页）。"
    # Each page shown is a read in the log (the refused page 3 was read, then not found).
    assert len(db.scalars(select(ReadLogEntry)).all()) == 3
    db.rollback()
    # The holding unit's operator reads pages too, naming a purpose.
    r = nclient.get(f"/v1/materials/{archive.pdf}/pages/1", headers=ncast.operator.headers)
    assert r.status_code == 422
    r = nclient.get(
        f"/v1/materials/{archive.pdf}/pages/1",
        params={"purpose": "整理"},
        headers=ncast.operator.headers,
    )
    assert r.status_code == 200 and r.headers["x-page-count"] == "2"


def test_a_category_not_granted_and_another_volume_are_refused_in_chinese(
    nclient: TestClient, ncast: Cast, reader: Actor, archive: Archive
) -> None:
    granted(nclient, ncast, reader, archive)
    for path in (
        f"/v1/materials/{archive.ten}/content?purpose=x",
        f"/v1/materials/{archive.ten}/pages/1",
    ):
        status, reason, detail = refusal(nclient.get(path, headers=reader.headers))
        assert (status, reason) == (403, "category-not-granted"), path
        assert detail == (
            "查阅授权不含第 10 类材料（已授权：第 1 类、第 4-1 类）。如需查阅，请另提查阅申请。"
        )
    status, reason, _ = refusal(read(nclient, reader, archive.other_material))
    assert (status, reason) == (403, "no-grant")


def test_an_expired_grant_is_refused_naming_when_it_ended(
    nclient: TestClient, ncast: Cast, reader: Actor, archive: Archive
) -> None:
    granted(nclient, ncast, reader, archive)
    assert read(nclient, reader, archive.pdf).status_code == 200
    app: Any = nclient.app
    app.state.read_clock = lambda: utcnow() + timedelta(days=8)
    try:
        status, reason, detail = refusal(read(nclient, reader, archive.pdf))
        assert (status, reason) == (403, "expired")
        assert detail.startswith("查阅授权已于 ") and "（北京时间）到期" in detail
        listed = nclient.get("/v1/read-grants", headers=reader.headers).json()
        assert [g["state"] for g in listed] == ["expired"]
        assert (
            nclient.get(
                f"/v1/read-grants/{listed[0]['id']}/materials", headers=reader.headers
            ).json()
            == []
        )
    finally:
        del app.state.read_clock


def test_a_revoked_grant_is_refused(
    nclient: TestClient, ncast: Cast, reader: Actor, archive: Archive
) -> None:
    grant = granted(nclient, ncast, reader, archive)
    revoke = f"/v1/read-grants/{grant['id']}/revoke"
    assert nclient.post(revoke, headers=ncast.other.headers).status_code == 403
    assert nclient.post(revoke, headers=reader.headers).status_code == 403
    r = nclient.post(revoke, headers=ncast.operator.headers)
    assert r.status_code == 200 and r.json()["state"] == "revoked", r.text
    status, reason, detail = refusal(read(nclient, reader, archive.pdf))
    assert (status, reason) == (403, "revoked") and "已被保管单位撤销" in detail


def test_a_refused_application_grants_nothing(
    nclient: TestClient, ncast: Cast, reader: Actor, archive: Archive
) -> None:
    grant = apply(nclient, reader, [archive.volume], ["1"]).json()
    r = nclient.post(
        f"/v1/read-grants/{grant['id']}/refuse",
        json={"reason": "用途不明"},
        headers=ncast.operator.headers,
    )
    assert r.status_code == 200 and r.json()["state"] == "refused"
    assert r.json()["refusal_reason"] == "用途不明"
    assert refusal(read(nclient, reader, archive.pdf))[:2] == (403, "no-grant")
    r = nclient.post(f"/v1/read-grants/{grant['id']}/approve", headers=ncast.operator.headers)
    assert r.status_code == 409 and "未批准" in r.json()["detail"]


def test_applications_are_checked(
    nclient: TestClient, ncast: Cast, reader: Actor, archive: Archive
) -> None:
    vol = archive.volume
    assert apply(nclient, reader, [vol], ["11"]).status_code == 422
    assert apply(nclient, reader, [vol], ["1"], expires_at=in_days(-1)).status_code == 422
    assert apply(nclient, reader, [vol], ["1"], expires_at=in_days(91)).status_code == 422
    naive = datetime.now().replace(microsecond=0).isoformat()
    assert apply(nclient, reader, [vol], ["1"], expires_at=naive).status_code == 422
    r = apply(nclient, reader, [str(uuid.uuid4())], ["1"])
    assert r.status_code == 404 and "案卷不存在" in r.json()["detail"]
    elsewhere = n.new_volume(nclient, ncast.other, "110105196001010022")
    r = apply(nclient, reader, [vol, elsewhere], ["1"])
    assert r.status_code == 409 and "分开申请" in r.json()["detail"]
    # Only readers apply.
    assert apply(nclient, ncast.operator, [vol], ["1"]).status_code == 403


def _audit_problems(client: TestClient) -> list[tuple[str, str]]:
    """``notary audit``'s check of the access log (as tests/security does)."""
    state: Any = client.app.state.notary  # type: ignore[attr-defined]
    ctx = state.notary
    report = new_report("access")
    with state.sessions() as s:
        audit_records(
            logged_records(s, None, log_key=ctx.log_public_key),
            log_keys=[ctx.log_public_key],
            chain=ctx.deployment.chain,
            report=report,
        )
    return [(p.check, p.subject) for p in report.problems]


def test_the_auditor_lists_every_grant_and_each_step_is_an_anchored_access_event(
    nclient: TestClient, ncast: Cast, reader: Actor, archive: Archive
) -> None:
    grant = granted(nclient, ncast, reader, archive)
    other = apply(nclient, reader, [archive.other_volume], ["2"]).json()
    nclient.post(f"/v1/read-grants/{other['id']}/refuse", headers=ncast.operator.headers)
    nclient.post(f"/v1/read-grants/{grant['id']}/revoke", headers=ncast.operator.headers)

    def ids(who: Actor) -> list[str]:
        r = nclient.get("/v1/read-grants", headers=who.headers)
        assert r.status_code == 200, r.text
        return [g["id"] for g in r.json()]

    both = [other["id"], grant["id"]]  # newest first
    assert ids(ncast.audit) == both and ids(reader) == both and ids(ncast.operator) == both
    assert ids(ncast.other) == []  # another unit sees none of U1's
    for who in (ncast.admin, ncast.security):
        assert nclient.get("/v1/read-grants", headers=who.headers).status_code == 403
    events = nclient.get("/v1/access-log", headers=ncast.audit.headers).json()["items"]
    steps = [(e["action"], e["grant_id"]) for e in reversed(events) if e["grant_id"]]
    assert steps == [
        ("grant.apply", grant["id"]),
        ("grant.approve", grant["id"]),
        ("grant.apply", other["id"]),
        ("grant.refuse", other["id"]),
        ("grant.revoke", grant["id"]),
    ]
    assert all(e["leaf_index"] is not None and e["role"] == "reader" for e in events)
    # Anchored: a material registered afterwards has its receipt, so every earlier leaf
    # is in an anchored checkpoint; then the audit finds every row and entry in step.
    later = n.upload(nclient, ncast.operator, archive.volume, n.pdf("later")).json()["id"]
    n.wait_receipt(nclient, ncast.operator, later)
    assert _audit_problems(nclient) == []


def test_an_administrator_issues_a_reader_key_that_works_once_approved(
    nclient: TestClient, ncast: Cast
) -> None:
    r = nclient.post(
        f"/v1/units/{ncast.other.unit_id}/keys",
        json={"role": "reader", "label": "查阅人"},
        headers=ncast.admin.headers,
    )
    assert r.status_code == 201, r.text
    key = r.json()
    headers = {"Authorization": f"Bearer {key['key']}"}
    assert nclient.get("/v1/read-grants", headers=headers).status_code == 401
    approve = f"/v1/units/{ncast.other.unit_id}/keys/{key['id']}/approve"
    assert nclient.post(approve, headers=ncast.security.headers).status_code == 200
    assert nclient.get("/v1/read-grants", headers=headers).status_code == 200
