"""What the custody audit (:func:`notary.audit.audit_custody`) reads from a deployment.

For each volume in scope: its custody rows, each with the entry the service's own
builder derives from the row now (:func:`transfer.services.custody.custody_entry`)
and the stored entry's receipt, assembled without checking it; the leaf indices of
every custody entry the log holds for the volume (found by its blinded reference), so
that a deleted row shows; and, for a volume that was ever dispatched, its id on chain
and the account its custodian acts through.

The whole-log audit finds the logged entries by scanning the log (``scan_entries``);
an audit of some volumes (``--volume``, ``--unit``) reads them from the log's subject
index (``log_subjects``), so that its time depends on the volumes, not on the log, and
hands the index to the audit to be checked, not trusted (:func:`subject_index`,
:func:`notary.audit.logged.check_index`).

Used by ``notary audit`` and the tamper battery (``tests/security``): one reading of
the database for both.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Iterator, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from notary.audit import CustodyItem, IndexedLeaf, SubjectIndex, VolumeCustody
from notary.crypto import SM2PublicKey
from notary.entries import CUSTODY_EVENT, SUBJECT_CUSTODY, decode_entry
from notary.errors import EntryMismatch, VerificationError
from notary.receipts import EvidenceReceipt
from transfer.db.models import CustodyEvent, LogLeaf, LogSubject, TransferVolume, Unit, Volume
from transfer.services.custody import custody_entry
from transfer.services.ingest import volume_ref
from transfer.services.receipts import entry_of, stored_receipt_or_error, stored_receipts
from transfer.services.transfer_units import unit_account

# Subjects asked of the log's subject index per query.
_INDEX_CHUNK = 500

# A custody entry's canonical bytes contain this (keys are sorted, no spaces), so the
# scan decodes only the few leaves that can be custody entries.
_CUSTODY_MARK = f'"type":"{CUSTODY_EVENT}"'.encode()


class Codes:
    """Unit codes by id, each unit read once (a deleted unit is named by its id)."""

    def __init__(self, s: Session) -> None:
        self._s = s
        self._codes: dict[uuid.UUID, str] = {}

    def __call__(self, unit_id: uuid.UUID) -> str:
        if unit_id not in self._codes:
            unit = self._s.get(Unit, unit_id)
            self._codes[unit_id] = str(unit_id) if unit is None else unit.code
        return self._codes[unit_id]


def volume_subject(volume_id: uuid.UUID) -> str:
    return f"{volume_id}（案卷保管）"


def event_subject(row: CustodyEvent) -> str:
    return f"{row.volume_id}（保管事件 {row.kind}，日志序号 {row.leaf_index}）"


def scan_entries(s: Session, marks: tuple[bytes, ...]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Every leaf whose bytes contain one of ``marks``, decoded, in log order: one pass
    over the log, decoding only the few leaves that can be of the kinds wanted."""
    leaves = s.execute(
        select(LogLeaf.idx, LogLeaf.entry).order_by(LogLeaf.idx).execution_options(yield_per=2000)
    )
    for idx, raw in leaves:
        if not any(m in raw for m in marks):
            continue
        try:
            yield idx, decode_entry(raw)
        except VerificationError:
            continue  # a leaf that does not parse fails its own row's or neighbours' proofs


def logged_custody(s: Session, refs: dict[str, uuid.UUID]) -> dict[uuid.UUID, list[int]]:
    """Leaf indices of the custody entries of the volumes whose blinded refs are given."""
    found: dict[uuid.UUID, list[int]] = defaultdict(list)
    for idx, entry in scan_entries(s, (_CUSTODY_MARK,)):
        volume = refs.get(str(entry.get("volume")))
        if volume is not None and entry.get("type") == CUSTODY_EVENT:
            found[volume].append(idx)
    return found


def indexed_leaves(s: Session, kind: str, subjects: Collection[str]) -> dict[str, list[int]]:
    """The leaves the log's subject index lists for each of ``subjects`` (of ``kind``),
    in log order: a primary-key range per subject, whatever the size of the log."""
    found: dict[str, list[int]] = defaultdict(list)
    wanted = sorted(subjects)
    for start in range(0, len(wanted), _INDEX_CHUNK):
        rows = s.execute(
            select(LogSubject.subject, LogSubject.leaf_index)
            .where(
                LogSubject.kind == kind,
                LogSubject.subject.in_(wanted[start : start + _INDEX_CHUNK]),
            )
            .order_by(LogSubject.leaf_index)
        )
        for subject, leaf in rows:
            found[subject].append(leaf)
    return found


def subject_index(
    s: Session,
    kind: str,
    subject: str,
    leaves: Sequence[int],
    row_leaves: Collection[int | None],
    log_key: SM2PublicKey,
) -> SubjectIndex:
    """What the index lists for ``subject``, with the leaves no row stands for read from
    the log (entry and receipt, unchecked) for :func:`notary.audit.logged.check_index`;
    in a log whose index agrees with its rows there are none, and nothing more is read."""
    unmatched = []
    for leaf in leaves:
        if leaf in row_leaves:
            continue
        try:
            entry = entry_of(s, leaf)
        except (LookupError, VerificationError):
            unmatched.append(IndexedLeaf(leaf, None))
            continue
        receipt, unreadable = load_receipt(s, leaf, log_key, "")
        unmatched.append(IndexedLeaf(leaf, entry, receipt, unreadable))
    return SubjectIndex(kind, subject, tuple(leaves), tuple(unmatched))


