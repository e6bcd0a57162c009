"""A volume of 50 materials moves from centre A to centre B online (shared IPFS, shared
chain): B verifies and accepts, custody on chain is B's, both sides agree on the history,
the sender can no longer read and the receiver can."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from notary.chain.models import CustodyState
from notary.crypto import sm3
from tests._support.centres import Centre
from tests.transfer.between_centres._flow import custody_audit, dispatched, verified
from transfer.db.models import CustodyEvent, Unit


def test_online_transfer_a_to_b(centres: tuple[Centre, Centre]) -> None:
    a, b = centres
    out, ids = dispatched(a, b, 50)
    tid = out["transfer_id"]
    assert out["state"] == "dispatched" and out["direction"] == "outgoing"
    notice = out["notice"]
    assert notice["material_count"] == 50
    assert len({m["category"] for m in notice["materials"]}) >= 5

    # Before B answers, the chain says: in transit from A to B, with the package root.
    vid = bytes.fromhex(next(iter(out["chain_volumes"].values())))
    custody = a.chain.custody_state(vid)
    assert custody is not None and custody.state is CustodyState.IN_TRANSIT
    assert custody.in_transit is not None
    assert custody.in_transit.addressee == b.unit_account
    assert custody.in_transit.package_root.hex() == out["package_root"]

    verified(b, out)
    report = b.get(f"/v1/transfers/{tid}/report").json()
    assert report["accepted"] is True
    assert len(report["results"]["materials"]) == 50
    assert "通过" in report["summary"]

    r = b.post(f"/v1/transfers/{tid}/receipt")
    assert r.status_code == 201, r.text
    received = r.json()
    assert received["state"] == "received" and received["outcome_hash"]

    custody = a.chain.custody_state(vid)
    assert custody is not None
    assert custody.state is CustodyState.HELD and custody.custodian == b.unit_account

    # A learns the answer from the chain.
    r = a.post(f"/v1/transfers/{tid}/sync")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "received"
    assert r.json()["outcome_hash"] == received["outcome_hash"]

    # Both timelines: the same custody on chain, the same custody steps.
    ta = a.get(f"/v1/transfers/{tid}/timeline").json()
    tb = b.get(f"/v1/transfers/{tid}/timeline").json()
    assert ta["chain"] == tb["chain"]
    assert ta["chain"][0]["dispatch"]["outcome"] == "received"
    assert ta["chain"][0]["dispatch"]["outcome_hash"] == received["outcome_hash"]
    custody_a = [e["event"] for e in ta["events"] if e["event"] in ("dispatch", "accept")]
    custody_b = [e["event"] for e in tb["events"] if e["event"] in ("dispatch", "accept")]
    assert custody_a == custody_b == ["dispatch", "accept"]
    assert all(e["leaf_index"] is not None for e in ta["events"] + tb["events"])

    # The sender can no longer read; the receiver can, through the verified read path.
    r = a.get(f"/v1/materials/{ids[0]}/content", params={"purpose": "核对"})
    assert r.status_code == 404, r.text
    # The materials keep their ids at B (the SM4-GCM associated data binds them).
    volumes = set()
    for i, mid in enumerate(ids):
        r = b.get(f"/v1/materials/{mid}")
        assert r.status_code == 200, r.text
        volumes.add(r.json()["volume_id"])
        if i < 3:
            r = b.get(f"/v1/materials/{mid}/content", params={"purpose": "接收核对"})
            assert r.status_code == 200, r.text
            assert sm3(r.content).hex() == r.headers.get("X-Content-SM3", sm3(r.content).hex())
            assert sm3(r.content).hex() in {m["sm3"] for m in notice["materials"]}
    assert len(volumes) == 1

    # B's provenance of the volume shows the custody history with the chain's tx.
    volume_b = volumes.pop()
    prov_b = b.get(f"/v1/volumes/{volume_b}/provenance").json()
    custody_items = [i for i in prov_b["items"] if i["kind"].startswith("custody.")]
    kinds = [i["kind"] for i in custody_items]
    assert "custody.dispatched" in kinds and "custody.received" in kinds
    assert all(i["verification"]["ok"] for i in custody_items)
    # The same custody history on both sides, with the same receipt hash (the one
    # anchored on chain), each step an entry of that side's log.
    history = [_custody_history(c, tid) for c in (a, b)]
    assert (
        history[0]
        == history[1]
        == [
            ("dispatched", "UA", "UB", None),
            ("received", "UA", "UB", received["outcome_hash"]),
        ]
    )
    # Each side's custody audit: records ↔ logged entries ↔ anchors, custodian ↔ history
    # ↔ the contract (B's account on both sides).
    assert custody_audit(a, next(iter(out["chain_volumes"]))) == []
    assert custody_audit(b, volume_b) == []


def _custody_history(c: Centre, tid: str) -> list[tuple[str, str, str, str | None]]:
    engine = c.client.app.state.notary.engine  # type: ignore[attr-defined]
    with Session(engine) as s:
        code = {u.id: u.code for u in s.scalars(select(Unit))}
        rows = [
            e
            for e in s.scalars(select(CustodyEvent).order_by(CustodyEvent.created_at))
            if e.detail.get("transfer_id") == tid
        ]
        assert all(e.leaf_index is not None for e in rows)
        return [
            (str(e.kind), code[e.from_unit_id], code[e.to_unit_id], e.detail.get("receipt_hash"))
            for e in rows
            if e.from_unit_id is not None and e.to_unit_id is not None
        ]
