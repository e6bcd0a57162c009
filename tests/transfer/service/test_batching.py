"""Concurrent verify-by-SM3 lookups share calls (transfer/api/batching.py), in a worker
thread or inline on the event loop: each caller still gets exactly its own answer, or
its own error."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

import pytest

from transfer.api.batching import Batcher


class Work:
    """A blocking lookup that records every call: ``key * 2``, or an error for "bad"."""

    def __init__(self, delay_s: float = 0.02) -> None:
        self.delay_s = delay_s
        self.calls: list[list[object]] = []
        self.running = 0
        self.most_running = 0
        self._lock = threading.Lock()

    def __call__(self, keys: Sequence[object]) -> list[object]:
        with self._lock:
            self.calls.append(list(keys))
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        time.sleep(self.delay_s)
        with self._lock:
            self.running -= 1
        return [ValueError(f"no {k}") if k == "bad" else k * 2 for k in keys]  # type: ignore[operator]


INLINE = pytest.mark.parametrize("inline", [False, True], ids=["thread", "inline"])


@INLINE
def test_concurrent_callers_share_calls_and_each_gets_its_own_answer(inline: bool) -> None:
    work = Work()
    batcher: Batcher[int, int] = Batcher(work, max_batch=64, max_in_flight=2, inline=inline)

    async def main() -> list[int]:
        return await asyncio.gather(*(batcher(i) for i in range(100)))

    assert asyncio.run(main()) == [i * 2 for i in range(100)]
    assert sorted(k for call in work.calls for k in call) == list(range(100))  # type: ignore[type-var]
    assert len(work.calls) <= 3 and max(map(len, work.calls)) <= 64
    assert work.most_running <= 2


@INLINE
def test_a_key_asked_by_many_callers_is_looked_up_once(inline: bool) -> None:
    work = Work()
    batcher: Batcher[int, int] = Batcher(work, max_in_flight=1, inline=inline)

    async def main() -> list[int]:
        return await asyncio.gather(*(batcher(7) for _ in range(10)))

    assert asyncio.run(main()) == [14] * 10
    assert work.calls == [[7]]


@INLINE
def test_an_error_for_one_key_reaches_only_its_caller(inline: bool) -> None:
    batcher: Batcher[str, str] = Batcher(Work(), inline=inline)

    async def main() -> list[object]:
        return await asyncio.gather(
            batcher("a"), batcher("bad"), batcher("b"), return_exceptions=True
        )

    a, bad, b = asyncio.run(main())
    assert (a, b) == ("aa", "bb")
    assert isinstance(bad, ValueError) and str(bad) == "no bad"


@INLINE
def test_a_failed_call_fails_its_callers_and_the_next_ones_are_served(inline: bool) -> None:
    failing = True

    def work(keys: Sequence[int]) -> list[int | Exception]:
        if failing:
            raise ConnectionError("database down")
        return [k + 1 for k in keys]

    batcher: Batcher[int, int] = Batcher(work, inline=inline)

    async def main() -> list[object]:
        return await asyncio.gather(batcher(1), batcher(2), return_exceptions=True)

    assert [type(e) for e in asyncio.run(main())] == [ConnectionError, ConnectionError]
    failing = False
    assert asyncio.run(main()) == [2, 3]


def test_a_caller_that_goes_away_does_not_cancel_the_others() -> None:
    work = Work(delay_s=0.2)
    batcher: Batcher[int, int] = Batcher(work, max_in_flight=1)

    async def main() -> tuple[list[int], int]:
        leaving = asyncio.create_task(batcher(1))
        staying = [asyncio.create_task(batcher(k)) for k in (2, 3)]
        await asyncio.sleep(0.05)  # the batch is running in its thread
        leaving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leaving
        answers = list(await asyncio.gather(*staying))
        return answers, await batcher(4)  # and the batcher still serves

    assert asyncio.run(main()) == ([4, 6], 8)


@INLINE
def test_the_call_runs_in_a_worker_thread_or_on_the_loop(inline: bool) -> None:
    threads: list[int] = []

    def work(keys: Sequence[int]) -> list[int | Exception]:
        threads.append(threading.get_ident())
        return list(keys)

    async def main() -> int:
        batcher: Batcher[int, int] = Batcher(work, inline=inline)
        await asyncio.gather(*(batcher(i) for i in range(5)))
        return threading.get_ident()

    loop_thread = asyncio.run(main())
    assert threads and all((t == loop_thread) is inline for t in threads)
