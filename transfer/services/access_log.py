"""The access log (三员分立): every change of who may do what — a key issued, approved or
revoked, a unit created, suspended or reinstated, over the API or at the server console
(``notary init``, ``notary unit add``) — is a row of ``access_events`` naming who made
it (the administrator key, or ``console:<OS user>``), and a log entry
(``access.event``) appended in the same transaction, anchored like every other. The
steps of a read grant (在线阅档: ``grant.apply|approve|refuse|revoke``) are access events
too, naming the grant (transfer/services/read_grants.py).

The auditor lists it (``GET /v1/access-log``); ``notary audit`` re-derives each row's
entry, checks its proof and anchor, and that every logged ``access.event`` has its row
(:func:`logged_access_events`, checked by :func:`notary.audit.audit_records`).
"""

from __future__ import annotations

import getpass
import os
import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from notary.audit import LoggedRecord, LoggedRecords
from notary.crypto import SM2PublicKey
from notary.entries import ACCESS_EVENT, access_event
from transfer.db.models import AccessEvent, ApiKey, Unit
from transfer.db.types import utcnow
from transfer.services.custody_audit import Codes, load_receipt, scan_entries
from transfer.services.logwriter import append_entries

_MARK = f'"type":"{ACCESS_EVENT}"'.encode()
SUBJECT = "权限变更（三员分立）"


def access_entry(row: AccessEvent, unit_code: str) -> dict[str, Any]:
    """The ``access.event`` entry a row stands for: derived when the change is logged and
    again by the audit."""
    return access_event(
        action=row.action,
        unit=unit_code,
        actor=actor_of(row),
        key=None if row.key_id is None else str(row.key_id),
        role=row.role,
        grant=None if row.grant_id is None else str(row.grant_id),
        time_ms=int(row.created_at.timestamp() * 1000),
    )


CONSOLE = "console:"


def actor_of(row: AccessEvent) -> str | None:
    """Who made the change, as the entry names it: the administrator key's id, or
    ``console:<OS user>`` for the server console (None: a row from before 0008)."""
    if row.actor_key_id is not None:
        return str(row.actor_key_id)
    return None if row.console_user is None else CONSOLE + row.console_user


def console_user() -> str:
    """The OS user running the console command (``notary unit add`` …)."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER
        name = f"uid{os.getuid()}"
    return "".join(c for c in name if c.isprintable())[:64] or f"uid{os.getuid()}"


def record_access(
    s: Session,
    action: str,
    unit: Unit,
    actor_key_id: uuid.UUID | None,
    key: ApiKey | None = None,
    grant_id: uuid.UUID | None = None,
    *,
    console: str | None = None,
) -> AccessEvent:
    """Adds the row and appends its entry in the caller's transaction (not committed):
    the change, its row and its entry are committed together or not at all.
    ``actor_key_id``: the administrator key over the API; else ``console``, the OS user
    at the server console (:func:`console_user`)."""
    if (actor_key_id is None) == (console is None):
        raise ValueError("an access event names exactly one actor: a key or the console")
    row = AccessEvent(
        action=action,
        unit_id=unit.id,
        actor_key_id=actor_key_id,
        console_user=console,
        key_id=None if key is None else key.id,
        role=None if key is None else str(key.role),
        grant_id=grant_id,
        created_at=utcnow(),
    )
    row.leaf_index = append_entries(s, [access_entry(row, unit.code)]).start
    s.add(row)
    return row


def logged_access_events(s: Session, *, log_key: SM2PublicKey) -> Iterator[LoggedRecords]:
    """Every access-log row with its derived entry and stored receipt, and the leaves of
    every ``access.event`` the log holds (a deleted row shows), for ``audit_records``."""
    logged = tuple(idx for idx, _ in scan_entries(s, (_MARK,)))
    codes = Codes(s)
    rows = []
    for r in s.scalars(select(AccessEvent).order_by(AccessEvent.leaf_index)):
        receipt, unreadable = load_receipt(s, r.leaf_index, log_key, "权限变更没有日志条目")
        rows.append(
            LoggedRecord(
                subject=f"{r.action}（单位 {codes(r.unit_id)}，日志序号 {r.leaf_index}）",
                leaf_index=r.leaf_index,
                derived_entry=access_entry(r, codes(r.unit_id)),
                receipt=receipt,
                unreadable=unreadable,
            )
        )
    if rows or logged:
        yield LoggedRecords("access_events", SUBJECT, tuple(rows), logged)
