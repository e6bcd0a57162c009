"""What the security administrator and the security auditor read: alerts, the read
log (利用登记) and the access log (三员分立)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy import select

from transfer.api.deps import DbSession, WriteSession, require
from transfer.api.errors import problem_responses
from transfer.api.pagination import Paging, page_of
from transfer.api.routes import API_V1
from transfer.api.schemas import AccessEventOut, AlertOut, Page, ReadLogOut
from transfer.db.models import AccessEvent, Alert, ReadLogEntry
from transfer.db.types import utcnow
from transfer.roles import Permission
from transfer.security import Principal
from transfer.services.errors import NotFound

router = APIRouter(prefix=API_V1, tags=["audit"], responses=problem_responses(401, 403, 422))

AlertReader = Annotated[Principal, Depends(require(Permission.ALERTS_READ))]
AlertAcker = Annotated[Principal, Depends(require(Permission.ALERTS_ACK))]
ReadLogReader = Annotated[Principal, Depends(require(Permission.READ_LOG_READ))]
AuditReader = Annotated[Principal, Depends(require(Permission.AUDIT_READ))]


@router.get("/alerts", response_model=Page[AlertOut], summary="Alerts, newest first")
def list_alerts(
    db: DbSession, _: AlertReader, paging: Paging, unacknowledged: bool = False
) -> Page[AlertOut]:
    query = select(Alert)
    if unacknowledged:
        query = query.where(Alert.acknowledged_at.is_(None))
    rows = db.scalars(
        query.order_by(Alert.created_at.desc(), Alert.id)
        .limit(paging.limit + 1)
        .offset(paging.offset)
    ).all()
    return page_of([AlertOut.model_validate(a) for a in rows], paging)


@router.post(
    "/alerts/{alert_id}/ack",
    response_model=AlertOut,
    responses=problem_responses(404),
    summary="Acknowledge an alert",
)
def acknowledge_alert(alert_id: uuid.UUID, db: WriteSession, _: AlertAcker) -> Alert:
    alert = db.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"alert {alert_id} does not exist")
    if alert.acknowledged_at is None:
        alert.acknowledged_at = utcnow()
        db.commit()
    return alert


@router.get(
    "/read-log", response_model=Page[ReadLogOut], summary="The read log (利用登记), newest first"
)
def read_log(
    db: DbSession,
    _: ReadLogReader,
    paging: Paging,
    material_id: uuid.UUID | None = None,
    unit_id: uuid.UUID | None = None,
) -> Page[ReadLogOut]:
    query = select(ReadLogEntry)
    if material_id is not None:
        query = query.where(ReadLogEntry.material_id == material_id)
    if unit_id is not None:
        query = query.where(ReadLogEntry.unit_id == unit_id)
    rows = db.scalars(
        query.order_by(ReadLogEntry.created_at.desc(), ReadLogEntry.id)
        .limit(paging.limit + 1)
        .offset(paging.offset)
    ).all()
    return page_of([ReadLogOut.model_validate(r) for r in rows], paging)


@router.get(
    "/access-log",
    response_model=Page[AccessEventOut],
    summary="The access log: every change of keys and units, over the API or at the server "
    "console (三员分立), newest first",
)
def access_log(
    db: DbSession, _: AuditReader, paging: Paging, unit_id: uuid.UUID | None = None
) -> Page[AccessEventOut]:
    query = select(AccessEvent)
    if unit_id is not None:
        query = query.where(AccessEvent.unit_id == unit_id)
    rows = db.scalars(
        query.order_by(AccessEvent.created_at.desc(), AccessEvent.id)
        .limit(paging.limit + 1)
        .offset(paging.offset)
    ).all()
    return page_of([AccessEventOut.model_validate(r) for r in rows], paging)
