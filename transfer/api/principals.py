"""A short-lived, in-process cache of authenticated principals.

Every API call authenticates its key with a database lookup; under load (300 clients
verifying by SM3) that lookup and its thread hop were a large share of a call
(benches/results/load.md). Entries are keyed by the SM3 of the presented key (the
value the database indexes), never by the key itself, and live ``ttl_s`` seconds.

The trade-off (a setting, ``principal_cache_ttl_s``): a key revoked or a unit
suspended *through this process's API* takes effect at once, because those routes
call :meth:`PrincipalCache.invalidate` after their commit. A change made elsewhere —
another instance sharing the PostgreSQL database, or SQL run by hand — takes effect
here within ``ttl_s`` seconds. ``ttl_s = 0`` turns the cache off.

Unknown keys are not cached (a flood of random keys would only fill memory), so a
newly issued key works at once.
"""

from __future__ import annotations

import threading
import time

from transfer.security import Principal

_MAX_ENTRIES = 4096


class PrincipalCache:
    def __init__(self, ttl_s: float, max_entries: int = _MAX_ENTRIES) -> None:
        self.ttl_s = ttl_s
        self._max = max_entries
        self._entries: dict[bytes, tuple[float, Principal]] = {}
        # Bumped by every invalidation. A lookup notes it before reading the database
        # and may store its answer only if it is unchanged: an answer read before a
        # revocation committed must not be cached after the cache was cleared.
        self._generation = 0
        # Invalidations come from worker threads (the revoke and suspend routes are
        # plain ``def``), lookups from the event loop.
        self._lock = threading.Lock()

    @property
    def generation(self) -> int:
        return self._generation

    def get(self, key_digest: bytes) -> Principal | None:
        entry = self._entries.get(key_digest)
        if entry is None:
            return None
        expires, principal = entry
        if time.monotonic() >= expires:
            with self._lock:
                self._entries.pop(key_digest, None)
            return None
        return principal

    def put(self, key_digest: bytes, principal: Principal, generation: int) -> None:
        if self.ttl_s <= 0:
            return
        with self._lock:
            if generation != self._generation:
                return
            if len(self._entries) >= self._max:
                self._evict()
            self._entries[key_digest] = (time.monotonic() + self.ttl_s, principal)

    def invalidate(self) -> None:
        """Forget every entry: called after a key is revoked or a unit's status changes.
        Such changes are rare, so clearing all is simpler than finding the entries."""
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _evict(self) -> None:
        now = time.monotonic()
        for digest in [d for d, (expires, _) in self._entries.items() if expires <= now]:
            del self._entries[digest]
        while len(self._entries) >= self._max:
            # dicts keep insertion order: the first entry is the oldest.
            del self._entries[next(iter(self._entries))]
