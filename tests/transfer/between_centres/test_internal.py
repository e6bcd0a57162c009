"""Both units hosted by one deployment: the receiver's keys are staged inactive at
packaging and swapped on the receipt; custody moves between two accounts on chain."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from notary.chain.anvil import dev_private_keys
from tests._support.centres import Centre
from tests.transfer.between_centres._flow import custody_audit, package, volume_with_materials
from transfer.db.models import MaterialKey, Transfer, TransferPeer, Unit, Volume
from transfer.db.session import write_sessionmaker
from transfer.services.transfer_units import give_chain_account


def test_transfer_between_two_hosted_units(centres: tuple[Centre, Centre]) -> None:
    a, _ = centres
    state = a.client.app.state.notary  # type: ignore[attr-defined]
    with write_sessionmaker(state.engine)() as s:
        other = s.query(Unit).filter(Unit.code == "UA-X").one()
        if s.get(TransferPeer, other.id) is None:
            admin_key = dev_private_keys(1)[0]
            give_chain_account(s, state.notary.deployment, other, admin_key=admin_key)
            s.commit()
        account = s.get(TransferPeer, other.id).chain_account  # type: ignore[union-attr]
    vid, ids = volume_with_materials(a, 4)
    r = a.post(
        "/v1/transfers",
        json={
            "transfer_no": "内转〔2026〕1号",
            "volume_ids": [vid],
            "receiver": "UA-X",
            "reason": "内部调整",
        },
    )
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["direction"] == "internal"
    tid = t["transfer_id"]
    package(a, tid)
    with write_sessionmaker(state.engine)() as s:
        staged = (
            s.query(MaterialKey)
            .filter(MaterialKey.material_id == uuid.UUID(ids[0]), MaterialKey.unit_id == other.id)
            .one()
        )
        assert staged.active is False  # not readable before the receipt
    out = a.post(f"/v1/transfers/{tid}/dispatch").json()
    r = a.get(f"/v1/materials/{ids[0]}/content", params={"purpose": "x"}, headers=a.other)
    assert r.status_code == 404  # not the receiver's yet
    for step in ("deliver", "verify"):
        r = a.post(f"/v1/transfers/{tid}/{step}", headers=a.other)
        assert r.status_code == 200, r.text
    r = a.post(f"/v1/transfers/{tid}/receipt", headers=a.other)
    assert r.status_code == 201, r.text
    chain_vid = bytes.fromhex(next(iter(out["chain_volumes"].values())))
    custody = a.chain.custody_state(chain_vid)
    assert custody is not None and custody.custodian == account
    r = a.get(f"/v1/materials/{ids[0]}/content", params={"purpose": "接收"}, headers=a.other)
    assert r.status_code == 200, r.text
    r = a.get(f"/v1/materials/{ids[0]}/content", params={"purpose": "原单位"})
    assert r.status_code == 404
    # The custody audit: every record derives its logged entry, the history ends with
    # UA-X, and the contract names UA-X's account.
    assert custody_audit(a, vid) == []
    with write_sessionmaker(state.engine)() as s:
        volume = s.get(Volume, uuid.UUID(vid))
        assert volume is not None
        receiver, volume.custodian_unit_id = volume.custodian_unit_id, sender_of(s, tid)
        s.commit()
    try:
        # Moved back to the sender behind the service's back: neither the logged
        # history nor the chain agree.
        assert custody_audit(a, vid) == [
            ("custody-history", "真实性"),
            ("custody-chain", "真实性"),
        ]
    finally:
        with write_sessionmaker(state.engine)() as s:
            s.execute(update(Volume).where(Volume.id == uuid.UUID(vid)).values(
                custodian_unit_id=receiver))  # fmt: skip
            s.commit()


def sender_of(s: Session, tid: str) -> uuid.UUID:
    return s.scalars(select(Transfer.sender_unit_id).where(Transfer.transfer_id == tid)).one()
