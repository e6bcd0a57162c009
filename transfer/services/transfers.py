"""Transfers (转递) as the service keeps them: rows, transitions, events, lists, deadlines.

The workflow's rules live in :mod:`transfer.workflow` (state machine, acts, package,
verification); this module persists what they decide. Every transition is one
``transfer_events`` row and one ``custody.event`` log entry committed together (and
anchored with the rest of the log); a custody change of a local volume adds a
``custody_events`` row with its own entry, so the volume's provenance shows it.

Concurrency: a transfer row carries ``row_version`` (SQLAlchemy ``version_id_col``).
Slow work (signing, the chain) runs on a snapshot; the write then re-reads the row
and refuses (409) when its version moved meanwhile: of two concurrent accepts one wins.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from notary.chain import ChainClient, ChainError
from notary.chain.errors import (
    ContractError,
    NotActive,
    NotAddressee,
    NotCustodian,
    NotMember,
    UnitRegistersOnlyForItself,
    WrongRole,
)
from notary.entries import transfer_event
from transfer.db.models import (
    CustodyEvent,
    CustodyEventKind,
    Transfer,
    TransferDirection,
    TransferEvent,
    TransferState,
    TransferVolume,
    Unit,
)
from transfer.db.types import utcnow
from transfer.security import Principal
from transfer.services.custody import append_custody
from transfer.services.errors import Conflict, Forbidden, NotFound, ServiceUnavailable
from transfer.services.logwriter import append_entries
from transfer.workflow.errors import (
    ActError,
    ActFormatError,
    CrossTransferAct,
    ForgedSignature,
    InvalidTransition,
    ReplayedAct,
)
from transfer.workflow.state import (
    DeadlinePolicy,
    Event,
    State,
    TransferClock,
    next_state,
    observed_state,
    overdue,
)
from transfer.workflow.times import Period

Clock = Callable[[], datetime]

# Where the caller must act next (GET /v1/transfers/pending).
_SENDER_TODO = {TransferState.CREATED, TransferState.PACKAGED, TransferState.REJECTED}
_RECEIVER_TODO = {TransferState.DISPATCHED, TransferState.DELIVERED, TransferState.VERIFIED}


def policy_from(days_sender: int, days_receiver: int, days_chase: int) -> DeadlinePolicy:
    return DeadlinePolicy(
        sender_completes=Period(days=days_sender),
        receiver_audits=Period(days=days_receiver),
        chase_after=Period(days=days_chase),
    )


# ---------------------------------------------------------------- access


def find(s: Session, transfer_id: str, caller: Principal) -> Transfer:
    """The transfer if the caller's unit is a party to it; 404 otherwise."""
    t = s.scalar(select(Transfer).where(Transfer.transfer_id == transfer_id))
    if t is None or caller.unit_id not in (t.sender_unit_id, t.receiver_unit_id):
        raise NotFound(f"转递 {transfer_id} 不存在，或本单位不是其转出、接收单位")
    return t


def require_sender(t: Transfer, caller: Principal, what: str) -> None:
    if caller.unit_id != t.sender_unit_id:
        raise Forbidden(f"只有转出单位（当前保管单位）可以{what}", rule="custodian-only")


def require_receiver(t: Transfer, caller: Principal, what: str) -> None:
    if caller.unit_id != t.receiver_unit_id:
        raise Forbidden(f"只有接收单位可以{what}", rule="addressee-only")


def require_hosted(t: Transfer, side: str) -> None:
    hosted = {
        "sender": (TransferDirection.OUTGOING, TransferDirection.INTERNAL),
        "receiver": (TransferDirection.INCOMING, TransferDirection.INTERNAL),
    }[side]
    if t.direction not in hosted:
        raise Conflict(f"the {side} of transfer {t.transfer_id} is hosted by another deployment")


def check_version(t: Transfer, expected: int) -> None:
    if t.row_version != expected:
        raise Conflict(
            f"transfer {t.transfer_id} changed while this request ran (version "
            f"{expected} → {t.row_version}); reload and retry",
            rule="optimistic-lock",
        )


def advance(t: Transfer, event: Event) -> tuple[str, str]:
    """Apply ``event`` to the row's state (409 if the state machine refuses it, or if
    another step's chain transactions are still in flight: transfer_intents)."""
    pending = None if t.chain_intent is None else t.chain_intent.get("event")
    if pending is not None and pending != event.value:
        raise Conflict(
            f"转递 {t.transfer_id} 的 {pending} 尚未在链上完成：请先重试该操作",
            rule="chain-step-pending",
            pending=pending,
        )
    try:
        new = next_state(State(t.state.value), event)
    except InvalidTransition:
        raise Conflict(
            f"转递 {t.transfer_id} 当前状态为“{State(t.state.value).zh}”，不能{event.zh}",
            state=t.state.value,
            event=event.value,
        ) from None
    old = t.state.value
    t.state = TransferState(new.value)
    return old, new.value


