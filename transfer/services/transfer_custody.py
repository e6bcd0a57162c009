"""What a receipt or a return changes in this deployment's own records.

- both units hosted here: the receiver's staged data keys become active and the
  sender's inactive; the volume's custodian becomes the receiver;
- the sender hosted here (the receiver elsewhere): the sender's keys are deactivated
  and the volume is marked transferred out, held by the receiving unit;
- the receiver hosted here: the volume and its materials are registered in this
  deployment's log (same ids, SM3 and CID: the GCM associated data binds the id), with
  the data keys from the envelope; the sealed bytes are put into this store when it
  lacks them (offline delivery).

Either way the sender can no longer read (no active key, not the custodian) and the
receiver can, through the ordinary verified read path.
"""

from __future__ import annotations

import uuid

from sqlalchemy import update
from sqlalchemy.orm import Session

from notary.crypto import sm4
from notary.entries import material_registered
from transfer.db.models import (
    CustodyEventKind,
    Material,
    MaterialKey,
    Transfer,
    TransferDirection,
    TransferVolume,
    Unit,
    Volume,
    VolumeKind,
    VolumeStatus,
)
from transfer.db.types import utcnow
from transfer.services.context import NotaryContext
from transfer.services.ingest import volume_ref
from transfer.services.logwriter import append_entries
from transfer.services.state import ServiceState
from transfer.services.transfer_package import bag_dir
from transfer.services.transfers import record_custody, volumes_of
from transfer.workflow.bag_reader import open_bag
from transfer.workflow.envelope import material_path
from transfer.workflow.notice import VolumeKind as NoticeVolumeKind
from transfer.workflow.notice import parse_notice


def _units(s: Session, t: Transfer) -> tuple[Unit, Unit]:
    sender, receiver = s.get(Unit, t.sender_unit_id), s.get(Unit, t.receiver_unit_id)
    assert sender is not None and receiver is not None
    return sender, receiver


def _material_ids(t: Transfer) -> list[uuid.UUID]:
    return [uuid.UUID(m["material_id"]) for m in t.notice["materials"]]


def apply_receipt_here(s: Session, state: ServiceState, ctx: NotaryContext, t: Transfer) -> None:
    sender, receiver = _units(s, t)
    if t.direction is TransferDirection.INCOMING:
        _take_in(s, state, ctx, t, sender, receiver)
        return
    ids = _material_ids(t)
    s.execute(
        update(MaterialKey)
        .where(MaterialKey.material_id.in_(ids), MaterialKey.unit_id == sender.id)
        .values(active=False)
    )
    if t.direction is TransferDirection.INTERNAL:
        s.execute(
            update(MaterialKey)
            .where(MaterialKey.material_id.in_(ids), MaterialKey.unit_id == receiver.id)
            .values(active=True)
        )
    for tv in volumes_of(s, t):
        volume = s.get(Volume, tv.volume_id) if tv.volume_id else None
        if volume is None:
            continue
        volume.custodian_unit_id = receiver.id
        volume.status = (
            VolumeStatus.HELD
            if t.direction is TransferDirection.INTERNAL
            else VolumeStatus.TRANSFERRED_OUT
        )
        record_custody(
            s,
            state.blinding_secret,
            volume.id,
            CustodyEventKind.RECEIVED,
            sender,
            receiver,
            transfer_id=t.transfer_id,
            tx_hash=tv.outcome_tx,
            detail={"receipt_hash": t.outcome_hash},
        )


def apply_return_here(
    s: Session, state: ServiceState, t: Transfer, note: str, tx_hash: str | None
) -> None:
    if t.direction is TransferDirection.INCOMING:
        return
    sender, receiver = _units(s, t)
    for tv in volumes_of(s, t):
        volume = s.get(Volume, tv.volume_id) if tv.volume_id else None
        if volume is None:
            continue
        volume.status = VolumeStatus.HELD
        record_custody(
            s,
            state.blinding_secret,
            volume.id,
            CustodyEventKind.RETURNED,
            receiver,
            sender,
            transfer_id=t.transfer_id,
            tx_hash=tv.outcome_tx or tx_hash,
            detail={"note": note},
        )


def _take_in(
    s: Session, state: ServiceState, ctx: NotaryContext, t: Transfer, sender: Unit, receiver: Unit
) -> None:
    assert t.package_root is not None
    notice = parse_notice(t.notice)
    bag = open_bag(
        bag_dir(state.settings.home, t.transfer_id), expected_root=bytes.fromhex(t.package_root)
    )
    kinds = {v.volume_id: v.kind for v in notice.volumes}
    local: dict[str, Volume] = {}
    tvs: dict[str, TransferVolume] = {tv.notice_volume_id: tv for tv in volumes_of(s, t)}
    for vol_id, kind in kinds.items():
        volume = Volume(
            # The sender's blinded cadre id: the receiver never sees the identifier, so
            # it cannot blind it under its own secret (a lookup by identifier here
            # needs the identifier re-registered).
            cadre_blind_id=notice.cadre,
            kind=VolumeKind.MAIN if kind is NoticeVolumeKind.ORIGINAL else VolumeKind.COPY,
            custodian_unit_id=receiver.id,
        )
        s.add(volume)
        s.flush()
        local[vol_id] = volume
        tvs[vol_id].volume_id = volume.id
    now = utcnow()
    fp = bag.envelope.recipient_key.hex()
    for e in bag.envelope.materials:
        volume = local[e.volume_id]
        if not ctx.store.has(e.cid):
            with (bag.path / material_path(e.material_id)).open("rb") as fh:
                cid = ctx.store.put(fh)
            if cid != e.cid:
                raise RuntimeError(f"material {e.material_id}: stored CID {cid} ≠ {e.cid}")
        # The same id as at the sender: the SM4-GCM associated data binds it.
        mid = uuid.UUID(e.material_id)
        entry = material_registered(
            material_id=str(mid),
            sm3_hex=e.sm3,
            cid=e.cid,
            size=e.size,
            category=e.category,
            volume=volume_ref(state.blinding_secret, volume.id),
            unit=receiver.code,
            version=1,
            time_ms=int(now.timestamp() * 1000),
        )
        leaf = append_entries(s, [entry]).start
        s.add(
            Material(
                id=mid,
                volume_id=volume.id,
                lineage_id=mid,
                version=1,
                category=e.category,
                seq_no=e.seq_no,
                pages=e.pages,
                title=e.title,
                formation_date=e.formation_date,
                sm3=e.sm3,
                size=e.size,
                media_type=e.media_type,
                cid=e.cid,
                sealed_size=e.size + sm4.OVERHEAD,
                registered_by_unit_id=receiver.id,
                leaf_index=leaf,
                created_at=now,
            )
        )
        s.flush()
        s.add(
            MaterialKey(
                material_id=mid, unit_id=receiver.id, key_fingerprint=fp, wrapped=e.wrapped_key
            )
        )
    for vol_id, volume in local.items():
        tv = tvs[vol_id]
        record_custody(
            s,
            state.blinding_secret,
            volume.id,
            CustodyEventKind.DISPATCHED,
            sender,
            receiver,
            transfer_id=t.transfer_id,
            tx_hash=tv.dispatch_tx,
            detail={"dispatch_hash": t.dispatch_hash},
        )
        record_custody(
            s,
            state.blinding_secret,
            volume.id,
            CustodyEventKind.RECEIVED,
            sender,
            receiver,
            transfer_id=t.transfer_id,
            tx_hash=tv.outcome_tx,
            detail={"receipt_hash": t.outcome_hash},
        )
