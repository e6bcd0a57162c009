"""The audit of other logged rows: the read log (利用登记), transfer events, access events."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from notary.anchoring import AnchorReader
from notary.audit.logged import (
    SubjectIndex,
    check_index,
    check_logged,
    missing_rows,
    receipt_verifier,
)
from notary.audit.report import RECORD_KINDS, Report
from notary.crypto import SM2PublicKey
from notary.errors import VerificationError
from notary.receipts import EvidenceReceipt
from notary.verifier import VerificationMemo

# The kinds of rows ``audit_records`` checks: table -> (what it is, completeness check).


@dataclass(frozen=True, slots=True)
class LoggedRecord:
    """A row that stands for one log entry (a read, a transfer's step): the entry the
    service's own builder derives from the row now, and the stored entry's receipt,
    unchecked."""

    subject: str
    leaf_index: int | None
    derived_entry: dict[str, Any]
    receipt: EvidenceReceipt | None  # None: no anchored checkpoint covers the leaf yet
    unreadable: VerificationError | None = None  # the stored entry or proof did not load


@dataclass(frozen=True, slots=True)
class LoggedRecords:
    """The rows of one kind about one thing (a material's reads, a transfer's events) and
    the leaves of every entry of that kind the log holds about it."""

    kind: str  # a key of RECORD_KINDS
    subject: str
    rows: tuple[LoggedRecord, ...]
    logged: tuple[int, ...] = ()
    # Set when the log was read through its subject index (as for VolumeCustody.index).
    index: SubjectIndex | None = None


def audit_records(
    groups: Iterable[LoggedRecords],
    *,
    log_keys: list[SM2PublicKey],
    chain: AnchorReader | None,
    report: Report,
    memo: VerificationMemo | None = None,
) -> Report:
    """Re-check every row against its logged entry, the entry's proof and anchor, and
    that every logged entry of the kind has its row; record, never raise."""
    receipts = receipt_verifier(log_keys, chain, memo)  # memo: one audit run's, if given
    for g in groups:
        what, check = RECORD_KINDS[g.kind]
        for r in g.rows:
            report.records[g.kind] = report.records.get(g.kind, 0) + 1
            before = len(report.problems)
            check_logged(r, what, receipts, report)
            report.record_rows.append(
                {
                    "kind": g.kind,
                    "what": what,
                    "about": g.subject,
                    "subject": r.subject,
                    "leaf_index": r.leaf_index,
                    "anchor_tx": None
                    if r.receipt is None or r.receipt.anchor is None
                    else r.receipt.anchor.tx_hash,
                    "checks_failed": [p.check for p in report.problems[before:]],
                    "passed": len(report.problems) == before,
                }
            )
        logged: Iterable[int] = g.logged
        if g.index is not None:
            logged = check_index(g.rows, g.index, what, g.subject, receipts, report)
        report.problems.extend(missing_rows(g.rows, logged, what, check, g.subject))
    return report
