"""Units (单位) and their API keys. Administration is split (三员分立): the system
administrator registers units and issues operator keys; the security administrator
suspends, reinstates and revokes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from notary.crypto import SM2PublicKey
from transfer.api.deps import DbSession, StateDep, WriteSession, enforce, require
from transfer.api.errors import problem_responses
from transfer.api.pagination import Paging, page_of
from transfer.api.routes import API_V1
from transfer.api.schemas import ApiKeyCreate, ApiKeyIssued, ApiKeyOut, Page, UnitCreate, UnitOut
from transfer.api.state import AppState
from transfer.db.models import ApiKey, Unit, UnitKind, UnitStatus
from transfer.db.types import utcnow
from transfer.roles import ADMINISTRATOR_ROLES, Permission
from transfer.security import Principal, issue_api_key
from transfer.services.access_log import record_access
from transfer.services.errors import Conflict, NotFound
from transfer.services.transfer_units import give_chain_account

router = APIRouter(
    prefix=f"{API_V1}/units",
    tags=["units"],
    responses=problem_responses(401, 403, 422),
)

UnitsReader = Annotated[Principal, Depends(require(Permission.UNITS_READ))]
UnitsWriter = Annotated[Principal, Depends(require(Permission.UNITS_WRITE))]
KeyIssuer = Annotated[Principal, Depends(require(Permission.KEYS_ISSUE))]
KeyReader = Annotated[Principal, Depends(require(Permission.KEYS_READ))]
KeyRevoker = Annotated[Principal, Depends(require(Permission.KEYS_REVOKE))]
KeyApprover = Annotated[Principal, Depends(require(Permission.KEYS_APPROVE))]
Suspender = Annotated[Principal, Depends(require(Permission.UNITS_SUSPEND))]


def _unit(db: Session, unit_id: uuid.UUID) -> Unit:
    unit = db.get(Unit, unit_id)
    if unit is None:
        raise NotFound(f"单位 {unit_id} 不存在")
    return unit


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UnitOut,
    responses=problem_responses(409),
    summary="Register a unit",
)
def create_unit(body: UnitCreate, db: WriteSession, state: StateDep, caller: UnitsWriter) -> Unit:
    if db.scalar(select(Unit.id).where(Unit.code == body.code)) is not None:
        raise Conflict("该单位代码已登记（单位代码在本部署中唯一），请核对", code=body.code)
    public_key = body.public_key
    if public_key is None and state.notary is not None and body.kind is not UnitKind.ADMIN:
        # No key given: the unit is hosted here, and its envelope key (which data keys
        # are wrapped for) is generated into the deployment's key store.
        public_key = state.notary.ensure_unit_key(body.code).raw.hex()
    fingerprint = SM2PublicKey.from_hex(public_key).fingerprint().hex() if public_key else None
    unit = Unit(
        code=body.code,
        name=body.name,
        kind=body.kind,
        public_key_hex=public_key,
        key_fingerprint=fingerprint,
    )
    db.add(unit)
    db.flush()
    record_access(db, "unit.create", unit, caller.key_id)
    if body.public_key is None and public_key is not None and state.notary is not None:
        # Hosted: an account of its own on chain (admitted at once on the embedded chain,
        # else a join request for the network admin: requests/unit-<code>.json).
        give_chain_account(db, state.notary.deployment, unit)
    db.commit()
    return unit


@router.get("", response_model=Page[UnitOut], summary="List units")
def list_units(db: DbSession, _: UnitsReader, paging: Paging) -> Page[UnitOut]:
    rows = db.scalars(
        select(Unit).order_by(Unit.code).limit(paging.limit + 1).offset(paging.offset)
    ).all()
    return page_of([UnitOut.model_validate(u) for u in rows], paging)


@router.get(
    "/{unit_id}", response_model=UnitOut, responses=problem_responses(404), summary="Get a unit"
)
def get_unit(unit_id: uuid.UUID, db: DbSession, _: UnitsReader) -> Unit:
    return _unit(db, unit_id)


@router.post(
    "/{unit_id}/keys",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyIssued,
    responses=problem_responses(404),
    summary="Issue an API key (shown once)",
)
def create_key(
    unit_id: uuid.UUID,
    body: ApiKeyCreate,
    db: WriteSession,
    caller: KeyIssuer,
    response: Response,
) -> ApiKeyIssued:
    enforce(caller, Permission.KEYS_ISSUE, target_role=body.role)
    unit = _unit(db, unit_id)
    # 三员分立: the key works once the security administrator approved it (.../approve):
    # no one administrator alone obtains a key that reads archive content.
    key, text = issue_api_key(db, unit, body.role, body.label, issued_by=caller.key_id)
    record_access(db, "key.issue", unit, caller.key_id, key)
    db.commit()
    response.headers["Cache-Control"] = "no-store"
    return ApiKeyIssued.model_validate({**ApiKeyOut.model_validate(key).model_dump(), "key": text})


@router.get(
    "/{unit_id}/keys",
    response_model=list[ApiKeyOut],
    responses=problem_responses(404),
    summary="List a unit's API keys (never the keys themselves)",
)
def list_keys(unit_id: uuid.UUID, db: DbSession, _: KeyReader) -> list[ApiKey]:
    _unit(db, unit_id)
    return list(
        db.scalars(select(ApiKey).where(ApiKey.unit_id == unit_id).order_by(ApiKey.created_at))
    )


@router.post(
    "/{unit_id}/keys/{key_id}/revoke",
    response_model=ApiKeyOut,
    responses=problem_responses(404, 409),
    summary="Revoke an API key",
)
def revoke_key(
    unit_id: uuid.UUID, key_id: uuid.UUID, db: WriteSession, state: StateDep, caller: KeyRevoker
) -> ApiKey:
    key = db.get(ApiKey, key_id)
    if key is None or key.unit_id != unit_id:
        raise NotFound(f"单位 {unit_id} 没有密钥 {key_id}")
    # 三员分立: no administrator silences another (the security administrator the
    # auditor, above all); administrator keys change where they are issued.
    enforce(caller, Permission.KEYS_REVOKE, target_role=key.role)
    if key.id == caller.key_id:
        raise Conflict("密钥不能吊销自身")
    if key.revoked_at is None:  # revoking twice keeps the first time
        key.revoked_at = utcnow()
        key.revoked_by_key_id = caller.key_id
        record_access(db, "key.revoke", _unit(db, unit_id), caller.key_id, key)
        db.commit()
        state.principals.invalidate()  # after the commit: see PrincipalCache
    return key


@router.post(
    "/{unit_id}/keys/{key_id}/approve",
    response_model=ApiKeyOut,
    responses=problem_responses(404, 409),
    summary="Approve an API key issued over the API (it works from then on)",
)
def approve_key(
    unit_id: uuid.UUID, key_id: uuid.UUID, db: WriteSession, state: StateDep, caller: KeyApprover
) -> ApiKey:
    key = db.get(ApiKey, key_id)
    if key is None or key.unit_id != unit_id:
        raise NotFound(f"单位 {unit_id} 没有密钥 {key_id}")
    if key.revoked_at is not None:
        raise Conflict("该密钥已吊销，不能批准")
    enforce(caller, Permission.KEYS_APPROVE, issued_by_caller=key.issued_by_key_id == caller.key_id)
    if key.approved_at is None:  # approving twice keeps the first approval
        key.approved_at = utcnow()
        key.approved_by_key_id = caller.key_id
        record_access(db, "key.approve", _unit(db, unit_id), caller.key_id, key)
        db.commit()
        state.principals.invalidate()  # after the commit: see PrincipalCache
    return key


def _set_status(
    db: Session, state: AppState, unit_id: uuid.UUID, caller: Principal, new: UnitStatus
) -> Unit:
    unit = _unit(db, unit_id)
    if new is UnitStatus.SUSPENDED:
        holds = db.scalar(
            select(ApiKey.id).where(
                ApiKey.unit_id == unit.id,
                ApiKey.revoked_at.is_(None),
                ApiKey.role.in_(list(ADMINISTRATOR_ROLES)),
            )
        )
        enforce(
            caller,
            Permission.UNITS_SUSPEND,
            target_holds_administrator_keys=holds is not None,
            target_is_own_unit=unit.id == caller.unit_id,
        )
    if unit.status is not new:
        unit.status = new
        action = "unit.suspend" if new is UnitStatus.SUSPENDED else "unit.reinstate"
        record_access(db, action, unit, caller.key_id)
        db.commit()
        state.principals.invalidate()  # after the commit: see PrincipalCache
    return unit


@router.post(
    "/{unit_id}/suspend",
    response_model=UnitOut,
    responses=problem_responses(404, 409),
    summary="Suspend a unit (its keys stop working)",
)
def suspend_unit(unit_id: uuid.UUID, db: WriteSession, state: StateDep, caller: Suspender) -> Unit:
    return _set_status(db, state, unit_id, caller, UnitStatus.SUSPENDED)


@router.post(
    "/{unit_id}/reinstate",
    response_model=UnitOut,
    responses=problem_responses(404),
    summary="Reinstate a suspended unit",
)
def reinstate_unit(
    unit_id: uuid.UUID, db: WriteSession, state: StateDep, caller: Suspender
) -> Unit:
    return _set_status(db, state, unit_id, caller, UnitStatus.ACTIVE)
