"""Finishes, in the background, the transfer steps whose chain part a crash (or a chain
outage) left undone: a committed dispatch or rejection act (``chain_intent``) and a
committed receipt whose custody move is not closed (transfer_intents). Each is finished
with the act already committed, each transaction sent once; the first pass runs as the
service starts, then one every ``interval_s`` while it runs.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from sqlalchemy import select

from transfer.db.models import Transfer, TransferDirection, TransferState
from transfer.services import federation
from transfer.services import transfer_intents as intents
from transfer.services.context import NotaryContext
from transfer.services.errors import ServiceError, ServiceUnavailable
from transfer.services.state import ServiceState
from transfer.services.transfer_receive import finish_receipt, finish_reject
from transfer.services.transfer_send import finish_dispatch
from transfer.workflow.state import Event

log = logging.getLogger(__name__)

# The states a committed act can wait in for its chain part.
_DISPATCH_WAITS = (TransferState.PACKAGED,)
_REJECT_WAITS = (TransferState.DELIVERED, TransferState.VERIFIED)
_HOSTED_RECEIVER = (TransferDirection.INTERNAL, TransferDirection.INCOMING)


class TransferOutbox:
    def __init__(self, state: ServiceState, ctx: NotaryContext, interval_s: float = 5.0) -> None:
        self._state = state
        self._ctx = ctx
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._refused: set[str] = set()  # logged once each

    def pending(self) -> list[tuple[str, str]]:
        """(transfer id, what is left: dispatch | reject | receipt)."""
        waits = (*_DISPATCH_WAITS, *_REJECT_WAITS)
        with self._state.sessions() as s:
            out = [
                (t.transfer_id, str(t.chain_intent["event"]))
                for t in s.scalars(select(Transfer).where(Transfer.state.in_(waits)))
                if t.chain_intent is not None
            ]
            out += [
                (tid, "receipt")
                for tid in s.scalars(
                    select(Transfer.transfer_id).where(
                        Transfer.state == TransferState.RECEIVED,
                        Transfer.closed_at.is_(None),
                        Transfer.direction.in_(_HOSTED_RECEIVER),
                    )
                )
            ]
        return out

    def drain(self) -> int:
        """One pass; returns how many steps are still left (the chain down, refused)."""
        left = 0
        for transfer_id, what in self.pending():
            try:
                with intents.unless_busy(transfer_id) as mine:
                    if not mine:
                        continue
                    if what == Event.DISPATCH.value:
                        finish_dispatch(self._state, self._ctx, transfer_id)
                    elif what == Event.REJECT.value:
                        finish_reject(self._state, self._ctx, transfer_id)
                    else:
                        finish_receipt(self._state, self._ctx, transfer_id)
                # A warning: it means the service went down in the middle of a step.
                log.warning("转递 %s：中断前未完成的 %s 已补完", transfer_id, what)
            except ServiceUnavailable:
                left += 1  # the chain is down: the next pass
            except ServiceError as e:
                left += 1
                if transfer_id not in self._refused:
                    self._refused.add(transfer_id)
                    log.warning("转递 %s 的 %s 无法完成：%s", transfer_id, what, e.detail)
        # Dispatches to peer centres: hand over again what was not taken in, and read
        # their outcome from the chain (their push may have been lost).
        left += federation.sync_outgoing(self._state, self._ctx)
        return left

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.drain()
            except Exception:  # the database away: log, and the next pass tries again
                log.exception("转递补完失败")
            self._stop.wait(self._interval_s)

    def __enter__(self) -> TransferOutbox:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="transfer-outbox", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
