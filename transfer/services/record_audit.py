"""What :func:`notary.audit.audit_records` reads from a deployment: the read log
(利用登记) and transfers' events, each row with the entry the service's own builder
derives from it now (:func:`transfer.services.reads.read_entry`,
:func:`transfer.services.transfers.event_entry`) and the stored entry's receipt,
unchecked; and the leaves of every ``material.read`` and ``custody.event``
``transfer.<step>`` entry the log holds, so that a deleted row shows.

Used by ``notary audit`` and the tamper battery, like
:mod:`transfer.services.custody_audit` (whose log scan, subject index reading and
receipt loading it shares): the whole-log audit scans the log, an audit of some volumes
reads the log's subject index for their materials' reads and their transfers' steps.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from notary.audit import LoggedRecord, LoggedRecords
from notary.crypto import SM2PublicKey
from notary.entries import (
    MATERIAL_READ,
    SUBJECT_READ,
    SUBJECT_TRANSFER,
    TRANSFER_EVENT_PREFIX,
    is_transfer_event,
)
from transfer.db.models import Material, ReadLogEntry, Transfer, TransferEvent, TransferVolume
from transfer.services.access_log import logged_access_events
from transfer.services.custody_audit import (
    Codes,
    indexed_leaves,
    load_receipt,
    scan_entries,
    subject_index,
)
from transfer.services.reads import read_entry
from transfer.services.transfers import event_entry

# Canonical entry bytes have sorted keys and no spaces: these mark the candidates.
_READ_MARK = f'"type":"{MATERIAL_READ}"'.encode()
_TRANSFER_MARK = f'"event":"{TRANSFER_EVENT_PREFIX}'.encode()


def read_subject(material_id: str) -> str:
    return f"{material_id}（利用登记）"


def transfer_subject(transfer_id: str) -> str:
    return f"转递 {transfer_id}"


def _logged(s: Session) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """Leaves of the logged reads by material id, of transfer steps by transfer id."""
    reads: dict[str, list[int]] = defaultdict(list)
    steps: dict[str, list[int]] = defaultdict(list)
    for idx, entry in scan_entries(s, (_READ_MARK, _TRANSFER_MARK)):
        if entry.get("type") == MATERIAL_READ:
            reads[str(entry.get("material_id"))].append(idx)
        elif is_transfer_event(entry):
            steps[str(entry.get("transfer_id"))].append(idx)
    return reads, steps


def _read_row(s: Session, r: ReadLogEntry, log_key: SM2PublicKey, codes: Codes) -> LoggedRecord:
    receipt, unreadable = load_receipt(s, r.leaf_index, log_key, "利用登记没有日志条目")
    return LoggedRecord(
        subject=f"{r.material_id}（利用登记，日志序号 {r.leaf_index}）",
        leaf_index=r.leaf_index,
        derived_entry=read_entry(r, codes(r.unit_id)),
        receipt=receipt,
        unreadable=unreadable,
    )


def _event_row(s: Session, e: TransferEvent, t: Transfer, log_key: SM2PublicKey) -> LoggedRecord:
    receipt, unreadable = load_receipt(s, e.leaf_index, log_key, "转递事件没有日志条目")
    # The row does not keep the package root the transfer had at this step (a rejected
    # transfer is packaged again): it is taken from the logged entry, which the log proves.
    logged_root: Any = None if receipt is None else receipt.entry.get("package_root")
    return LoggedRecord(
        subject=f"{transfer_subject(t.transfer_id)}（{e.event}，日志序号 {e.leaf_index}）",
        leaf_index=e.leaf_index,
        derived_entry=event_entry(e, t.transfer_id, logged_root),
        receipt=receipt,
        unreadable=unreadable,
    )


def logged_records(
    s: Session, volume_ids: Sequence[uuid.UUID] | None, *, log_key: SM2PublicKey
) -> Iterator[LoggedRecords]:
    """The read log of the given volumes' materials and the events of the transfers that
    carried them (everything if None, then the access log too), for ``audit_records``."""
    if volume_ids is None:
        yield from logged_access_events(s, log_key=log_key)
        reads_logged, steps_logged = _logged(s)
    codes = Codes(s)
    transfers = select(Transfer).order_by(Transfer.created_at, Transfer.id)
    reads = select(ReadLogEntry).order_by(ReadLogEntry.leaf_index)
    in_scope: set[str] = set()
    if volume_ids is not None:
        materials = select(Material.id).where(Material.volume_id.in_(volume_ids))
        in_scope = {str(m) for m in s.scalars(materials)}
        reads = reads.where(ReadLogEntry.material_id.in_(materials))
        carried = select(TransferVolume.transfer_pk).where(TransferVolume.volume_id.in_(volume_ids))
        transfers = transfers.where(Transfer.id.in_(carried))
        reads_logged = indexed_leaves(s, SUBJECT_READ, in_scope)
    rows: dict[str, list[ReadLogEntry]] = defaultdict(list)
    for r in s.scalars(reads):
        rows[str(r.material_id)].append(r)
    # A logged read of a material whose row is gone still names the material.
    wanted = in_scope if volume_ids is not None else rows.keys() | reads_logged.keys()
    for mid in sorted(wanted):
        if rows.get(mid) or reads_logged.get(mid):
            read_rows = rows.get(mid, [])
            index = None
            if volume_ids is not None:
                leaves = [r.leaf_index for r in read_rows]
                index = subject_index(
                    s, SUBJECT_READ, mid, reads_logged.get(mid, []), leaves, log_key
                )
            yield LoggedRecords(
                "read_log",
                read_subject(mid),
                tuple(_read_row(s, r, log_key, codes) for r in read_rows),
                tuple(reads_logged.get(mid, ())) if index is None else (),
                index=index,
            )
    carrying = list(s.scalars(transfers))
    if volume_ids is not None:
        steps_logged = indexed_leaves(s, SUBJECT_TRANSFER, {t.transfer_id for t in carrying})
    for t in carrying:
        events = s.scalars(
            select(TransferEvent)
            .where(TransferEvent.transfer_pk == t.id)
            .order_by(TransferEvent.leaf_index)
        ).all()
        logged = steps_logged.get(t.transfer_id, [])
        index = None
        if volume_ids is not None:
            step_leaves = [e.leaf_index for e in events]
            index = subject_index(s, SUBJECT_TRANSFER, t.transfer_id, logged, step_leaves, log_key)
        yield LoggedRecords(
            "transfer_events",
            transfer_subject(t.transfer_id),
            tuple(_event_row(s, e, t, log_key) for e in events),
            tuple(logged) if index is None else (),
            index=index,
        )