def load_receipt(
    s: Session, leaf_index: int | None, log_key: SM2PublicKey, missing: str
) -> tuple[EvidenceReceipt | None, VerificationError | None]:
    """The stored entry's receipt, unchecked, or why it does not load (``missing``: the
    row has no leaf at all)."""
    if leaf_index is None:
        return None, EntryMismatch(missing)
    return _split(stored_receipt_or_error(s, leaf_index, log_key))


def _split(
    got: EvidenceReceipt | VerificationError | None,
) -> tuple[EvidenceReceipt | None, VerificationError | None]:
    return (None, got) if isinstance(got, VerificationError) else (got, None)


_MISSING = "保管记录没有日志条目"

# Volumes whose custody rows, receipts and chain ids are read together.
_VOLUME_BATCH = 256


def _receipts(
    s: Session, rows: Sequence[CustodyEvent], log_key: SM2PublicKey
) -> dict[int, tuple[EvidenceReceipt | None, VerificationError | None]]:
    """``load_receipt`` of every row's leaf, in a few queries per batch
    (``stored_receipts``: the same receipts, a leaf that does not parse or whose entry is
    gone keeps its own error)."""
    leaves = [r.leaf_index for r in rows if r.leaf_index is not None]
    return {leaf: _split(got) for leaf, got in stored_receipts(s, leaves, log_key).items()}


def _item(
    s: Session,
    row: CustodyEvent,
    secret: bytes,
    log_key: SM2PublicKey,
    codes: Codes,
    loaded: dict[int, tuple[EvidenceReceipt | None, VerificationError | None]] | None = None,
) -> CustodyItem:
    if loaded is not None and row.leaf_index is not None:
        receipt, unreadable = loaded[row.leaf_index]
    else:
        receipt, unreadable = load_receipt(s, row.leaf_index, log_key, _MISSING)
    return CustodyItem(
        subject=event_subject(row),
        kind=str(row.kind),
        to_unit=None if row.to_unit_id is None else codes(row.to_unit_id),
        leaf_index=row.leaf_index,
        derived_entry=custody_entry(row, secret, codes),
        receipt=receipt,
        tx_hash=row.tx_hash,
        unreadable=unreadable,
    )


def volume_custody(
    s: Session,
    volume_ids: Sequence[uuid.UUID] | None,
    *,
    secret: bytes,
    log_key: SM2PublicKey,
    centre_account: str,
) -> Iterator[VolumeCustody]:
    """The custody of the given volumes (every volume if None), for ``audit_custody``:
    every volume's logged entries found by a scan of the log, given volumes' through the
    log's subject index (``VolumeCustody.index``, checked by the audit)."""
    query = select(Volume).order_by(Volume.id)
    if volume_ids is not None:
        query = query.where(Volume.id.in_(volume_ids))
    volumes = list(s.scalars(query))
    refs = {v.id: volume_ref(secret, v.id) for v in volumes}
    # Every volume: one pass over the log. Some volumes: the subject index, checked.
    logged = logged_custody(s, {r: v for v, r in refs.items()}) if volume_ids is None else {}
    indexed = indexed_leaves(s, SUBJECT_CUSTODY, refs.values()) if volume_ids is not None else {}
    codes = Codes(s)
    accounts: dict[uuid.UUID, str] = {}
    # A batch of volumes at a time: their custody rows, receipts and chain ids each in a
    # few queries (one volume at a time took ~8 queries per volume: ~20 min at 160,000).
    for start in range(0, len(volumes), _VOLUME_BATCH):
        batch = volumes[start : start + _VOLUME_BATCH]
        ids = [v.id for v in batch]
        by_volume: dict[uuid.UUID, list[CustodyEvent]] = defaultdict(list)
        for row in s.scalars(
            select(CustodyEvent)
            .where(CustodyEvent.volume_id.in_(ids))
            .order_by(CustodyEvent.volume_id, CustodyEvent.leaf_index, CustodyEvent.created_at)
        ):
            by_volume[row.volume_id].append(row)
        loaded = _receipts(s, [r for rows in by_volume.values() for r in rows], log_key)
        chain_ids = _chain_volume_ids(s, ids)
        for v in batch:
            if v.custodian_unit_id not in accounts:
                accounts[v.custodian_unit_id] = unit_account(s, v.custodian_unit_id, centre_account)
            rows = by_volume.get(v.id, [])
            index = None
            if volume_ids is not None:
                ref = refs[v.id]
                index = subject_index(
                    s,
                    SUBJECT_CUSTODY,
                    ref,
                    indexed.get(ref, []),
                    {r.leaf_index for r in rows},
                    log_key,
                )
            yield VolumeCustody(
                subject=volume_subject(v.id),
                custodian=codes(v.custodian_unit_id),
                events=tuple(_item(s, r, secret, log_key, codes, loaded) for r in rows),
                logged=tuple(logged.get(v.id, ())),
                chain_volume_id=chain_ids.get(v.id),
                custodian_account=accounts[v.custodian_unit_id],
                index=index,
            )


def _chain_volume_ids(s: Session, volume_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, bytes | None]:
    """The volumes' ids on chain, for those ever dispatched (only then are they on
    chain): the latest dispatch of each, in one query."""
    out: dict[uuid.UUID, bytes | None] = {}
    rows = s.execute(
        select(TransferVolume.volume_id, TransferVolume.chain_volume_id)
        .where(TransferVolume.volume_id.in_(volume_ids), TransferVolume.dispatch_tx.is_not(None))
        .order_by(TransferVolume.id.desc())
    )
    for volume_id, chain_volume_id in rows:
        if volume_id is not None and volume_id not in out:  # the latest dispatch only
            out[volume_id] = None if chain_volume_id is None else bytes.fromhex(chain_volume_id)
    return out