def observe(t: Transfer, event: Event) -> None:
    """Apply the outcome the chain shows for a transfer sent to another centre."""
    t.state = TransferState(observed_state(State(t.state.value), event).value)


def claim(s: Session, t: Transfer, event: Event) -> tuple[str, str]:
    """``advance`` in a write session, flushed at once: the UPDATE carries
    ``WHERE row_version = <read>``, so a concurrent writer that got there first makes
    it match nothing (409) before anything else of this request is written."""
    result = advance(t, event)
    try:
        s.flush()
    except StaleDataError:
        s.rollback()
        raise Conflict(
            "the transfer was changed by a concurrent request; reload and retry",
            rule="optimistic-lock",
        ) from None
    return result


def commit(s: Session) -> None:
    """Commit; a transfer row changed by another writer meanwhile is 409 (row_version)."""
    try:
        s.commit()
    except StaleDataError:
        s.rollback()
        raise Conflict(
            "the transfer was changed by a concurrent request; reload and retry",
            rule="optimistic-lock",
        ) from None


# ---------------------------------------------------------------- events


def event_entry(row: TransferEvent, transfer_id: str, package_root: str | None) -> dict[str, Any]:
    """The log entry a ``transfer_events`` row stands for: derived when the step is
    logged and again by the audit. The package root is the transfer's at that step (the
    row does not keep it)."""
    return transfer_event(
        event=row.event,
        transfer_id=transfer_id,
        state=row.to_state,
        time_ms=int(row.created_at.timestamp() * 1000),
        package_root=package_root,
        tx=list(row.tx_hashes),
    )


def record_event(
    s: Session,
    t: Transfer,
    event: str,
    from_state: str | None,
    unit_id: uuid.UUID | None,
    *,
    detail: dict[str, Any] | None = None,
    tx_hashes: Sequence[str] = (),
    now: datetime | None = None,
    handler: str | None = None,
) -> TransferEvent:
    """Append the transition's log entry and its event row (not committed).

    ``handler``: the 经办人 who made the step, kept in the row's detail (never in the
    log entry: the log is public evidence, staff names are not)."""
    detail = dict(detail or {})
    if handler is not None:
        detail["handler"] = handler
    row = TransferEvent(
        transfer_pk=t.id,
        event=event,
        from_state=from_state,
        to_state=t.state.value,
        unit_id=unit_id,
        detail=detail,
        tx_hashes=list(tx_hashes),
        created_at=now or utcnow(),
    )
    row.leaf_index = append_entries(s, [event_entry(row, t.transfer_id, t.package_root)]).start
    s.add(row)
    return row


def record_custody(
    s: Session,
    secret: bytes,
    volume_id: uuid.UUID,
    kind: CustodyEventKind,
    from_unit: Unit | None,
    to_unit: Unit | None,
    *,
    transfer_id: str,
    tx_hash: str | None,
    detail: dict[str, Any] | None = None,
) -> None:
    """A custody fact of a local volume: log entry + custody_events row (not committed)."""
    row = CustodyEvent(
        volume_id=volume_id,
        kind=kind,
        from_unit_id=None if from_unit is None else from_unit.id,
        to_unit_id=None if to_unit is None else to_unit.id,
        detail={"transfer_id": transfer_id, **(detail or {})},
        tx_hash=tx_hash,
        created_at=utcnow(),
    )
    codes = {u.id: u.code for u in (from_unit, to_unit) if u is not None}
    append_custody(s, secret, row, codes.__getitem__)


# ---------------------------------------------------------------- errors


@contextmanager
def chain_errors() -> Iterator[None]:
    """Contract refusals as problems: authority → 403, state → 409, outage → 503."""
    try:
        yield
    except (
        NotCustodian,
        NotAddressee,
        NotMember,
        NotActive,
        WrongRole,
        UnitRegistersOnlyForItself,
    ) as e:
        raise Forbidden(f"链上合约拒绝：{e}", chain_error=type(e).__name__) from None
    except ContractError as e:
        raise Conflict(f"链上合约拒绝：{e}", chain_error=type(e).__name__) from None
    except ChainError as e:
        raise ServiceUnavailable(f"区块链暂不可用：{type(e).__name__}", retry_after_s=5) from None


