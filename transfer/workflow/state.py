"""The transfer state machine and its deadlines, as pure functions.

States and events (``docs/transfer-format.md`` §5)::

    created --package--> packaged --dispatch--> dispatched --deliver--> delivered
    packaged --package--> packaged                       (re-package before dispatch)
    verified --deliver--> delivered                      (another copy of the same package)
    delivered --verify--> verified --verify--> verified  (re-verification)
    verified --accept--> received                        (signed receipt 回执; custody moves)
    delivered|verified --reject--> rejected --return--> returned
    dispatched|delivered|verified --recall--> returned   (deadline passed, no answer)

Deadlines (the transfer rules; periods are parameters):

- the sender completes (dispatches) within 2 months of creation;
- the receiver audits (accepts or rejects) within 2 months of delivery;
- no receipt 1 month after dispatch: the sender must chase (催办).

Delivering again replaces a copy that failed verification (a courier copy damaged on
the way) with another copy of the same package (the root dispatched on chain): the
receiver need not reject and wait for a whole new transfer. The service refuses it once
a verification passed; before any verification a repeated delivery stays refused, so a
retried request does not deliver twice. A rejected or recalled transfer never comes
back to life: the sender re-sends it as a new transfer (``resend``).

A moment exactly at a deadline is still on time; overdue starts after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from transfer.workflow.errors import InvalidTransition
from transfer.workflow.times import Period


class State(StrEnum):
    CREATED = "created"
    PACKAGED = "packaged"
    DISPATCHED = "dispatched"
    DELIVERED = "delivered"
    VERIFIED = "verified"
    RECEIVED = "received"
    REJECTED = "rejected"
    RETURNED = "returned"

    @property
    def zh(self) -> str:
        """The word staff read (the same in the CLI and the console: clients/vocabulary.py,
        tests/console/test_vocabulary.py)."""
        return _STATE_ZH[self.value]


_STATE_ZH = {
    "created": "已创建",
    "packaged": "已打包",
    "dispatched": "已转出",
    "delivered": "已送达",
    "verified": "已检测",
    "received": "已签收",
    "rejected": "已拒收",
    "returned": "已退回",
}


class Event(StrEnum):
    PACKAGE = "package"
    DISPATCH = "dispatch"
    DELIVER = "deliver"
    VERIFY = "verify"
    ACCEPT = "accept"
    REJECT = "reject"
    RETURN = "return"
    RECALL = "recall"

    @property
    def zh(self) -> str:
        return {
            "package": "打包",
            "dispatch": "转出",
            "deliver": "送达",
            "verify": "四性检测",
            "accept": "签收回执",
            "reject": "拒收",
            "return": "退回",
            "recall": "撤回",
        }[self.value]


TRANSITIONS: dict[tuple[State, Event], State] = {
    (State.CREATED, Event.PACKAGE): State.PACKAGED,
    (State.PACKAGED, Event.PACKAGE): State.PACKAGED,
    (State.PACKAGED, Event.DISPATCH): State.DISPATCHED,
    (State.DISPATCHED, Event.DELIVER): State.DELIVERED,
    (State.VERIFIED, Event.DELIVER): State.DELIVERED,
    (State.DELIVERED, Event.VERIFY): State.VERIFIED,
    (State.VERIFIED, Event.VERIFY): State.VERIFIED,
    (State.VERIFIED, Event.ACCEPT): State.RECEIVED,
    (State.DELIVERED, Event.REJECT): State.REJECTED,
    (State.VERIFIED, Event.REJECT): State.REJECTED,
    (State.REJECTED, Event.RETURN): State.RETURNED,
    (State.DISPATCHED, Event.RECALL): State.RETURNED,
    (State.DELIVERED, Event.RECALL): State.RETURNED,
    (State.VERIFIED, Event.RECALL): State.RETURNED,
}
# The sender's row of a transfer to a unit at another centre: the receiver delivers and
# verifies in its own deployment, and the sender learns the outcome from the chain.
OBSERVED: dict[tuple[State, Event], State] = {
    (State.DISPATCHED, Event.ACCEPT): State.RECEIVED,
    (State.DISPATCHED, Event.REJECT): State.REJECTED,
    (State.DISPATCHED, Event.RECALL): State.RETURNED,
}

TERMINAL = frozenset({State.RECEIVED, State.RETURNED})


def next_state(state: State, event: Event) -> State:
    """The state after ``event``; :class:`InvalidTransition` if it is not allowed."""
    try:
        return TRANSITIONS[(State(state), Event(event))]
    except (KeyError, ValueError):
        raise InvalidTransition(str(state), str(event)) from None


def observed_state(state: State, event: Event) -> State:
    """The sender's state once the chain shows the receiver's ``event``
    (:data:`OBSERVED`); :class:`InvalidTransition` otherwise."""
    try:
        return OBSERVED[(State(state), Event(event))]
    except (KeyError, ValueError):
        raise InvalidTransition(str(state), str(event)) from None


def allowed_events(state: State) -> frozenset[Event]:
    return frozenset(e for (s, e) in TRANSITIONS if s is state)


# ---------------------------------------------------------------- deadlines


TWO_MONTHS = Period(months=2)
ONE_MONTH = Period(months=1)


@dataclass(frozen=True, slots=True)
class DeadlinePolicy:
    sender_completes: Period = TWO_MONTHS
    receiver_audits: Period = TWO_MONTHS
    chase_after: Period = ONE_MONTH


class OverdueKind(StrEnum):
    SENDER_LATE = "sender-late"  # not dispatched within the period after creation
    RECEIVER_LATE = "receiver-late"  # not accepted/rejected within the period after delivery
    NO_RECEIPT = "no-receipt"  # dispatched, no receipt within the chase period: sender chases

    @property
    def zh(self) -> str:
        return {
            "sender-late": "转出单位逾期未转递",
            "receiver-late": "接收单位逾期未审核",
            "no-receipt": "逾期未收到回执，请催办",
        }[self.value]


@dataclass(frozen=True, slots=True)
class TransferClock:
    """What the deadline rules need to know about a transfer."""

    state: State
    created_at: datetime
    dispatched_at: datetime | None = None
    delivered_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Overdue:
    kind: OverdueKind
    due: datetime


_BEFORE_DISPATCH = frozenset({State.CREATED, State.PACKAGED})
_AWAITING_RECEIPT = frozenset({State.DISPATCHED, State.DELIVERED, State.VERIFIED})
_AWAITING_AUDIT = frozenset({State.DELIVERED, State.VERIFIED})


def due_dates(
    transfer: TransferClock,
    policy: DeadlinePolicy = DeadlinePolicy(),
) -> dict[OverdueKind, datetime]:
    """The deadlines that apply in the transfer's current state."""
    out: dict[OverdueKind, datetime] = {}
    if transfer.state in _BEFORE_DISPATCH:
        out[OverdueKind.SENDER_LATE] = policy.sender_completes.after(transfer.created_at)
    if transfer.state in _AWAITING_RECEIPT:
        if transfer.dispatched_at is None:
            raise ValueError(f"a {transfer.state} transfer needs its dispatch time")
        out[OverdueKind.NO_RECEIPT] = policy.chase_after.after(transfer.dispatched_at)
    if transfer.state in _AWAITING_AUDIT:
        if transfer.delivered_at is None:
            raise ValueError(f"a {transfer.state} transfer needs its delivery time")
        out[OverdueKind.RECEIVER_LATE] = policy.receiver_audits.after(transfer.delivered_at)
    return out


def overdue(
    transfer: TransferClock,
    now: datetime,
    policy: DeadlinePolicy = DeadlinePolicy(),
) -> tuple[Overdue, ...]:
    """Every deadline the transfer has passed at ``now`` (empty: on time)."""
    return tuple(
        Overdue(kind, due) for kind, due in due_dates(transfer, policy).items() if now > due
    )
