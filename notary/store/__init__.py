"""Content addressing (IPFS CIDs exactly as Kubo computes them) and content stores.

``LocalStore`` is the embedded default (blocks on disk), ``KuboStore`` talks to a
real IPFS node; both verify every block they read against its CID.
"""

from notary.store.base import (
    CarFormatError,
    ContentIntegrityError,
    ContentNotFound,
    ContentStore,
    InvalidCIDError,
    StoreError,
    StoreUnavailable,
)
from notary.store.kubo import KuboStore
from notary.store.local import LocalStore
from notary.store.unixfs import CHUNK_SIZE, MAX_LINKS, compute_cid

__all__ = [
    "CHUNK_SIZE",
    "MAX_LINKS",
    "CarFormatError",
    "ContentIntegrityError",
    "ContentNotFound",
    "ContentStore",
    "InvalidCIDError",
    "KuboStore",
    "LocalStore",
    "StoreError",
    "StoreUnavailable",
    "compute_cid",
]
