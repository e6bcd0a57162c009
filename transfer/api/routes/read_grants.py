"""Read grants (在线阅档): 查阅申请 → 审批 → a time-limited grant (分级授权).

A reader applies; an operator of the unit holding the volumes approves, refuses or
revokes; the auditor lists them all. Every step is an anchored ``access.event``
(transfer/services/read_grants.py). Readers read through the usual content route and
``/v1/materials/{id}/pages/{n}``, each read checked against the grants.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from notary.entries import CATEGORIES
from transfer.api.deps import CurrentPrincipal, DbSession, WriteSession, require
from transfer.api.errors import problem_responses
from transfer.api.materials_view import list_volume_materials
from transfer.api.routes import API_V1
from transfer.api.schemas import MaterialOut, ReadGrantApply, ReadGrantOut, ReadGrantRefuse
from transfer.db.models import ReadGrant
from transfer.db.types import utcnow
from transfer.roles import Permission
from transfer.security import Principal
from transfer.services import read_grants as grants
from transfer.services.errors import Forbidden

router = APIRouter(
    prefix=f"{API_V1}/read-grants",
    tags=["read grants"],
    responses=problem_responses(401, 403, 404, 409, 422),
)

Applicant = Annotated[Principal, Depends(require(Permission.READ_GRANTS_APPLY))]
Decider = Annotated[Principal, Depends(require(Permission.READ_GRANTS_DECIDE))]


def get_read_clock(request: Request) -> Callable[[], datetime]:
    """The time grants are judged at; tests set ``app.state.read_clock``."""
    clock: Callable[[], datetime] = getattr(request.app.state, "read_clock", utcnow)
    return clock


ReadClock = Annotated[Callable[[], datetime], Depends(get_read_clock)]


def _lister(caller: CurrentPrincipal) -> Principal:
    if not (
        caller.can(Permission.READ_GRANTS_APPLY)
        or caller.can(Permission.READ_GRANTS_DECIDE)
        or caller.can(Permission.READ_GRANTS_AUDIT)
    ):
        raise Forbidden(
            f"role '{caller.role}' does not grant '{Permission.READ_GRANTS_AUDIT}'",
            role=str(caller.role),
            permission=str(Permission.READ_GRANTS_AUDIT),
        )
    return caller


Lister = Annotated[Principal, Depends(_lister)]


def _out(db: DbSession, grant: ReadGrant, now: datetime) -> ReadGrantOut:
    return ReadGrantOut.model_validate(grants.grant_view(db, grant, now))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ReadGrantOut,
    summary="Apply to read categories of volumes (查阅申请); pending until approved",
)
def apply_grant(
    body: ReadGrantApply, db: WriteSession, caller: Applicant, clock: ReadClock
) -> ReadGrantOut:
    now = clock()
    grant = grants.apply(
        db,
        caller,
        volume_ids=body.volume_ids,
        categories=body.categories,
        purpose=body.purpose,
        expires_at=body.expires_at,
        now=now,
    )
    db.commit()
    return _out(db, grant, now)


@router.get(
    "",
    response_model=list[ReadGrantOut],
    summary="Grants: a reader's own, an operator's unit's (as holder), the auditor's all; "
    "newest first",
)
def list_grants(
    db: DbSession, caller: Lister, clock: ReadClock, state: str | None = None
) -> list[ReadGrantOut]:
    now = clock()
    everything = caller.can(Permission.READ_GRANTS_AUDIT)
    rows = [_out(db, g, now) for g in grants.visible_grants(db, caller, everything=everything)]
    return [r for r in rows if state is None or r.state == state]


@router.get("/{grant_id}", response_model=ReadGrantOut, summary="One grant")
def get_grant(grant_id: uuid.UUID, db: DbSession, caller: Lister, clock: ReadClock) -> ReadGrantOut:
    everything = caller.can(Permission.READ_GRANTS_AUDIT)
    return _out(db, grants.visible_grant(db, caller, grant_id, everything=everything), clock())


@router.get(
    "/{grant_id}/materials",
    response_model=list[MaterialOut],
    summary="The materials a valid grant lets its reader read, in 类号-序号 order",
)
def grant_materials(
    grant_id: uuid.UUID, db: DbSession, caller: Lister, clock: ReadClock
) -> list[MaterialOut]:
    now = clock()
    grant = grants.visible_grant(db, caller, grant_id, everything=False)
    wanted = {m.id for m in grants.granted_materials(db, grant, now)}
    if not wanted:
        return []
    out = [
        m
        for v in dict.fromkeys(grant.volume_ids)
        for m in list_volume_materials(db, uuid.UUID(v), all_versions=False)
        if m.id in wanted
    ]
    order = {c: i for i, c in enumerate(CATEGORIES)}
    out.sort(key=lambda m: (grant.volume_ids.index(str(m.volume_id)), order[m.category], m.seq_no))
    return out


@router.post("/{grant_id}/approve", response_model=ReadGrantOut, summary="Approve (审批通过)")
def approve_grant(
    grant_id: uuid.UUID, db: WriteSession, caller: Decider, clock: ReadClock
) -> ReadGrantOut:
    now = clock()
    grant = grants.approve(db, caller, grant_id, now)
    db.commit()
    return _out(db, grant, now)


@router.post("/{grant_id}/refuse", response_model=ReadGrantOut, summary="Refuse (不予批准)")
def refuse_grant(
    grant_id: uuid.UUID,
    db: WriteSession,
    caller: Decider,
    clock: ReadClock,
    body: ReadGrantRefuse | None = None,
) -> ReadGrantOut:
    now = clock()
    grant = grants.refuse(db, caller, grant_id, None if body is None else body.reason, now)
    db.commit()
    return _out(db, grant, now)


@router.post("/{grant_id}/revoke", response_model=ReadGrantOut, summary="Revoke a grant (撤销)")
def revoke_grant(
    grant_id: uuid.UUID, db: WriteSession, caller: Decider, clock: ReadClock
) -> ReadGrantOut:
    now = clock()
    grant = grants.revoke(db, caller, grant_id, now)
    db.commit()
    return _out(db, grant, now)
