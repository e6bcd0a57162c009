"""Content replicas of a deployment (settings ``replicas`` and ``replica_acks``).

Each replica is a local directory (a blockstore like ``home/blocks``, on another disk)
or a Kubo RPC URL (another IPFS node). With replicas configured, the service's store
is a :class:`~notary.store.replicated.ReplicatedStore`: an upload is acknowledged once
``replica_acks`` stores hold it, reads fall back block by block to a replica, and
``notary replicas check`` re-verifies and repairs (docs/backup.md).
"""

from __future__ import annotations

from pathlib import Path

from notary.store import ContentStore, KuboStore, LocalStore
from notary.store.replicated import ReplicatedStore
from transfer.services.health import CheckResult
from transfer.settings import Settings


def open_replica(spec: str) -> ContentStore:
    if spec.startswith(("http://", "https://")):
        return KuboStore(spec)
    return LocalStore(Path(spec))


def open_primary(settings: Settings) -> ContentStore:
    """The deployment's own store, as notary.deployment opens it."""
    if settings.store == "local":
        return LocalStore(settings.home / "blocks")
    return KuboStore(settings.store)


def with_replicas(primary: ContentStore, settings: Settings) -> ContentStore:
    """``primary`` alone when no replica is configured, else the replicated store."""
    if not settings.replicas:
        return primary
    replicas = [open_replica(spec) for spec in settings.replicas]
    return ReplicatedStore([primary, *replicas], acks=settings.replica_acks)


class ReplicasCheck:
    """Each store answers: ``down`` if fewer than the acknowledgement quorum do (uploads
    are refused), ``degraded`` if some replica is down (uploads still acknowledged)."""

    name = "replicas"

    def __init__(self, store: ReplicatedStore) -> None:
        self._store = store

    def check(self) -> CheckResult:
        stores = self._store.status()
        up = sum(1 for s in stores if s["state"] == "ok")
        detail = {"acks": self._store.acks, "up": up, "stores": stores}
        if up < self._store.acks:
            return CheckResult("down", detail)
        return CheckResult("ok" if up == len(stores) else "degraded", detail)
