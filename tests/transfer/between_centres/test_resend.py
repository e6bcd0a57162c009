"""Across two deployments: B rejects, A returns and re-sends as a new transfer, B takes
the new one in like any other and signs its 回执; the chain shows both dispatches."""

from __future__ import annotations

from notary.chain.models import CustodyState
from tests._support.centres import Centre
from tests.transfer.between_centres._flow import (
    custody_audit,
    dispatched,
    incoming,
    package,
    verified,
)


def test_rejected_returned_resent_received(centres: tuple[Centre, Centre]) -> None:
    a, b = centres
    out, _ = dispatched(a, b, 2)
    tid = out["transfer_id"]
    volume = next(iter(out["chain_volumes"]))
    verified(b, out)
    reasons = {"reasons": [{"code": "other", "detail": "缺少学历证明"}]}
    r = b.post(f"/v1/transfers/{tid}/rejection", json=reasons)
    assert r.status_code == 200, r.text

    # Still dispatched at A until it learns the rejection from the chain.
    assert a.post(f"/v1/transfers/{tid}/resend").status_code == 409
    assert a.post(f"/v1/transfers/{tid}/sync").json()["state"] == "rejected"
    r = a.post(f"/v1/transfers/{tid}/resend")
    assert r.status_code == 409 and "return" in r.json()["detail"]
    assert a.post(f"/v1/transfers/{tid}/return").json()["state"] == "returned"
    # Only the sender re-sends (B's row of the transfer is its incoming one).
    assert b.post(f"/v1/transfers/{tid}/resend").status_code == 403

    r = a.post(f"/v1/transfers/{tid}/resend", json={"transfer_no": "组转字〔2026〕补1号"})
    assert r.status_code == 201, r.text
    new = r.json()
    assert new["state"] == "created" and new["direction"] == "outgoing"
    assert new["receiver"] == b.unit_code and new["transfer_no"] == "组转字〔2026〕补1号"
    assert list(new["chain_volumes"]) == [volume]
    # The same chain volume id: the contract sees the same volume dispatched again.
    assert new["chain_volumes"] == out["chain_volumes"]
    again = a.post(f"/v1/transfers/{tid}/resend")
    assert again.status_code == 409 and again.json()["resent_as"] == new["transfer_id"]

    nid = new["transfer_id"]
    package(a, nid)
    r = a.post(f"/v1/transfers/{nid}/dispatch")
    assert r.status_code == 200, r.text
    resent = r.json()
    assert resent["package_root"] != out["package_root"]  # a new notice, a new bag
    verified(b, resent)
    r = b.post(f"/v1/transfers/{nid}/receipt")
    assert r.status_code == 201, r.text
    assert a.post(f"/v1/transfers/{nid}/sync").json()["state"] == "received"

    vid = bytes.fromhex(out["chain_volumes"][volume])
    custody = a.chain.custody_state(vid)
    assert custody is not None and custody.state is CustodyState.HELD
    assert custody.custodian == b.unit_account and custody.transfers == 2

    steps = [e["event"] for e in a.get(f"/v1/transfers/{tid}/timeline").json()["events"]]
    assert steps[-2:] == ["return", "resend"]
    first = a.get(f"/v1/transfers/{nid}/timeline").json()["events"][0]
    assert first["event"] == "create" and first["detail"]["resend_of"] == tid
    assert custody_audit(a, volume) == []


def test_resend_needs_a_returned_transfer_of_ones_own(centres: tuple[Centre, Centre]) -> None:
    a, b = centres
    out, _ = dispatched(a, b, 1)
    tid = out["transfer_id"]
    incoming(b, out)
    assert a.post(f"/v1/transfers/{tid}/resend").status_code == 409  # dispatched
    r = a.post(f"/v1/transfers/{tid}/resend", json={"bogus": 1})
    assert r.status_code == 422
    assert a.post("/v1/transfers/no-such-transfer/resend").status_code == 404
    r = a.post(f"/v1/transfers/{tid}/resend", headers=a.other)  # not a party
    assert r.status_code == 404
