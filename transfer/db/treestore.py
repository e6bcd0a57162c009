"""The Merkle log in the service database: :class:`notary.log.TreeStorage` over
``log_nodes`` and the entries themselves in ``log_leaves``.

A storage object works inside the caller's session and never commits. The
material row, the log entry and the tree nodes of one ingest are committed
together, so an acknowledged upload always has its leaf and a crash never leaves
a leaf without its row (or the reverse).

Usage, per appending transaction::

    with state.write_sessions() as session:
        lock_log(session)                       # one writer across instances
        storage = DbTreeStorage(session)
        log = MerkleLog(storage)                # reads size + compact range (≤ 64 nodes)
        first = log.append_many(entries).start
        storage.put_entries(first, entries)
        ...                                     # the rows that reference the leaves
        session.commit()

Build the ``MerkleLog`` inside the transaction, after the lock: a log kept across
transactions would hold a stale compact range once another instance appends, and
an in-memory view that moved in a transaction later rolled back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import func, insert, select, text, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from notary.canonical import CanonicalJSONError, parse_json
from notary.crypto import sm3
from notary.entries import CUSTODY_EVENT, MATERIAL_READ, entry_subject
from notary.log.merkle import leaf_hash
from notary.log.storage import Node, NodeKey, StorageError
from transfer.db.models import LogLeaf, LogNode, LogSubject
from transfer.db.types import utcnow

# Fixed key of the log-append advisory lock ("notarylg" as a 64-bit integer).
_PG_LOG_LOCK = 0x6E6F746172796C67


def lock_log(session: Session) -> None:
    """Serialise log appends across service instances until the transaction ends.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: nothing to do, a write
    session (``write_sessionmaker``) holds the database write lock from BEGIN.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOG_LOCK})


# Canonical entry bytes (sorted keys, no spaces) of the kinds the subject index files
# contain one of these: only those leaves are parsed when they are written.
SUBJECT_MARKS = tuple(f'"type":"{t}"'.encode() for t in (CUSTODY_EVENT, MATERIAL_READ))


def entry_subjects(first_index: int, entries: Sequence[bytes]) -> list[dict[str, object]]:
    """The ``log_subjects`` rows of leaves ``first_index …`` (``entry_subject`` of each)."""
    rows: list[dict[str, object]] = []
    for i, raw in enumerate(entries):
        if not any(m in raw for m in SUBJECT_MARKS):
            continue
        try:
            found = entry_subject(parse_json(raw))
        except (CanonicalJSONError, UnicodeDecodeError):
            continue
        if found is not None:
            rows.append({"kind": found[0], "subject": found[1], "leaf_index": first_index + i})
    return rows


class DbTreeStorage:
    """:class:`notary.log.storage.TreeStorage` in ``log_nodes`` (plus entries in ``log_leaves``)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    # --- TreeStorage -------------------------------------------------------------------

    def size(self) -> int:
        # max(idx) over level 0 is one primary-key index probe; count(*) would scan.
        last = self._session.scalar(select(func.max(LogNode.idx)).where(LogNode.level == 0))
        return 0 if last is None else last + 1

    def get_nodes(self, keys: Sequence[NodeKey]) -> list[bytes]:
        if not keys:
            return []
        found = self._fetch(keys)
        missing = [k for k in keys if k not in found]
        if missing:
            raise KeyError(f"node ({missing[0][0]}, {missing[0][1]}) is not stored")
        return [found[k] for k in keys]

    def put_nodes(self, nodes: Iterable[Node]) -> None:
        """Write a batch, all or nothing (a savepoint inside the caller's transaction).

        Costs the same at any tree size: a tree of ``n`` leaves stores exactly
        ``n >> level`` nodes at each level (its complete subtrees), so the next index of
        every level follows from ``size()`` — one primary-key probe. Asking the table
        for each level's ``max(idx)`` instead (a ``GROUP BY``) made PostgreSQL walk every
        stored node of the level: appends grew linearly with the log (281 ms at 300 k
        leaves). Only a node below that frontier — a rewrite — is read back.
        """
        batch = list(nodes)
        if not batch:
            return
        size = self.size()
        rewrites = [(lv, ix) for lv, ix, _ in batch if 0 <= lv < 64 and 0 <= ix < size >> lv]
        existing = self._fetch(rewrites) if rewrites else {}
        next_index: dict[int, int] = {}
        rows: list[dict[str, object]] = []
        for level, index, digest in batch:
            if level < 0 or index < 0:
                raise StorageError(f"node ({level}, {index}) has a negative coordinate")
            if (level, index) in existing:
                if existing[(level, index)] != digest:
                    raise StorageError(f"node ({level}, {index}) is already written")
                continue  # rewriting the same hash is harmless
            expected = next_index.get(level, size >> level if level < 64 else 0)
            if index != expected:
                raise StorageError(
                    f"node ({level}, {index}) leaves a gap: next index at level {level} "
                    f"is {expected}"
                )
            next_index[level] = expected + 1
            rows.append({"level": level, "idx": index, "hash": digest})
        if not rows:
            return
        try:
            with self._session.begin_nested():
                self._session.execute(insert(LogNode), rows)
        except IntegrityError:
            # Only reachable when a second writer bypassed lock_log(), or when the table
            # holds nodes a tree of its size cannot have.
            raise StorageError("a concurrent writer appended to the log") from None

    # --- entries -----------------------------------------------------------------------

    def put_entries(self, first_index: int, entries: Sequence[bytes]) -> None:
        """Store the entry bytes of leaves ``first_index …`` (after ``put_nodes``) and
        their rows of the log's subject index (``log_subjects``), in the same
        transaction, so that the index never lists less or more than the log holds."""
        if not entries:
            return
        now = utcnow()
        rows = [
            {"idx": first_index + i, "entry": e, "leaf_hash": leaf_hash(sm3, e), "created_at": now}
            for i, e in enumerate(entries)
        ]
        self._session.execute(insert(LogLeaf), rows)
        subjects = entry_subjects(first_index, entries)
        if subjects:
            self._session.execute(insert(LogSubject), subjects)

    def entry(self, index: int) -> bytes:
        value = self._session.scalar(select(LogLeaf.entry).where(LogLeaf.idx == index))
        if value is None:
            raise IndexError(f"the log has no entry {index}")
        return value

    def index_of_leaf(self, digest: bytes) -> int | None:
        """The index of the (first) leaf whose hash is ``digest``."""
        query = select(func.min(LogLeaf.idx)).where(LogLeaf.leaf_hash == digest)
        return self._session.scalar(query)

    # --- helpers -----------------------------------------------------------------------

    def _fetch(self, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        wanted = list(dict.fromkeys(keys))
        if self._session.get_bind().dialect.name == "postgresql":
            # Two array parameters, not two bound parameters per key: psycopg parses a
            # statement of hundreds of placeholders on the client for every call (~8 ms
            # for a batch of the audit's proofs).
            rows = self._session.execute(
                text(
                    "SELECT level, idx, hash FROM log_nodes WHERE (level, idx) IN "
                    "(SELECT * FROM unnest(CAST(:levels AS smallint[]), CAST(:idxs AS bigint[])))"
                ),
                {"levels": [k[0] for k in wanted], "idxs": [k[1] for k in wanted]},
            )
            return {(r.level, r.idx): r.hash for r in rows}
        rows = self._session.execute(
            select(LogNode.level, LogNode.idx, LogNode.hash).where(
                tuple_(LogNode.level, LogNode.idx).in_(wanted)
            )
        )
        return {(r.level, r.idx): r.hash for r in rows}
