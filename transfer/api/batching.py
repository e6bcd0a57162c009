"""Coalescing concurrent calls of a blocking lookup into one worker-thread call.

A database lookup cannot run on the event loop (it would stall every other request
for a PostgreSQL round trip), and a worker-thread hop per request — a thread
wake-up and two GIL hand-overs — cost more than the lookup itself under load
(benches/results/load.md). A :class:`Batcher` queues the keys of concurrent
callers and runs ``work`` on all that are waiting in one hop: one hop per request
when calls are rare, one per batch when they are many.
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
    At most ``max_in_flight`` batches run at once, each of at most ``max_batch`` keys.
    """

    def __init__(
        self,
        work: Callable[[Sequence[K]], Sequence[V | Exception]],
        *,
        max_batch: int = 64,
        max_in_flight: int = 2,
    ) -> None:
        self._work = work
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
