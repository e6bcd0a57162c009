"""Who holds what: the one check that a unit holds a volume or a material, and the
one lookup of a unit's active wrapped data keys.

A volume or material another unit holds is answered exactly like one that does not
exist: a caller learns nothing of other units' archives from a refusal.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from transfer.db.models import Material, MaterialKey, Volume
from transfer.db.session import member_of
from transfer.services.errors import NotFound


def held_volume(s: Session, volume_id: uuid.UUID, unit_id: uuid.UUID) -> Volume:
    volume = s.get(Volume, volume_id)
    if volume is None or volume.custodian_unit_id != unit_id:
        raise NotFound(f"案卷 {volume_id} 不存在或不由本单位保管")
    return volume


def held_material(s: Session, material_id: uuid.UUID, unit_id: uuid.UUID) -> Material:
    material = s.get(Material, material_id)
    volume = None if material is None else s.get(Volume, material.volume_id)
    if material is None or volume is None or volume.custodian_unit_id != unit_id:
        raise NotFound(f"材料 {material_id} 不存在或不由本单位保管")
    return material


def active_keys(
    s: Session, unit_id: uuid.UUID, material_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, MaterialKey]:
    """The data keys wrapped for ``unit_id`` that are in force (a key is retired when
    custody moves), by material."""
    ids = list(material_ids)
    rows = s.scalars(
        select(MaterialKey).where(
            MaterialKey.material_id.in_(ids),
            MaterialKey.unit_id == unit_id,
            MaterialKey.active.is_(True),
        )
    )
    return {k.material_id: k for k in rows}


def active_keys_of(
    s: Session, material_ids: Iterable[uuid.UUID]
) -> dict[tuple[uuid.UUID, uuid.UUID], tuple[str, bytes]]:
    """Every unit's data keys in force for ``material_ids``, as (fingerprint, wrapped)
    by (material, unit), in one query of plain columns: the audit's batches, whose
    materials belong to many units."""
    rows = s.execute(
        select(
            MaterialKey.material_id, MaterialKey.unit_id,
            MaterialKey.key_fingerprint, MaterialKey.wrapped,
        ).where(
            member_of(s, MaterialKey.material_id, list(material_ids)),
            MaterialKey.active.is_(True),
        )
    )  # fmt: skip
    return {(r.material_id, r.unit_id): (r.key_fingerprint, r.wrapped) for r in rows}


def active_key(s: Session, unit_id: uuid.UUID, material_id: uuid.UUID) -> MaterialKey | None:
    return active_keys(s, unit_id, [material_id]).get(material_id)
