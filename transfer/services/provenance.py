"""Provenance timelines: everything that happened to a volume or a material, in order,
each item with its log position and, once anchored, its proof reference."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from transfer.db.models import CustodyEvent, Material, ReadLogEntry, Unit
from transfer.services.anchoring import anchor_ref_of, covering_checkpoint


def proof_ref(session: Session, leaf_index: int | None) -> dict[str, Any] | None:
    """Where to get the proof of a leaf: its covering checkpoint and anchor."""
    if leaf_index is None:
        return None
    row = covering_checkpoint(session, leaf_index)
    if row is None:
        return {"leaf_index": leaf_index, "anchored": False, "tree_size": None, "anchor": None}
    anchor = anchor_ref_of(row)
    return {
        "leaf_index": leaf_index,
        "anchored": anchor is not None,
        "tree_size": row.tree_size,
        "inclusion_url": f"/v1/log/inclusion?leaf_index={leaf_index}&tree_size={row.tree_size}",
        "anchor": None if anchor is None else anchor.to_json(),
    }


class _Units:
    def __init__(self, session: Session) -> None:
        self._session = session
        self._codes: dict[uuid.UUID, str] = {}

    def code(self, unit_id: uuid.UUID | None) -> str | None:
        if unit_id is None:
            return None
        if unit_id not in self._codes:
            unit = self._session.get(Unit, unit_id)
            self._codes[unit_id] = unit.code if unit is not None else str(unit_id)
        return self._codes[unit_id]


def _item(kind: str, at: datetime, leaf: int | None, s: Session, **extra: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "time": at.isoformat(),
        "leaf_index": leaf,
        "proof": proof_ref(s, leaf),
        **extra,
    }


def _material_items(s: Session, units: _Units, materials: list[Material]) -> list[dict[str, Any]]:
    items = []
    for m in materials:
        items.append(
            _item(
                "registered" if m.version == 1 else "corrected",
                m.created_at,
                m.leaf_index,
                s,
                material_id=str(m.id),
                version=m.version,
                supersedes=None if m.supersedes_id is None else str(m.supersedes_id),
                sm3=m.sm3,
                unit=units.code(m.registered_by_unit_id),
                receipt_url=f"/v1/materials/{m.id}/receipt",
            )
        )
    ids = [m.id for m in materials]
    if ids:
        reads = s.scalars(select(ReadLogEntry).where(ReadLogEntry.material_id.in_(ids))).all()
        for r in reads:
            items.append(
                _item(
                    "read",
                    r.created_at,
                    r.leaf_index,
                    s,
                    material_id=str(r.material_id),
                    unit=units.code(r.unit_id),
                    purpose=r.purpose,
                )
            )
    return items


def _custody_items(s: Session, units: _Units, volume_id: uuid.UUID) -> list[dict[str, Any]]:
    events = s.scalars(select(CustodyEvent).where(CustodyEvent.volume_id == volume_id)).all()
    return [
        _item(
            f"custody.{e.kind}",
            e.created_at,
            e.leaf_index,
            s,
            from_unit=units.code(e.from_unit_id),
            to_unit=units.code(e.to_unit_id),
            tx_hash=e.tx_hash,
        )
        for e in events
    ]


def _sorted(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Log order is the true order of events; time only for items without a leaf.
    return sorted(items, key=lambda i: (i["leaf_index"] is None, i["leaf_index"] or 0, i["time"]))


def volume_timeline(s: Session, volume_id: uuid.UUID) -> list[dict[str, Any]]:
    units = _Units(s)
    materials = list(s.scalars(select(Material).where(Material.volume_id == volume_id)))
    return _sorted(_custody_items(s, units, volume_id) + _material_items(s, units, materials))


def material_timeline(s: Session, material: Material) -> list[dict[str, Any]]:
    units = _Units(s)
    versions = list(s.scalars(select(Material).where(Material.lineage_id == material.lineage_id)))
    return _sorted(
        _custody_items(s, units, material.volume_id) + _material_items(s, units, versions)
    )
