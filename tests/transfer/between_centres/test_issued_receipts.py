"""Every receipt two centres issue for a transfer, a rejection and what surrounds them
(registrations, a correction, custody events of every kind written, transfer steps,
reads) validates against docs/receipt.schema.json and reads with the strict parser
(issue 21): every leaf of both logs, as the service issues its receipts."""

from __future__ import annotations

from notary.entries import TRANSFER_STEPS, VOLUME_EVENTS
from tests._support.centres import Centre
from tests.transfer.between_centres._flow import dispatched, pdf, verified
from tests.transfer.between_centres._issued import every_issued_receipt


def test_every_receipt_of_a_transfer_and_a_rejection_matches_the_schema(
    centres: tuple[Centre, Centre],
) -> None:
    a, b = centres
    # Accepted: A → B, B reads a material it now holds, A learns the outcome.
    out, ids = dispatched(a, b, 2)
    tid = out["transfer_id"]
    verified(b, out)
    assert b.post(f"/v1/transfers/{tid}/receipt").status_code == 201
    assert a.post(f"/v1/transfers/{tid}/sync").json()["state"] == "received"
    r = b.get(f"/v1/materials/{ids[0]}/content", params={"purpose": "接收核对"})
    assert r.status_code == 200, r.text
    # Rejected: B rejects with a reason, A learns it and takes the volume back.
    out, ids = dispatched(a, b, 1)
    tid = out["transfer_id"]
    verified(b, out)
    reason = {"code": "incomplete", "detail": "材料不全（测试）"}
    r = b.post(f"/v1/transfers/{tid}/rejection", json={"reasons": [reason]})
    assert r.status_code == 200 and r.json()["state"] == "rejected", r.text
    assert a.post(f"/v1/transfers/{tid}/sync").json()["state"] == "rejected"
    assert a.post(f"/v1/transfers/{tid}/return").json()["state"] == "returned"
    # A correction of the returned material (a version that supersedes it).
    material = a.get(f"/v1/materials/{ids[0]}").json()
    r = a.post(
        f"/v1/volumes/{material['volume_id']}/materials",
        data={
            "category": material["category"], "seq_no": "1", "pages": "1",
            "title": "更正", "formation_date": "2001-02-03", "supersedes": ids[0],
        },
        files={"file": ("m.pdf", pdf("corrected"), "application/pdf")},
    )  # fmt: skip
    assert r.status_code == 201, r.text

    kinds = every_issued_receipt(a) | every_issued_receipt(b)
    expected = {("material.registered", None), ("material.read", None)}
    # Every volume custody event this version writes (`rejected` is defined, unwritten).
    expected |= {("custody.event", e) for e in VOLUME_EVENTS if e != "rejected"}
    # Every transfer step but `recall`, which needs the chain's clock past a deadline
    # (tests/transfer/recall checks its receipts).
    expected |= {("custody.event", f"transfer.{s}") for s in TRANSFER_STEPS if s != "recall"}
    assert kinds == expected
