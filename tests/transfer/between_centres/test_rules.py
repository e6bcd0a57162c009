"""The security rules of transfers, each negative and positive, in the API and on chain;
and overdue detection under a controlled clock."""

from __future__ import annotations

import os
import threading
from datetime import timedelta
from typing import Any

import pytest

from notary.chain.errors import NotAddressee, NotCustodian
from tests._support.centres import Centre
from tests.transfer.between_centres._flow import create, dispatched, verified, volume_with_materials
from transfer.db.types import utcnow
from transfer.workflow.acts import parse_act, sign_receipt
from transfer.workflow.results import parse_report


def _receipt(b: Centre, out: dict[str, Any]) -> dict[str, Any]:
    """A receipt signed by B's unit key outside the service (a presented act)."""
    tid = out["transfer_id"]
    results = b.get(f"/v1/transfers/{tid}/report").json()["results"]
    report = parse_report(results, tid, bytes.fromhex(out["package_root"]), max_materials=100)
    act = sign_receipt(
        b.deployment.unit_key(b.unit_code),
        dispatch=parse_act(out["dispatch"]),
        report=report,
        now=utcnow().replace(microsecond=0),
    )
    return act.to_json()


@pytest.fixture
def pair(centres: tuple[Centre, Centre]) -> tuple[Centre, Centre]:
    return centres


def test_only_the_custodian_dispatches(pair: tuple[Centre, Centre]) -> None:
    a, b = pair
    out, _ = dispatched(a, b, 2)  # positive: A, the custodian, dispatched
    tid = out["transfer_id"]
    b_side = b.post(
        "/v1/transfers/incoming",
        json={
            "dispatch": out["dispatch"],
            "chain_volumes": out["chain_volumes"],
            "package_cid": out["package_cid"],
        },
    )
    assert b_side.status_code == 201
    r = b.post(f"/v1/transfers/{tid}/dispatch")
    assert r.status_code == 403 and r.json()["rule"] == "custodian-only"
    r = a.post(f"/v1/transfers/{tid}/dispatch", headers=a.other)  # a unit not party to it
    assert r.status_code == 404
    held = os.urandom(32)  # a volume A holds (not in transit)
    a.chain.register_volume(held, a.account)
    with pytest.raises(NotCustodian):  # the contract enforces it too
        b.chain.dispatch(held, a.account, b"\x01" * 32, 2**40)


def test_only_the_addressee_accepts_or_rejects(pair: tuple[Centre, Centre]) -> None:
    a, b = pair
    out, _ = dispatched(a, b, 2)
    tid = out["transfer_id"]
    verified(b, out)
    for act in ("receipt", "rejection"):
        r = a.post(f"/v1/transfers/{tid}/{act}")
        assert r.status_code == 403 and r.json()["rule"] == "addressee-only", r.text
    vid = bytes.fromhex(next(iter(out["chain_volumes"].values())))
    with pytest.raises(NotAddressee):
        a.chain.receive(vid, b"\x02" * 32)
    # An incoming dispatch addressed to another unit is refused at registration.
    other, _ = dispatched(a, b, 1)
    r = b.post(
        "/v1/transfers/incoming",
        headers=b.other,
        json={"dispatch": other["dispatch"], "chain_volumes": other["chain_volumes"]},
    )
    assert r.status_code == 409 and r.json()["rule"] == "addressee-only"
    r = b.post(f"/v1/transfers/{tid}/receipt")  # positive: the addressee accepts
    assert r.status_code == 201, r.text


def test_receipts_once_idempotent_and_not_replayable(pair: tuple[Centre, Centre]) -> None:
    a, b = pair
    first, _ = dispatched(a, b, 2)
    second, _ = dispatched(a, b, 2)
    verified(b, first)
    verified(b, second)
    receipt = _receipt(b, first)
    r = b.post(f"/v1/transfers/{first['transfer_id']}/receipt", json={"act": receipt})
    assert r.status_code == 201, r.text
    accepted = r.json()

    # Replayed on another transfer: refused.
    r = b.post(f"/v1/transfers/{second['transfer_id']}/receipt", json={"act": receipt})
    assert r.status_code == 409 and r.json()["act_error"] == "cross-transfer", r.text

    # Accepting again with the same receipt, or without one: the same answer.
    for body in ({"act": receipt}, None):
        r = b.post(f"/v1/transfers/{first['transfer_id']}/receipt", json=body)
        assert r.status_code == 200, r.text
        assert r.json()["outcome_hash"] == accepted["outcome_hash"]
        assert r.json()["row_version"] == accepted["row_version"]

    # A different receipt after acceptance: conflict.
    r = b.post(f"/v1/transfers/{first['transfer_id']}/receipt", json={"act": _receipt(b, first)})
    assert r.status_code == 409 and r.json()["rule"] == "receipt-once"

    # A forged receipt (signed by another key) on the second transfer: 403.
    forged = _receipt(b, second)
    forged["signature"] = _receipt(b, first)["signature"]
    r = b.post(f"/v1/transfers/{second['transfer_id']}/receipt", json={"act": forged})
    assert r.status_code == 403 and r.json()["act_error"] == "forged-signature"
    r = b.post(f"/v1/transfers/{second['transfer_id']}/receipt")
    assert r.status_code == 201


def test_concurrent_accepts_one_wins(pair: tuple[Centre, Centre]) -> None:
    a, b = pair
    out, _ = dispatched(a, b, 2)
    tid = out["transfer_id"]
    verified(b, out)
    acts = [_receipt(b, out), _receipt(b, out)]
    codes: list[int] = []
    barrier = threading.Barrier(2)

    def go(act: dict[str, Any]) -> None:
        barrier.wait()
        codes.append(b.post(f"/v1/transfers/{tid}/receipt", json={"act": act}).status_code)

    threads = [threading.Thread(target=go, args=(x,)) for x in acts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [201, 409]


def test_overdue_with_a_controlled_clock(pair: tuple[Centre, Centre]) -> None:
    a, b = pair
    vid, _ = volume_with_materials(a, 1)
    tid = create(a, b, vid)["transfer_id"]
    app = a.client.app
    now = utcnow()

    def late_ids(at: Any) -> dict[str, list[str]]:
        app.state.transfer_clock = lambda: at  # type: ignore[attr-defined]
        try:
            rows = a.get("/v1/transfers/overdue").json()
        finally:
            del app.state.transfer_clock  # type: ignore[attr-defined]
        return {x["transfer"]["transfer_id"]: [o["kind"] for o in x["overdue"]] for x in rows}

    assert tid not in late_ids(now + timedelta(days=59))
    assert late_ids(now + timedelta(days=61))[tid] == ["sender-late"]
    pending = [t["transfer_id"] for t in a.get("/v1/transfers/pending").json()]
    assert tid in pending
    out, _ = dispatched(a, b, 1)
    late = late_ids(now + timedelta(days=31))
    assert late[out["transfer_id"]] == ["no-receipt"]
    assert tid not in late  # 31 days: not yet late for dispatching
    assert out["transfer_id"] not in late_ids(now + timedelta(days=29))
    listed = a.get("/v1/transfers", params={"role": "outgoing", "state": "dispatched"}).json()
    assert out["transfer_id"] in [t["transfer_id"] for t in listed]
    assert a.get("/v1/transfers", params={"role": "incoming"}).json() == []
