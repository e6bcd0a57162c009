"""Steps of a transfer between the two test centres, over HTTP."""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

from sqlalchemy import func, select

from notary.audit import audit_custody, audit_records, new_report
from tests._support.centres import Centre, new_id
from tests._support.notary_api import pdf as _pdf_body
from tests._support.notary_api import png
from transfer.db.models import Checkpoint, CheckpointStatus
from transfer.db.treestore import DbTreeStorage
from transfer.services.custody_audit import volume_custody
from transfer.services.record_audit import logged_records

CATEGORIES = ["1", "2", "4-1", "4-2", "5", "7", "9-1", "10"]


def pdf(text: str) -> bytes:
    """A PDF that opens (可用性): the service tests' sample plus an xref pointer."""
    body = _pdf_body(text).removesuffix(b"%%EOF\n")
    return body + b"startxref\n0\n%%EOF\n"


def ident() -> str:
    """A well-formed 18-digit identifier, different every call."""
    return "110105" + "".join(random.choice("0123456789") for _ in range(12))


def volume_with_materials(c: Centre, n: int) -> tuple[str, list[str]]:
    r = c.post("/v1/volumes", json={"cadre_identifier": ident(), "kind": "main"})
    assert r.status_code == 201, r.text
    vid = str(r.json()["id"])
    ids = []
    for i in range(n):
        content, name = (png(i), "m.png") if i % 2 else (pdf(f"material {i}"), "m.pdf")
        r = c.post(
            f"/v1/volumes/{vid}/materials",
            data={
                "category": CATEGORIES[i % len(CATEGORIES)],
                "seq_no": str(i + 1),
                "pages": "1",
                "title": f"材料 {i}",
                "formation_date": "2001-02-03",
            },
            files={"file": (name, content, "application/octet-stream")},
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return vid, ids


def create(a: Centre, b: Centre, volume_id: str) -> dict[str, Any]:
    r = a.post(
        "/v1/transfers",
        json={
            "transfer_no": f"组转字〔2026〕{new_id()}号",
            "volume_ids": [volume_id],
            "receiver": b.unit_code,
            "reason": "干部调动",
        },
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def package(a: Centre, tid: str, timeout: float = 60) -> dict[str, Any]:
    """Package once every material's checkpoint is anchored (503 until then)."""
    deadline = time.monotonic() + timeout
    while True:
        r = a.post(f"/v1/transfers/{tid}/package")
        if r.status_code == 200:
            return dict(r.json())
        assert r.status_code == 503, r.text
        assert time.monotonic() < deadline, r.text
        time.sleep(0.2)


def dispatched(a: Centre, b: Centre, n: int) -> tuple[dict[str, Any], list[str]]:
    """A volume of ``n`` materials created, packaged and dispatched by A to B."""
    vid, ids = volume_with_materials(a, n)
    tid = create(a, b, vid)["transfer_id"]
    package(a, tid)
    r = a.post(f"/v1/transfers/{tid}/dispatch")
    assert r.status_code == 200, r.text
    return dict(r.json()), ids


def incoming(b: Centre, out: dict[str, Any], *, online: bool = True) -> dict[str, Any]:
    r = b.post(
        "/v1/transfers/incoming",
        json={
            "dispatch": out["dispatch"],
            "chain_volumes": out["chain_volumes"],
            "package_cid": out["package_cid"] if online else None,
        },
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def verified(b: Centre, out: dict[str, Any]) -> dict[str, Any]:
    """B takes in the dispatch, fetches the package by CID, verifies it."""
    tid = out["transfer_id"]
    incoming(b, out)
    r = b.post(f"/v1/transfers/{tid}/deliver")
    assert r.status_code == 200, r.text
    r = b.post(f"/v1/transfers/{tid}/verify")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "verified"
    return dict(r.json())


def custody_audit(c: Centre, volume_id: str, timeout: float = 30) -> list[tuple[str, str]]:
    """``notary audit``'s custody findings (check, 四性 column) for one volume of a
    centre, and those about the events of the transfers that carried it, the chain
    read through its client, once the log is anchored."""
    state = c.client.app.state.notary  # type: ignore[attr-defined]
    ctx = state.notary
    deadline = time.monotonic() + timeout
    while True:
        with state.sessions() as s:
            anchored = s.scalar(
                select(func.max(Checkpoint.tree_size)).where(
                    Checkpoint.status == CheckpointStatus.ANCHORED
                )
            )
            if (anchored or 0) >= DbTreeStorage(s).size() or time.monotonic() > deadline:
                break
        time.sleep(0.1)
    with state.sessions() as s:
        volumes = list(
            volume_custody(
                s, [uuid.UUID(volume_id)], secret=state.blinding_secret,
                log_key=ctx.log_public_key, centre_account=c.account,
            )
        )  # fmt: skip
    report = audit_custody(
        volumes, log_keys=[ctx.log_public_key], chain=c.chain, report=new_report(volume_id)
    )
    assert report.volumes == 1 and report.custody_events >= 2
    # The transfers that carried the volume: every step's row derives its logged entry
    # (package root, chain transactions and all) and the entry's proof holds.
    with state.sessions() as s:
        records = list(logged_records(s, [uuid.UUID(volume_id)], log_key=ctx.log_public_key))
    audit_records(records, log_keys=[ctx.log_public_key], chain=c.chain, report=report)
    assert report.records.get("transfer_events", 0) >= 1
    return [(p.check, p.property) for p in report.problems]