@contextmanager
def act_errors() -> Iterator[None]:
    """A presented act that does not hold: forged → 403, replayed/crossed → 409."""
    try:
        yield
    except ForgedSignature as e:
        raise Forbidden(f"签名无效：{e}", act_error="forged-signature") from None
    except CrossTransferAct as e:
        raise Conflict(f"该文书属于另一转递：{e}", act_error="cross-transfer") from None
    except ReplayedAct as e:
        raise Conflict(f"文书重放被拒绝：{e}", act_error="replayed") from None
    except ActFormatError as e:
        raise Conflict(f"文书格式错误：{e}", act_error="format") from None
    except ActError as e:
        raise Conflict(f"文书无效：{e}", act_error="invalid") from None


# ---------------------------------------------------------------- views


@dataclass(frozen=True, slots=True)
class Listing:
    role: str | None
    state: TransferState | None


def list_transfers(s: Session, caller: Principal, listing: Listing) -> list[Transfer]:
    q = select(Transfer)
    if listing.role == "incoming":
        q = q.where(Transfer.receiver_unit_id == caller.unit_id)
    elif listing.role == "outgoing":
        q = q.where(Transfer.sender_unit_id == caller.unit_id)
    else:
        q = q.where(
            or_(
                Transfer.receiver_unit_id == caller.unit_id,
                Transfer.sender_unit_id == caller.unit_id,
            )
        )
    if listing.state is not None:
        q = q.where(Transfer.state == listing.state)
    return list(s.scalars(q.order_by(Transfer.created_at, Transfer.transfer_id)))


def pending(s: Session, caller: Principal) -> list[Transfer]:
    """Transfers waiting for the caller's unit: to package/dispatch/return as sender,
    to deliver/verify/answer as receiver."""
    return [
        t
        for t in list_transfers(s, caller, Listing(None, None))
        if (t.sender_unit_id == caller.unit_id and t.state in _SENDER_TODO)
        or (t.receiver_unit_id == caller.unit_id and t.state in _RECEIVER_TODO)
    ]


def overdue_of(t: Transfer, now: datetime, policy: DeadlinePolicy) -> list[dict[str, str]]:
    clock = TransferClock(
        state=State(t.state.value),
        created_at=t.created_at,
        dispatched_at=t.dispatched_at,
        delivered_at=t.delivered_at,
    )
    return [
        {"kind": o.kind.value, "due": o.due.isoformat(), "message": o.kind.zh}
        for o in overdue(clock, now, policy)
    ]


def overdue_list(
    s: Session, caller: Principal, now: datetime, policy: DeadlinePolicy
) -> list[tuple[Transfer, list[dict[str, str]]]]:
    out = []
    for t in list_transfers(s, caller, Listing(None, None)):
        late = overdue_of(t, now, policy)
        if late:
            out.append((t, late))
    return out


def events_of(s: Session, t: Transfer) -> list[TransferEvent]:
    return list(
        s.scalars(
            select(TransferEvent)
            .where(TransferEvent.transfer_pk == t.id)
            .order_by(TransferEvent.id)
        )
    )


def volumes_of(s: Session, t: Transfer) -> list[TransferVolume]:
    return list(
        s.scalars(
            select(TransferVolume)
            .where(TransferVolume.transfer_pk == t.id)
            .order_by(TransferVolume.notice_volume_id)
        )
    )


def chain_view(chain: ChainClient, tv: TransferVolume) -> dict[str, Any]:
    """The volume's custody as the contract records it (the same on every deployment)."""
    vid = bytes.fromhex(tv.chain_volume_id)
    with chain_errors():
        custody = chain.custody_state(vid)
        record = (
            None if tv.chain_transfer_no is None else chain.get_transfer(vid, tv.chain_transfer_no)
        )
    out: dict[str, Any] = {
        "chain_volume_id": tv.chain_volume_id,
        "custodian": None if custody is None else custody.custodian,
        "custody_state": None if custody is None else custody.state.name.lower(),
        "dispatch": None,
    }
    if record is not None:
        out["dispatch"] = {
            "number": record.number,
            "sender": record.sender,
            "addressee": record.addressee,
            "package_root": record.package_root.hex(),
            "deadline": record.deadline,
            "outcome": record.outcome.name.lower(),
            "outcome_hash": record.outcome_hash.hex(),
            "dispatched_block": record.dispatched_block,
            "closed_block": record.closed_block,
        }
    return out
