"""Custody facts of a volume: a ``custody_events`` row and its ``custody.event`` log entry.

The entry is always derived from the row by :func:`custody_entry`, when the service
appends it and again whenever someone checks the row (the audit, provenance): a row
changed afterwards no longer derives the entry that was logged and anchored.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from notary.entries import custody_event
from transfer.db.models import CustodyEvent
from transfer.db.types import utcnow
from transfer.services.ingest import volume_ref
from transfer.services.logwriter import append_entries

UnitCode = Callable[[uuid.UUID], str]


def time_ms(row: CustodyEvent) -> int:
    return int(row.created_at.timestamp() * 1000)


def custody_entry(row: CustodyEvent, secret: bytes, unit_code: UnitCode) -> dict[str, Any]:
    """The log entry ``row`` stands for (units by code, the volume blinded)."""
    transfer_id = (row.detail or {}).get("transfer_id")
    return custody_event(
        event=str(row.kind),
        volume=volume_ref(secret, row.volume_id),
        time_ms=time_ms(row),
        from_unit=None if row.from_unit_id is None else unit_code(row.from_unit_id),
        to_unit=None if row.to_unit_id is None else unit_code(row.to_unit_id),
        transfer_id=None if transfer_id is None else str(transfer_id),
        tx=row.tx_hash,
    )


def append_custody(s: Session, secret: bytes, row: CustodyEvent, unit_code: UnitCode) -> None:
    """Log ``row``'s entry and add the row with its leaf index (not committed)."""
    if row.created_at is None:
        row.created_at = utcnow()
    row.leaf_index = append_entries(s, [custody_entry(row, secret, unit_code)]).start
    s.add(row)
