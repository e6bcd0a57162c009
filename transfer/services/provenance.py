"""Provenance timelines: everything that happened to a volume or a material, in order,
each item with its log position and, once anchored, its proof reference.

A custody item and a read item (利用登记) also carry their log entry and evidence
receipt, and ``verification``: whether the row still derives the entry that was logged
(the service's own builder, :func:`transfer.services.custody.custody_entry`,
:func:`transfer.services.reads.read_entry`) and the entry's proof holds. A row
changed behind the service's back is shown flagged, never as plain history.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from notary.crypto import SM2PublicKey
from notary.entries import differing_fields, encode_entry
from notary.errors import VerificationError
from transfer.db.models import CustodyEvent, Material, ReadLogEntry, TransferEvent, Unit
from transfer.services.anchoring import anchor_ref_of, covering_checkpoint
from transfer.services.custody import custody_entry
from transfer.services.reads import read_entry
from transfer.services.receipts import entry_of, receipt_state
from transfer.services.transfers import event_entry


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


def _material_items(
    s: Session, units: _Units, materials: list[Material], keys: Keys
) -> list[dict[str, Any]]:
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
                    **_read_evidence(s, units, r, keys),
                )
            )
    return items


@dataclass(frozen=True, slots=True)
class Keys:
    """What checking custody and read items needs: the blinding secret and the log's key."""

    secret: bytes
    log_key: SM2PublicKey


def _verified(ok: bool, check: str | None = None, detail: str | None = None) -> dict[str, Any]:
    return {"ok": ok, "check": check, "detail": detail}


def _evidence(
    s: Session,
    leaf_index: int | None,
    derived: Callable[[dict[str, Any]], dict[str, Any]],
    what: str,
    log_key: SM2PublicKey,
) -> dict[str, Any]:
    """A row's entry and receipt, and whether the row (``derived``: the entry the
    service's own builder makes from it now, given the stored one) still says what was
    logged."""
    out: dict[str, Any] = {"entry": None, "receipt": None}
    if leaf_index is None:
        return out | {"verification": _verified(False, "entry", f"{what}没有日志条目")}
    try:
        rs = receipt_state(s, leaf_index, log_key)
        stored = entry_of(s, leaf_index) if rs.receipt is None else rs.receipt.entry
    except VerificationError as err:  # the stored entry or its proof fails
        return out | {"verification": _verified(False, err.check, str(err))}
    except LookupError as err:
        return out | {"verification": _verified(False, "entry", str(err))}
    out |= {"entry": stored, "receipt": None if rs.receipt is None else rs.receipt.to_json()}
    entry = derived(stored)
    if encode_entry(entry) != encode_entry(stored):
        fields = "、".join(differing_fields(entry, stored))
        return out | {
            "verification": _verified(False, "entry", f"{what}与日志条目不符（{fields}）")
        }
    return out | {"verification": _verified(True)}


def _custody_evidence(s: Session, units: _Units, e: CustodyEvent, keys: Keys) -> dict[str, Any]:
    def derived(_: dict[str, Any]) -> dict[str, Any]:
        return custody_entry(e, keys.secret, lambda u: units.code(u) or str(u))

    return _evidence(s, e.leaf_index, derived, "保管记录", keys.log_key)


def _read_evidence(s: Session, units: _Units, r: ReadLogEntry, keys: Keys) -> dict[str, Any]:
    def derived(_: dict[str, Any]) -> dict[str, Any]:
        return read_entry(r, units.code(r.unit_id) or str(r.unit_id))

    return _evidence(s, r.leaf_index, derived, "利用登记", keys.log_key)


def event_evidence(
    s: Session, e: TransferEvent, transfer_id: str, log_key: SM2PublicKey
) -> dict[str, Any]:
    """A transfer step's entry, receipt and verification, as for custody items."""

    def derived(stored: dict[str, Any]) -> dict[str, Any]:
        # The row does not keep the package root the transfer had at this step.
        root = stored.get("package_root")
        return event_entry(e, transfer_id, None if root is None else str(root))

    return _evidence(s, e.leaf_index, derived, "转递事件", log_key)


def _custody_items(
    s: Session, units: _Units, volume_id: uuid.UUID, keys: Keys
) -> list[dict[str, Any]]:
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
            **_custody_evidence(s, units, e, keys),
        )
        for e in events
    ]


def _sorted(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Log order is the true order of events; time only for items without a leaf.
    return sorted(items, key=lambda i: (i["leaf_index"] is None, i["leaf_index"] or 0, i["time"]))


def volume_timeline(s: Session, volume_id: uuid.UUID, keys: Keys) -> list[dict[str, Any]]:
    units = _Units(s)
    materials = list(s.scalars(select(Material).where(Material.volume_id == volume_id)))
    return _sorted(
        _custody_items(s, units, volume_id, keys) + _material_items(s, units, materials, keys)
    )


def material_timeline(s: Session, material: Material, keys: Keys) -> list[dict[str, Any]]:
    units = _Units(s)
    versions = list(s.scalars(select(Material).where(Material.lineage_id == material.lineage_id)))
    return _sorted(
        _custody_items(s, units, material.volume_id, keys)
        + _material_items(s, units, versions, keys)
    )
