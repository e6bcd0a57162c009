"""Appending entries to the log inside the caller's transaction.

Every writer of the log goes through :func:`append_entries`, so that the lock, the
tree nodes and the entry bytes are always written together: the caller adds the rows
that reference the leaves and commits once. Nothing is acknowledged before that
commit, which is what makes an acknowledged entry durable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from notary.entries import encode_entry
from notary.log import MerkleLog
from transfer.db.treestore import DbTreeStorage, lock_log


def append_entries(session: Session, entries: Sequence[dict[str, Any]]) -> range:
    """Append ``entries`` (not committed); returns their leaf indices."""
    encoded = [encode_entry(e) for e in entries]
    lock_log(session)
    # Built after the lock: another instance may have appended since our last look.
    storage = DbTreeStorage(session)
    indices = MerkleLog(storage).append_many(encoded)
    storage.put_entries(indices.start, encoded)
    return indices
