"""Chain steps of a transfer that survive a crash between the chain and the database.

A dispatch or a rejection sends contract transactions and then commits its transition.
Killed between the two (kill -9, power loss), the chain stayed ahead of the database
for good: the retry signed a new act and the contract refused its transaction (the
volume was no longer held, or no longer in transit), and a rejection's hash on chain
named an act nobody had kept. So the signed act is committed first, as the transfer's
``chain_intent`` (that write moves ``row_version``: it claims the row); each
transaction is sent only if the chain does not show it already; the transition commits
with the intent cleared. A receipt has always been committed before its chain step
(``closed_at`` marks its end) and is finished the same way.

What a crash leaves half done is finished with the same act by a retry of the request,
or without one by :class:`transfer.services.transfer_outbox.TransferOutbox`.
"""

from __future__ import annotations

import functools
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal, ParamSpec, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from notary.chain import ChainClient
from notary.chain.errors import ContractError
from notary.chain.models import Outcome, TxRef
from notary.chain.models import Transfer as ChainTransfer
from transfer.db.models import Transfer
from transfer.services.errors import Conflict, Forbidden, NotFound
from transfer.services.state import ServiceState
from transfer.services.transfers import chain_errors, check_version, commit
from transfer.workflow.acts import SignedAct
from transfer.workflow.state import Event

IntentEvent = Literal[Event.DISPATCH, Event.REJECT]
P = ParamSpec("P")
R = TypeVar("R")

# A request and the outbox may finish the same step at once; each would find the
# other's transaction only after it landed and could answer 409 for a step that
# succeeded. One finisher per transfer in this process (striped: bounded memory).
_STEP_LOCKS = tuple(threading.RLock() for _ in range(64))


def _step_lock(transfer_id: str) -> threading.RLock:
    return _STEP_LOCKS[zlib.crc32(transfer_id.encode()) % len(_STEP_LOCKS)]


def one_finisher(fn: Callable[P, R]) -> Callable[P, R]:
    """Serialise ``fn(state, ctx, transfer_id)`` per transfer within this process."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with _step_lock(str(args[2])):
            return fn(*args, **kwargs)

    return wrapper


@contextmanager
def unless_busy(transfer_id: str) -> Iterator[bool]:
    """For the outbox: hold the transfer's step (True), or False when a request of this
    process is finishing it right now — that is no crash to repair."""
    lock = _step_lock(transfer_id)
    if not lock.acquire(blocking=False):
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


CustodyEvent = Literal["VolumeDispatched", "VolumeReceived", "VolumeRejected"]


def by_transfer_id(s: Session, transfer_id: str) -> Transfer:
    """The transfer, for work whose caller was checked when it began."""
    t = s.scalar(select(Transfer).where(Transfer.transfer_id == transfer_id))
    if t is None:
        raise NotFound(f"transfer {transfer_id} does not exist")
    return t


def pending_event(t: Transfer) -> str | None:
    return None if t.chain_intent is None else str(t.chain_intent["event"])


def begin(
    state: ServiceState, transfer_id: str, version: int, event: IntentEvent, act: SignedAct
) -> None:
    """Commit the signed act as the step in flight, before any of its transactions."""
    with state.write_sessions() as s:
        t = by_transfer_id(s, transfer_id)
        check_version(t, version)
        t.chain_intent = {"event": event.value, "act": act.to_json()}
        commit(s)


def drop(state: ServiceState, transfer_id: str, event: IntentEvent) -> None:
    """The contract refused the step for good: forget it, so the transfer can go on."""
    with state.write_sessions() as s:
        t = by_transfer_id(s, transfer_id)
        if pending_event(t) == event.value:
            t.chain_intent = None
            commit(s)


@contextmanager
def chain_step(state: ServiceState, transfer_id: str, event: IntentEvent) -> Iterator[None]:
    """``chain_errors`` (refusal 403/409, outage 503); a refusal also drops the intent,
    since it cannot succeed later. After an outage the intent stays, to be finished."""
    try:
        with chain_errors():
            yield
    except (Forbidden, Conflict):
        drop(state, transfer_id, event)
        raise


def open_dispatch(
    client: ChainClient, volume_id: bytes, to: str, package_root: bytes
) -> ChainTransfer | None:
    """The volume's open dispatch from ``client``'s account to ``to`` with this root."""
    custody = client.custody_state(volume_id)
    sent = None if custody is None else custody.in_transit
    if (
        sent is not None
        and sent.sender == client.account
        and sent.addressee == to
        and sent.package_root == package_root
    ):
        return sent
    return None


def closed_with(
    client: ChainClient, volume_id: bytes, number: int, outcome: Outcome, digest: bytes
) -> ChainTransfer | None:
    """Dispatch ``number`` of the volume, if the chain closed it with this outcome/act."""
    record = client.get_transfer(volume_id, number)
    if record is not None and record.outcome is outcome and record.outcome_hash == digest:
        return record
    return None


def ensure(
    client: ChainClient,
    volume_id: bytes,
    event: CustodyEvent,
    observe: Callable[[], ChainTransfer | None],
    send: Callable[[], TxRef],
) -> tuple[str | None, ChainTransfer]:
    """Send the transaction unless the chain shows its effect already (an earlier run,
    killed before its commit, or a concurrent one); (tx hash, the chain's record)."""
    done = observe()
    if done is None:
        try:
            ref = send()
        except ContractError:
            # Refused: perhaps because another run's transaction landed first.
            done = observe()
            if done is None:
                raise
        else:
            done = observe()
            if done is None:
                raise Conflict(f"链上未见 {event}：合约状态与请求不一致")
            return ref.tx_hash, done
    block = done.dispatched_block if event == "VolumeDispatched" else done.closed_block
    return client.custody_tx(volume_id, event, block), done
