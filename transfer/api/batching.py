"""Coalescing concurrent calls of a blocking lookup into one call.

A worker-thread hop per request — a thread wake-up and GIL hand-overs, each up to
the interpreter's switch interval while the event loop is busy — cost more than the
lookup itself under load (benches/results/load.md). A :class:`Batcher` queues the
keys of concurrent callers and runs ``work`` on all that are waiting in one call: one
per request when calls are rare, one per batch when they are many.

Where the call runs: in a worker thread, for a lookup that may wait (a PostgreSQL
round trip must not stall the event loop), or ``inline`` on the event loop, for one
that only reads a local file — an indexed SQLite read in WAL mode, which never waits
for a writer: under load the hop, not the read, was most of a verify call's latency
(p50 15-20 ms in a thread, 5 ms inline; load.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

import anyio.to_thread

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Batcher(Generic[K, V]):
    """``await batcher(key)`` → ``work([key, …])[i]`` for this caller's key.

    ``work`` gets distinct keys and answers each with a value or an exception, which
    is that caller's alone; an exception raised by ``work`` itself fails the batch.
    At most ``max_in_flight`` batches run at once, each of at most ``max_batch`` keys;
    ``inline``: on the event loop rather than in a worker thread (see above).
    """

    def __init__(
        self,
        work: Callable[[Sequence[K]], Sequence[V | Exception]],
        *,
        max_batch: int = 64,
        max_in_flight: int = 2,
        inline: bool = False,
    ) -> None:
        self._work = work
        self._inline = inline
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._queue: list[tuple[K, asyncio.Future[V]]] = []
        self._in_flight = 0
        # Drainers are tasks of their own, so that a caller that goes away (its
        # request cancelled) never cancels a batch other callers are waiting on.
        self._tasks: set[asyncio.Task[None]] = set()

    async def __call__(self, key: K) -> V:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[V] = loop.create_future()
        self._queue.append((key, future))
        if self._in_flight < self._max_in_flight:
            self._in_flight += 1
            task = loop.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch = [(k, f) for k, f in self._queue[: self._max_batch] if not f.done()]
                del self._queue[: self._max_batch]
                if not batch:
                    continue
                keys = list(dict.fromkeys(k for k, _ in batch))
                try:
                    if self._inline:
                        values = self._work(keys)
                    else:
                        values = await anyio.to_thread.run_sync(self._work, keys)
                    answers = dict(zip(keys, values, strict=True))
                except Exception as e:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(e)
                    continue
                for key, future in batch:
                    if future.done():
                        continue
                    answer = answers[key]
                    if isinstance(answer, Exception):
                        future.set_exception(answer)
                    else:
                        future.set_result(answer)
        finally:
            self._in_flight -= 1
