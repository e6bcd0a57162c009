"""Group commit: concurrent callers' writes in one transaction, each caller answered
only once that transaction has committed.

Why: every verified read writes its 利用登记 entry (a log leaf, its tree nodes, a
read-log row) and must not return before that entry is durable. One transaction per
read paid, per read, the log lock, the tree's frontier reads, the inserts' round trips
and a commit (an fsync on SQLite); under 300 readers the reads queued on that one
writer. Reads whose entries arrive while a commit is under way share the next one
(benches/results/reads.md).

How: leader and followers, for callers on worker threads (a verified read runs on
one). A caller queues its item; when no commit is running it becomes the leader: it
takes the queue (at most ``max_batch`` items, oldest first), writes them in one
session, commits, and answers every caller of the batch; otherwise it waits. The
items of a batch are written in the order they were queued.

A failure anywhere in a batch — in ``write`` or in the commit — rolls the whole batch
back and every caller of that batch gets the error: nothing of it was written, so no
caller is answered for a write that did not happen, and none of its items can be
written twice by a caller that tries again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Generic, TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")
R = TypeVar("R")


class _Waiting(Generic[T, R]):
    __slots__ = ("done", "error", "item", "result")

    def __init__(self, item: T) -> None:
        self.item = item
        self.done = False
        self.result: R | None = None
        self.error: BaseException | None = None


class GroupCommit(Generic[T, R]):
    """``group(item)`` → ``write(session, [..., item, ...])[i]``, returned after commit.

    ``sessions``: write sessions (on SQLite, ``BEGIN IMMEDIATE``); ``write`` adds a
    batch's rows to the session without committing and returns one result per item,
    in order. ``batches`` and ``items`` count what was committed.
    """

    def __init__(
        self,
        sessions: Callable[[], AbstractContextManager[Session]],
        write: Callable[[Session, Sequence[T]], Sequence[R]],
        *,
        max_batch: int = 128,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._sessions = sessions
        self._write = write
        self._max_batch = max_batch
        self._cond = threading.Condition()
        self._queue: list[_Waiting[T, R]] = []
        self._leading = False
        self.batches = 0
        self.items = 0

    def __call__(self, item: T) -> R:
        me: _Waiting[T, R] = _Waiting(item)
        with self._cond:
            self._queue.append(me)
        while True:
            with self._cond:
                while self._leading and not me.done:
                    self._cond.wait()
                if me.done:
                    if me.error is not None:
                        raise me.error
                    return me.result  # type: ignore[return-value]
                self._leading = True
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
            try:
                self._commit(batch)
            finally:
                with self._cond:
                    self._leading = False
                    self._cond.notify_all()
            # Answered above unless more than max_batch were queued before this caller:
            # then it leads (or waits for) the next batch.

    def _commit(self, batch: list[_Waiting[T, R]]) -> None:
        try:
            with self._sessions() as session:
                results = list(self._write(session, [w.item for w in batch]))
                if len(results) != len(batch):
                    raise RuntimeError(
                        f"group commit: {len(results)} results for {len(batch)} items"
                    )
                session.commit()
        except BaseException as e:
            # Nothing of the batch was committed (the session rolled back as it closed).
            with self._cond:
                for w in batch:
                    w.error, w.done = e, True
            return
        with self._cond:
            self.batches += 1
            self.items += len(batch)
            for w, result in zip(batch, results, strict=True):
                w.result, w.done = result, True
