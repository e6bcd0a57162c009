"""What the running app holds, in one typed object (``app.state.notary``).

Routes reach it through :func:`transfer.api.deps.get_state`, never through module
globals, so that a test (or a second deployment in one process) builds its own.
The log, content store and chain are filled in by their builders; they stay
``None`` until those parts are wired (routes that need them answer 503).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from transfer.api.metrics import Metrics
from transfer.api.principals import PrincipalCache
from transfer.services.health import HealthCheck
from transfer.settings import Settings

if TYPE_CHECKING:
    from notary.store.base import ContentStore
    from transfer.api.batching import Batcher
    from transfer.services.anchoring import AnchoringWorker
    from transfer.services.context import NotaryContext
    from transfer.services.reads import ReadLog


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    # Deferred transactions for reads; BEGIN IMMEDIATE for writes on SQLite.
    sessions: sessionmaker[Session]
    write_sessions: sessionmaker[Session]
    metrics: Metrics
    blinding_secret: bytes
    # Authenticated keys, for settings.principal_cache_ttl_s; the routes that revoke a
    # key or change a unit's status invalidate it.
    principals: PrincipalCache
    # Admits settings.content_reads_at_once verified content reads at a time.
    content_reads: anyio.CapacityLimiter
    # 利用登记: concurrent reads' entries committed together (transfer/services/group_commit.py).
    read_log: ReadLog
    health_checks: list[HealthCheck] = field(default_factory=list)
    # Filled in by the ingest/anchoring wiring: the Merkle log over transfer.db.treestore,
    # the content store and the chain client.
    log: Any = None
    store: ContentStore | None = None
    chain: Any = None
    # The opened deployment (keys, chain, store, the log's origin); None when the home
    # is not a deployment yet (only the administrative API works then).
    notary: NotaryContext | None = None
    anchoring: AnchoringWorker | None = None
    # Verify-by-SM3 answers, concurrent callers' lookups batched into one thread hop;
    # wired with ``notary``.
    sm3_lookups: Batcher[bytes, dict[str, Any]] | None = None
    # The embedded chain's read-only JSON-RPC while it is served (settings.chain_rpc_port).
    chain_rpc_url: str | None = None
    # How this service reaches peer centres (transfer/services/federation.py): None is
    # plain HTTP; tests put two in-process services side by side with their own.
    peer_fetcher: Any = None
    # Resources the app created and must close at shutdown (an engine passed in by
    # the caller is the caller's to dispose).
    owns_engine: bool = True
