"""Transfers (转递) between units, in one deployment or between two sharing a chain.

The sending unit creates the notice, packages (data keys re-wrapped for the receiver;
bag tarred into the content store) and dispatches (signed act; ``dispatchVolume`` per
volume). The receiving unit — here, or in another deployment after
``POST /v1/transfers/incoming`` — takes the package (online by CID, or as a file),
verifies it (四性 per material), and signs a receipt (custody moves on chain) or a
rejection. Acts of hosted units are signed by the service (docs/transfer-service.md).
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from transfer.api.bodylimit import IMPORT_MAX_BYTES
from transfer.api.deps import DbSession, Notary, StateDep, require
from transfer.api.errors import problem_responses
from transfer.api.routes import API_V1
from transfer.api.state import AppState
from transfer.db.models import Transfer, TransferState, Unit
from transfer.db.types import utcnow
from transfer.fields import (
    Identifier,
    Label,
    ReasonCode,
    ReasonText,
    TransferNo,
    UnitCode,
)
from transfer.roles import Permission
from transfer.security import Principal
from transfer.services import federation
from transfer.services import transfer_receive as receive
from transfer.services import transfer_reminders as reminders
from transfer.services import transfer_send as send
from transfer.services import transfers as svc
from transfer.services.errors import Conflict, NotFound, PayloadTooLarge, UnsupportedMediaType
from transfer.services.provenance import event_evidence
from transfer.services.transfer_package import tar_path
from transfer.workflow.acts import Reason
from transfer.workflow.notice import Classification
from transfer.workflow.results import Property

router = APIRouter(
    prefix=f"{API_V1}/transfers",
    tags=["transfers"],
    responses=problem_responses(401, 403, 404, 409, 422),
)

Operator = Annotated[Principal, Depends(require(Permission.TRANSFERS))]
Admin = Annotated[Principal, Depends(require(Permission.UNITS_WRITE))]


def get_clock(request: Request) -> Callable[[], datetime]:
    """The time source of deadlines and acts; tests set ``app.state.transfer_clock``."""
    clock: Callable[[], datetime] = getattr(request.app.state, "transfer_clock", utcnow)
    return clock


ClockDep = Annotated[Callable[[], datetime], Depends(get_clock)]


class TransferCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    transfer_no: TransferNo = Field(description="转递编号")
    volume_ids: list[uuid.UUID] = Field(min_length=1, max_length=100)
    receiver: UnitCode = Field(description="接收单位代码")
    reason: ReasonText = Field(description="转递原因")
    classification: Classification = Classification.CONFIDENTIAL
    transfer_id: Identifier | None = None


class TransferOut(BaseModel):
    transfer_id: str
    transfer_no: str
    direction: str
    state: str
    sender: str
    receiver: str
    deadline: datetime
    created_at: datetime
    dispatched_at: datetime | None
    delivered_at: datetime | None
    closed_at: datetime | None
    package_root: str | None
    package_cid: str | None
    dispatch_hash: str | None
    outcome_hash: str | None
    row_version: int
    chain_volumes: dict[str, str]
    notice: dict[str, Any]
    dispatch: dict[str, Any] | None
    outcome: dict[str, Any] | None
    dispatch_handler: str | None = Field(
        default=None, description="经办人 named in the signed dispatch act (null: 未登记)"
    )
    outcome_handler: str | None = Field(
        default=None, description="经办人 named in the signed receipt or rejection"
    )
    reminders: list[dict[str, Any]] = Field(
        default_factory=list,
        description="催办 by the sending unit, oldest first: {at, handler, note, due}",
    )


class IncomingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dispatch: dict[str, Any] = Field(description="The sender's signed dispatch act.")
    chain_volumes: dict[str, str] = Field(description="notice volume id → chain volume id")
    package_cid: str | None = Field(default=None, max_length=128)


class ReasonIn(BaseModel):
    code: ReasonCode
    detail: str = Field(max_length=500)
    material_id: str | None = None
    property: Property | None = None


class ActIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    act: dict[str, Any] | None = Field(
        default=None, description="A signed act; without it the service signs for the unit."
    )
    reasons: list[ReasonIn] | None = None


class PeerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: UnitCode
    url: str = Field(
        min_length=8,
        max_length=500,
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description="The peer centre's service URL; everything else is read from it "
        "and checked against the chain's member registry.",
    )


def _out(db: Session, t: Transfer) -> TransferOut:
    sender, receiver = db.get(Unit, t.sender_unit_id), db.get(Unit, t.receiver_unit_id)
    assert sender is not None and receiver is not None
    return TransferOut(
        transfer_id=t.transfer_id,
        transfer_no=t.transfer_no,
        direction=t.direction.value,
        state=t.state.value,
        sender=sender.code,
        receiver=receiver.code,
        deadline=t.deadline,
        created_at=t.created_at,
        dispatched_at=t.dispatched_at,
        delivered_at=t.delivered_at,
        closed_at=t.closed_at,
        package_root=t.package_root,
        package_cid=t.package_cid,
        dispatch_hash=t.dispatch_hash,
        outcome_hash=t.outcome_hash,
        row_version=t.row_version,
        chain_volumes={tv.notice_volume_id: tv.chain_volume_id for tv in svc.volumes_of(db, t)},
        notice=t.notice,
        dispatch=t.dispatch_act,
        outcome=t.outcome_act,
        dispatch_handler=_handler(t.dispatch_act),
        outcome_handler=_handler(t.outcome_act),
        reminders=[r.to_json() for r in reminders.reminders_of(db, t)],
    )


def _handler(act: dict[str, Any] | None) -> str | None:
    body = None if act is None else act.get("body")
    name = body.get("handler") if isinstance(body, dict) else None
    return name if isinstance(name, str) else None


def _fresh(state: AppState, caller: Principal, transfer_id: str) -> TransferOut:
    with state.sessions() as s:
        return _out(s, svc.find(s, transfer_id, caller))


# ---------------------------------------------------------------- collection


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TransferOut,
    summary="Create a transfer: the notice (转递通知单)",
)
def create(
    body: TransferCreate, state: StateDep, ctx: Notary, caller: Operator, clock: ClockDep
) -> TransferOut:
    new = send.NewTransfer(
        body.transfer_no,
        body.volume_ids,
        body.receiver,
        body.reason,
        body.classification,
        body.transfer_id,
    )
    t = send.create_transfer(state, ctx, caller, new, clock())
    return _fresh(state, caller, t.transfer_id)


@router.get("", response_model=list[TransferOut], summary="The caller's transfers")
def list_all(
    db: DbSession,
    caller: Operator,
    role: Annotated[Literal["incoming", "outgoing"] | None, Query()] = None,
    state: Annotated[TransferState | None, Query()] = None,
) -> list[TransferOut]:
    return [_out(db, t) for t in svc.list_transfers(db, caller, svc.Listing(role, state))]


@router.get(
    "/pending",
    response_model=list[TransferOut],
    summary="Transfers waiting for the caller's unit to act",
)
def pending(db: DbSession, caller: Operator) -> list[TransferOut]:
    return [_out(db, t) for t in svc.pending(db, caller)]


@router.get("/overdue", summary="Transfers past a deadline (逾期), with what is late")
def overdue(
    db: DbSession, state: StateDep, caller: Operator, clock: ClockDep
) -> list[dict[str, Any]]:
    s = state.settings
    policy = svc.policy_from(
        s.transfer_sender_deadline_days, s.transfer_receiver_audit_days, s.transfer_overdue_days
    )
    return [
        {"transfer": _out(db, t).model_dump(mode="json"), "overdue": late}
        for t, late in svc.overdue_list(db, caller, clock(), policy)
    ]


@router.post(
    "/peers",
    status_code=status.HTTP_201_CREATED,
    summary="Trust another archive centre: its keys are read from it and checked on chain",
)
def add_peer(body: PeerIn, state: StateDep, ctx: Notary, caller: Admin) -> dict[str, Any]:
    return federation.add_peer(state, ctx, body.code, body.url, federation.fetcher_of(state))


@router.get("/peers", summary="The archive centres this deployment transfers with")
def list_peers(db: DbSession, caller: Admin) -> list[dict[str, Any]]:
    return federation.list_peers(db)


@router.post(
    "/incoming",
    status_code=status.HTTP_201_CREATED,
    response_model=TransferOut,
    summary="Take in a dispatch from another deployment (checked against the chain)",
)
def incoming(
    body: IncomingIn, state: StateDep, ctx: Notary, caller: Operator, clock: ClockDep
) -> TransferOut:
    t = receive.register_incoming(
        state, ctx, caller, body.dispatch, body.chain_volumes, body.package_cid, clock()
    )
    return _fresh(state, caller, t.transfer_id)


# ---------------------------------------------------------------- one transfer


@router.get("/{transfer_id}", response_model=TransferOut, summary="Get a transfer")
def get(transfer_id: str, db: DbSession, caller: Operator) -> TransferOut:
    return _out(db, svc.find(db, transfer_id, caller))


@router.get("/{transfer_id}/timeline", summary="Events (with log leaves) and custody on chain")
def timeline(transfer_id: str, db: DbSession, ctx: Notary, caller: Operator) -> dict[str, Any]:
    t = svc.find(db, transfer_id, caller)
    return {
        "transfer_id": t.transfer_id,
        "state": t.state.value,
        "events": [
            {
                "event": e.event,
                "from": e.from_state,
                "to": e.to_state,
                "at": e.created_at.isoformat(),
                "leaf_index": e.leaf_index,
                "tx": e.tx_hashes,
                "detail": e.detail,
                **event_evidence(db, e, t.transfer_id, ctx.log_public_key),
            }
            for e in svc.events_of(db, t)
        ],
        "chain": [svc.chain_view(ctx.deployment.chain, tv) for tv in svc.volumes_of(db, t)],
    }


@router.post(
    "/{transfer_id}/package",
    response_model=TransferOut,
    summary="Build the package: re-wrap keys for the receiver, bag, tar into the store",
)
def package(
    transfer_id: str, state: StateDep, ctx: Notary, caller: Operator, clock: ClockDep
) -> TransferOut:
    send.package_transfer(state, ctx, caller, transfer_id, clock())
    return _fresh(state, caller, transfer_id)


@router.post(
    "/{transfer_id}/dispatch",
    response_model=TransferOut,
    summary="Sign the dispatch act and dispatch every volume on chain",
)
def dispatch(
    transfer_id: str, state: StateDep, ctx: Notary, caller: Operator, clock: ClockDep
) -> TransferOut:
    send.dispatch_transfer(state, ctx, caller, transfer_id, clock())
    # To a unit of a peer centre: hand the dispatch over now (the outbox retries).
    federation.push_dispatch(state, ctx, transfer_id)
    return _fresh(state, caller, transfer_id)


@router.get(
    "/{transfer_id}/package.tar",
    response_class=FileResponse,
    summary="The package as one file, for offline delivery (机要)",
)
def package_tar(transfer_id: str, db: DbSession, state: StateDep, caller: Operator) -> FileResponse:
    t = svc.find(db, transfer_id, caller)
    svc.require_sender(t, caller, "导出转递包")
    path = tar_path(state.settings.home, transfer_id)
    if t.package_root is None or not path.exists():
        raise NotFound("该转递尚未打包")
    return FileResponse(path, media_type="application/x-tar", filename=f"{transfer_id}.tar")


@router.post(
    "/{transfer_id}/deliver",
    response_model=TransferOut,
    summary="Online delivery: fetch the package by CID from the shared store",
)
def deliver(
    transfer_id: str, state: StateDep, ctx: Notary, caller: Operator, clock: ClockDep
) -> TransferOut:
    receive.deliver(state, ctx, caller, transfer_id, clock())
    return _fresh(state, caller, transfer_id)


@router.post(
    "/{transfer_id}/import",
    response_model=TransferOut,
    summary="Offline delivery: the package file as the request body (application/x-tar)",
)
async def import_package(
    transfer_id: str,
    request: Request,
    state: StateDep,
    ctx: Notary,
    caller: Operator,
    clock: ClockDep,
) -> TransferOut:
    # The caller, the transfer and its state first: nothing is read for a transfer
    # that does not exist, is not the caller's to receive or is not awaiting delivery.
    await run_in_threadpool(receive.check_deliverable, state, caller, transfer_id)
    ctype = request.headers.get("content-type", "").lower()
    if not ctype.startswith(("application/x-tar", "application/octet-stream")):
        raise UnsupportedMediaType("转递包须以 Content-Type: application/x-tar 上传")
    limit = IMPORT_MAX_BYTES  # also counted by the body gate
    spool = state.settings.home / "tmp"  # inside the home (its permissions), never /tmp
    spool.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=spool, prefix="import-") as fh:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"转递包超过上限 {limit} 字节", limit=limit)
            fh.write(chunk)
        fh.seek(0)
        await run_in_threadpool(receive.deliver, state, ctx, caller, transfer_id, clock(), fh)
    return await run_in_threadpool(_fresh, state, caller, transfer_id)


@router.post(
    "/{transfer_id}/verify",
    response_model=TransferOut,
    summary="Verify every material (四性) and record the results",
)
def verify(transfer_id: str, state: StateDep, ctx: Notary, caller: Operator) -> TransferOut:
    receive.verify(state, ctx, caller, transfer_id)
    return _fresh(state, caller, transfer_id)


@router.get("/{transfer_id}/report", summary="The verification report (四性 per material)")
def report(transfer_id: str, db: DbSession, caller: Operator) -> dict[str, Any]:
    t = svc.find(db, transfer_id, caller)
    if t.report is None:
        raise Conflict("该转递尚未核验")
    rep = receive.report_of(t)
    return {
        "transfer_id": t.transfer_id,
        "accepted": rep.accepted,
        "summary": rep.summary_zh(),
        "results": t.report,
    }


@router.post(
    "/{transfer_id}/receipt",
    response_model=TransferOut,
    summary="Accept: the receipt (回执); custody moves to the receiver on chain",
)
def receipt(
    transfer_id: str,
    state: StateDep,
    ctx: Notary,
    caller: Operator,
    clock: ClockDep,
    body: ActIn | None = None,
) -> JSONResponse:
    _, created = receive.accept(
        state, ctx, caller, transfer_id, None if body is None else body.act, clock()
    )
    federation.push_outcome(state, ctx, transfer_id)
    out = _fresh(state, caller, transfer_id)
    return JSONResponse(out.model_dump(mode="json"), status_code=201 if created else 200)


@router.post(
    "/{transfer_id}/rejection",
    response_model=TransferOut,
    summary="Reject (退回) with reasons; custody stays with the sender",
)
def rejection(
    transfer_id: str,
    state: StateDep,
    ctx: Notary,
    caller: Operator,
    clock: ClockDep,
    body: ActIn | None = None,
) -> TransferOut:
    reasons = None
    if body is not None and body.reasons:
        reasons = [Reason(r.code, r.detail, r.material_id, r.property) for r in body.reasons]
    receive.reject(
        state, ctx, caller, transfer_id, None if body is None else body.act, reasons, clock()
    )
    federation.push_outcome(state, ctx, transfer_id)
    return _fresh(state, caller, transfer_id)


@router.post(
    "/{transfer_id}/return", response_model=TransferOut, summary="Take back a rejected transfer"
)
def return_(transfer_id: str, state: StateDep, ctx: Notary, caller: Operator) -> TransferOut:
    send.return_transfer(state, ctx, caller, transfer_id)
    return _fresh(state, caller, transfer_id)


class ResendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    transfer_no: str | None = Field(
        default=None, min_length=1, max_length=64, description="转递编号 (default: the same)"
    )
    transfer_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class ReminderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Label | None = Field(default=None, description="附言 (shown to the receiving unit)")


@router.post(
    "/{transfer_id}/reminders",
    status_code=status.HTTP_201_CREATED,
    response_model=TransferOut,
    summary="催办: the sending unit chases an overdue transfer (recorded, shown to the receiver)",
    description="409 when the receiving unit is not late (the problem's detail says until "
    "when); 403 for the receiving unit; 404 when the caller's unit is not a party.",
)
def remind(
    transfer_id: str,
    state: StateDep,
    caller: Operator,
    clock: ClockDep,
    body: ReminderIn | None = None,
) -> TransferOut:
    reminders.remind(state, caller, transfer_id, None if body is None else body.note, clock())
    return _fresh(state, caller, transfer_id)


@router.post(
    "/{transfer_id}/resend",
    status_code=status.HTTP_201_CREATED,
    response_model=TransferOut,
    summary="Send a returned transfer again: a new transfer (new notice) over the same volumes",
)
def resend(
    transfer_id: str,
    state: StateDep,
    ctx: Notary,
    caller: Operator,
    clock: ClockDep,
    body: ResendIn | None = None,
) -> TransferOut:
    t = send.resend_transfer(
        state,
        ctx,
        caller,
        transfer_id,
        clock(),
        transfer_no=None if body is None else body.transfer_no,
        new_id=None if body is None else body.transfer_id,
    )
    return _fresh(state, caller, t.transfer_id)


@router.post(
    "/{transfer_id}/recall",
    response_model=TransferOut,
    summary="Recall a dispatch left unanswered past its deadline",
)
def recall(transfer_id: str, state: StateDep, ctx: Notary, caller: Operator) -> TransferOut:
    send.recall(state, ctx, caller, transfer_id)
    return _fresh(state, caller, transfer_id)


@router.post(
    "/{transfer_id}/sync",
    response_model=TransferOut,
    summary="Sender: take the receiver's answer from the chain",
)
def sync(transfer_id: str, state: StateDep, ctx: Notary, caller: Operator) -> TransferOut:
    send.sync(state, ctx, caller, transfer_id)
    return _fresh(state, caller, transfer_id)
