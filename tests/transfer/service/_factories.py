"""Arranging rows the API cannot create yet (materials come from ingest)."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy.orm import Session

from notary.crypto import sm3
from transfer.db.models import Material, Volume, VolumeKind


def volume(db: Session, custodian: str, kind: VolumeKind = VolumeKind.MAIN) -> Volume:
    v = Volume(
        cadre_blind_id=uuid.uuid4().hex * 2, kind=kind, custodian_unit_id=uuid.UUID(custodian)
    )
    db.add(v)
    db.commit()
    return v


def material(
    db: Session,
    vol: Volume,
    *,
    category: str = "1",
    seq_no: int = 1,
    pages: int = 2,
    formed: date = date(1990, 7, 1),
    supersedes: Material | None = None,
    title: str = "干部履历表",
) -> Material:
    content = uuid.uuid4().bytes
    mid = uuid.uuid4()
    m = Material(
        id=mid,
        volume_id=vol.id,
        lineage_id=supersedes.lineage_id if supersedes else mid,
        version=supersedes.version + 1 if supersedes else 1,
        supersedes_id=supersedes.id if supersedes else None,
        category=category,
        seq_no=seq_no,
        pages=pages,
        title=title,
        formation_date=formed,
        sm3=sm3(content).hex(),
        size=len(content),
        media_type="application/pdf",
        cid="bafkreitest" + mid.hex,
        sealed_size=len(content) + 16,
        registered_by_unit_id=vol.custodian_unit_id,
    )
    db.add(m)
    db.commit()
    return m
