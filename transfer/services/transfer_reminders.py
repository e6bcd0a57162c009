"""催办: the sending unit chases an overdue transfer.

A reminder is a record on the transfer, not a transition: a ``remind`` event (its log
entry like every step's, the 经办人 and the note in the row's detail only), shown to
the receiving unit in its inbox and on the transfer's page. Allowed to the sending
unit only, and only while the receiver is late (no receipt within the chase period, or
not audited within its own period after delivery).

A receiver at another archive centre sees the reminder only if it is hosted here: the
federation messages between centres carry signed acts checked against the chain
(docs/federation.md), and a reminder is no act — pushing it unsigned would let anyone
post reminders to a peer. So it is recorded here (the sender's evidence that it
chased), and the peer's staff see the overdue mark their own centre computes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from transfer.db.models import Transfer, TransferEvent
from transfer.security import Principal
from transfer.services.errors import Conflict
from transfer.services.state import ServiceState
from transfer.services.transfers import (
    commit,
    find,
    overdue_of,
    policy_from,
    record_event,
    require_sender,
)
from transfer.workflow.state import OverdueKind
from transfer.workflow.times import labelled

EVENT = "remind"
# What the sender chases: the receiver's obligations, not its own lateness.
_CHASED = {OverdueKind.NO_RECEIPT.value, OverdueKind.RECEIVER_LATE.value}


@dataclass(frozen=True, slots=True)
class Reminder:
    at: datetime
    unit_id: str | None
    handler: str | None
    note: str | None
    due: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "handler": self.handler,
            "note": self.note,
            "due": self.due,
        }


def remind(
    state: ServiceState, caller: Principal, transfer_id: str, note: str | None, now: datetime
) -> Reminder:
    """Record the sender's 催办 of an overdue transfer; Conflict when nothing is late."""
    settings = state.settings
    policy = policy_from(
        settings.transfer_sender_deadline_days,
        settings.transfer_receiver_audit_days,
        settings.transfer_overdue_days,
    )
    with state.write_sessions() as s:
        t = find(s, transfer_id, caller)
        require_sender(t, caller, "催办")
        late = [o for o in overdue_of(t, now, policy) if o["kind"] in _CHASED]
        if not late:
            raise Conflict(
                # No id in the sentence: staff read it on the transfer's own page.
                f"该转递尚未逾期，不能催办：接收单位的期限为 "
                f"{labelled(t.deadline, settings.timezone)}",
                rule="overdue-only",
                state=t.state.value,
            )
        detail: dict[str, Any] = {"due": late[0]["due"]}
        if note:
            detail["note"] = note
        row = record_event(
            s, t, EVENT, t.state.value, caller.unit_id, detail=detail, now=now,
            handler=caller.handler,
        )  # fmt: skip
        commit(s)
        return _reminder(row)


def _reminder(row: TransferEvent) -> Reminder:
    d = row.detail or {}
    return Reminder(
        at=row.created_at,
        unit_id=None if row.unit_id is None else str(row.unit_id),
        handler=d.get("handler"),
        note=d.get("note"),
        due=d.get("due"),
    )


def reminders_of(s: Session, t: Transfer) -> list[Reminder]:
    rows = s.scalars(
        select(TransferEvent)
        .where(TransferEvent.transfer_pk == t.id, TransferEvent.event == EVENT)
        .order_by(TransferEvent.id)
    )
    return [_reminder(r) for r in rows]


def reminder_count(s: Session, t: Transfer) -> int:
    return int(
        s.scalar(
            select(func.count())
            .select_from(TransferEvent)
            .where(TransferEvent.transfer_pk == t.id, TransferEvent.event == EVENT)
        )
        or 0
    )
