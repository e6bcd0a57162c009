"""Recall (撤回): the sender closes a dispatch left unanswered past its deadline; custody
comes back on chain and here, and a recall cut short between the chain and the
database is finished by asking again."""

from __future__ import annotations

from notary.chain.models import CustodyState, Outcome
from tests._support.centres import Centre, new_id
from tests.transfer.between_centres._flow import ident, package, pdf
from tests.transfer.between_centres._issued import every_issued_receipt

DAY = 86_400


def _volume(c: Centre, cadre: str, kind: str) -> str:
    r = c.post("/v1/volumes", json={"cadre_identifier": cadre, "kind": kind})
    assert r.status_code == 201, r.text
    vid = str(r.json()["id"])
    r = c.post(
        f"/v1/volumes/{vid}/materials",
        data={"category": "1", "seq_no": "1", "pages": "1", "title": "履历",
              "formation_date": "2001-02-03"},
        files={"file": ("m.pdf", pdf(kind), "application/pdf")},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    return vid


def test_a_recall_past_the_deadline_returns_custody_also_when_cut_short(
    centres: tuple[Centre, Centre],
) -> None:
    a, b = centres
    cadre = ident()
    volumes = [_volume(a, cadre, kind) for kind in ("main", "copy")]  # 正本 and 副本
    r = a.post(
        "/v1/transfers",
        json={
            "transfer_no": f"组转字〔2026〕{new_id()}号",
            "volume_ids": volumes,
            "receiver": b.unit_code,
            "reason": "干部调动",
        },
    )
    assert r.status_code == 201, r.text
    tid = r.json()["transfer_id"]
    package(a, tid)
    out = a.post(f"/v1/transfers/{tid}/dispatch").json()
    chain_volumes = [bytes.fromhex(v) for v in out["chain_volumes"].values()]

    r = a.post(f"/v1/transfers/{tid}/recall")  # the receiver still has 60 days
    assert r.status_code == 409, r.text
    assert a.get(f"/v1/transfers/{tid}").json()["state"] == "dispatched"

    w3 = a.chain._w3
    w3.provider.make_request("evm_increaseTime", [61 * DAY])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    # Killed after the first volume's recall, before the commit: the chain is ahead.
    a.unit_chain.recall(chain_volumes[0])
    assert a.get(f"/v1/transfers/{tid}").json()["state"] == "dispatched"

    r = a.post(f"/v1/transfers/{tid}/recall")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "returned"
    for vid in chain_volumes:
        custody = a.chain.custody_state(vid)
        assert custody is not None
        assert custody.state is CustodyState.HELD and custody.custodian == a.unit_account
        record = a.chain.get_transfer(vid, custody.transfers)
        assert record is not None and record.outcome is Outcome.RECALLED
    r = a.post(f"/v1/transfers/{tid}/recall")  # once returned, not again
    assert r.status_code == 409, r.text
    # Its log entries' receipts, recall included, match docs/receipt.schema.json.
    assert ("custody.event", "transfer.recall") in every_issued_receipt(a)
