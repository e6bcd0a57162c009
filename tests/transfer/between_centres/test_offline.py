"""Offline delivery (机要): the package file exported at A, imported at B; and a package
with one byte changed in one material in transit, which B names and rejects."""

from __future__ import annotations

import io
import tarfile

from notary.chain.models import CustodyState
from tests._support.centres import Centre
from tests.transfer.between_centres._flow import dispatched, incoming

TAR = {"Content-Type": "application/x-tar"}


def _export(a: Centre, tid: str) -> bytes:
    r = a.get(f"/v1/transfers/{tid}/package.tar")
    assert r.status_code == 200, r.text
    return bytes(r.content)


def _import(b: Centre, tid: str, data: bytes) -> dict:
    r = b.post(f"/v1/transfers/{tid}/import", content=data, headers={**b.operator, **TAR})
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_offline_transfer_by_file(centres: tuple[Centre, Centre]) -> None:
    a, b = centres
    out, _ = dispatched(a, b, 12)
    tid = out["transfer_id"]
    data = _export(a, tid)
    assert data == _export(a, tid)  # the same bag, the same bytes
    incoming(b, out, online=False)
    assert _import(b, tid, data)["state"] == "delivered"
    assert b.post(f"/v1/transfers/{tid}/verify").json()["state"] == "verified"
    r = b.post(f"/v1/transfers/{tid}/receipt")
    assert r.status_code == 201, r.text
    vid = bytes.fromhex(next(iter(out["chain_volumes"].values())))
    custody = b.chain.custody_state(vid)
    assert custody is not None and custody.custodian == b.unit_account


def _tamper(data: bytes, material_id: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(f"{material_id}.sm4"))
        offset = member.offset_data + member.size // 2
    out = bytearray(data)
    out[offset] ^= 0x01
    return bytes(out)


def test_tampered_material_is_named_and_rejected(centres: tuple[Centre, Centre]) -> None:
    a, b = centres
    out, ids = dispatched(a, b, 6)
    tid = out["transfer_id"]
    victim = ids[3]
    incoming(b, out, online=False)
    _import(b, tid, _tamper(_export(a, tid), victim))
    assert b.post(f"/v1/transfers/{tid}/verify").json()["state"] == "verified"

    report = b.get(f"/v1/transfers/{tid}/report").json()
    assert report["accepted"] is False
    failed = {m["material_id"]: m for m in report["results"]["materials"] if m["failures"]}
    assert list(failed) == [victim]
    assert failed[victim]["authenticity"] == "fail"
    assert victim in report["summary"] and "真实性" in report["summary"]

    r = b.post(f"/v1/transfers/{tid}/receipt")
    assert r.status_code == 409  # a failed verification cannot be signed off
    r = b.post(f"/v1/transfers/{tid}/rejection")
    assert r.status_code == 200, r.text
    rejected = r.json()
    assert rejected["state"] == "rejected"
    reasons = rejected["outcome"]["body"]["reasons"]
    assert any(x["material_id"] == victim for x in reasons)

    vid = bytes.fromhex(next(iter(out["chain_volumes"].values())))
    custody = a.chain.custody_state(vid)
    assert custody is not None
    assert custody.state is CustodyState.HELD and custody.custodian == a.unit_account

    r = a.post(f"/v1/transfers/{tid}/sync")
    assert r.json()["state"] == "rejected"
    r = a.post(f"/v1/transfers/{tid}/return")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "returned"
    # Still A's: the sender reads its material again.
    r = a.get(f"/v1/materials/{ids[0]}/content", params={"purpose": "退回核对"})
    assert r.status_code == 200, r.text
