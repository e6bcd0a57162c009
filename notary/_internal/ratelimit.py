"""A per-client token bucket with a bounded table, for endpoints anyone may call.

Each client (its address) holds a bucket of ``burst`` tokens refilled at ``rate_per_s``;
a request takes one or is refused with the seconds until one is back (``Retry-After``).
The table holds at most ``max_clients`` buckets: a full bucket is forgotten (it is the
same as a new one), and past the bound the least recently seen client is dropped — so a
flood from many addresses costs bounded memory, at the price of that client starting
again with a full bucket.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        *,
        max_clients: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_s < 0 or burst < 1 or max_clients < 1:
            raise ValueError("rate_per_s >= 0, burst >= 1 and max_clients >= 1")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.max_clients = max_clients
        self._clock = clock
        # client -> (tokens, when they were counted); most recently seen last.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        # Taken from the event loop and from the chain endpoint's threads.
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate_per_s > 0

    def take(self, client: str) -> int:
        """0 if ``client`` may go ahead (a token taken), else whole seconds to wait."""
        if not self.enabled:
            return 0
        now = self._clock()
        with self._lock:
            tokens, then = self._buckets.pop(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * self.rate_per_s)
            if tokens >= 1:
                tokens -= 1
                wait = 0
            else:
                wait = max(1, math.ceil((1 - tokens) / self.rate_per_s))
            self._buckets[client] = (tokens, now)
            if len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            return wait

    def __len__(self) -> int:
        return len(self._buckets)
