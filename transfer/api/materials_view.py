"""Reading materials as the API shows them: archive order, current version, history."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from notary.entries import CATEGORIES
from transfer.api.schemas import MaterialDetail, MaterialOut, MaterialVersionOut
from transfer.db.models import Material

_CATEGORY_ORDER = {c: i for i, c in enumerate(CATEGORIES)}


def _superseded_ids(db: Session, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    if not ids:
        return set()
    rows = db.scalars(select(Material.supersedes_id).where(Material.supersedes_id.in_(ids))).all()
    return {r for r in rows if r is not None}


def _out(material: Material, current: bool) -> MaterialOut:
    return MaterialOut.model_validate(
        {
            **{c: getattr(material, c) for c in MaterialOut.model_fields if hasattr(material, c)},
            "current": current,
            "designation": f"{material.category}-{material.seq_no}-{material.pages}",
        }
    )


def list_volume_materials(
    db: Session, volume_id: uuid.UUID, *, all_versions: bool
) -> list[MaterialOut]:
    if all_versions:
        rows = list(db.scalars(select(Material).where(Material.volume_id == volume_id)))
        superseded = _superseded_ids(db, [m.id for m in rows])
    else:
        successor = aliased(Material)
        rows = list(
            db.scalars(
                select(Material).where(
                    Material.volume_id == volume_id,
                    ~select(successor.id).where(successor.supersedes_id == Material.id).exists(),
                )
            )
        )
        superseded = set()
    # Category order is the standard's (4-1 before 10), not the string order.
    rows.sort(
        key=lambda m: (_CATEGORY_ORDER.get(m.category, 99), m.formation_date, m.seq_no, m.version)
    )
    return [_out(m, m.id not in superseded) for m in rows]


def material_detail(db: Session, material: Material) -> MaterialDetail:
    versions = list(
        db.scalars(
            select(Material)
            .where(Material.lineage_id == material.lineage_id)
            .order_by(Material.version)
        )
    )
    current = all(v.supersedes_id != material.id for v in versions)
    return MaterialDetail.model_validate(
        {
            **_out(material, current).model_dump(),
            "versions": [MaterialVersionOut.model_validate(v) for v in versions],
        }
    )
