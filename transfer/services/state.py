"""What a service needs of the running deployment: the small context it is handed.

The HTTP app's ``AppState`` (transfer/api/state.py) is one such object; the CLI's
server-side commands and the tests build the same from a home. The services see
only this protocol, never the web framework.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from transfer.services.metrics import Metrics
from transfer.settings import Settings

if TYPE_CHECKING:
    from notary.store.base import ContentStore
    from transfer.services.anchoring import AnchoringWorker
    from transfer.services.context import NotaryContext
    from transfer.services.reads import ReadLog


class ServiceState(Protocol):
    settings: Settings
    # Deferred transactions for reads; BEGIN IMMEDIATE for writes on SQLite.
    sessions: sessionmaker[Session]
    write_sessions: sessionmaker[Session]
    metrics: Metrics
    blinding_secret: bytes
    # 利用登记: concurrent reads' entries committed together (transfer/services/group_commit.py).
    read_log: ReadLog
    # The Merkle log (over transfer.db.treestore), the content store and the chain
    # client; None until the deployment is opened.
    log: Any
    store: ContentStore | None
    chain: Any
    notary: NotaryContext | None
    anchoring: AnchoringWorker | None
    # How this service reaches peer centres (transfer/services/federation.py).
    peer_fetcher: Any
