"""What every audit of logged rows shares: a row derives its logged entry, whose
proof and anchor verify (one receipt verifier per audit run)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from notary.anchoring import AnchorReader
from notary.audit.report import AUTHENTICITY, COMPLETENESS, Problem, Report
from notary.crypto import SM2PublicKey
from notary.entries import differing_fields, encode_entry, entry_subject
from notary.errors import VerificationError
from notary.receipts import EvidenceReceipt
from notary.verifier import ReceiptVerifier, TrustPolicy, VerificationMemo


def _differing(expected: dict[str, Any], stored: dict[str, Any]) -> str:
    keys = differing_fields(expected, stored)
    return ", ".join(f"{k}: 记录 {expected.get(k)!r} ≠ 日志 {stored.get(k)!r}" for k in keys)


class _Logged(Protocol):
    """A row that stands for one log entry (``CustodyItem``, ``LoggedRecord``)."""

    @property
    def subject(self) -> str: ...
    @property
    def leaf_index(self) -> int | None: ...
    @property
    def derived_entry(self) -> dict[str, Any]: ...
    @property
    def receipt(self) -> EvidenceReceipt | None: ...
    @property
    def unreadable(self) -> VerificationError | None: ...


def check_logged(e: _Logged, what: str, receipts: ReceiptVerifier, report: Report) -> None:
    """The row derives the stored entry, whose proof and anchor hold."""
    problems = report.problems
    if e.unreadable is not None:
        problems.append(Problem(AUTHENTICITY, e.unreadable.check, e.subject, str(e.unreadable)))
        return
    if e.receipt is None:
        problems.append(
            Problem(AUTHENTICITY, "anchor", e.subject, f"{what}条目尚未纳入已锚定的检查点")
        )
        return
    stored = e.receipt.entry
    if encode_entry(e.derived_entry) != encode_entry(stored):
        detail = _differing(e.derived_entry, stored)
        problems.append(
            Problem(AUTHENTICITY, "entry", e.subject, f"{what}记录与日志条目不符：{detail}")
        )
    try:
        receipts.check_offline(e.receipt)
        report.proofs_checked += 1
        if receipts.chain is not None:
            receipts.check_anchor(e.receipt)
    except VerificationError as err:
        problems.append(Problem(AUTHENTICITY, err.check, e.subject, str(err)))


def receipt_verifier(
    log_keys: Sequence[SM2PublicKey],
    chain: AnchorReader | None,
    memo: VerificationMemo | None = None,
) -> ReceiptVerifier:
    """The audit checks this deployment's own receipts: its log keys, pinned.

    With a memo for the one call of ``audit_*`` that builds it: the materials of a log
    share few checkpoints (one per anchoring round), and verifying the same checkpoint's
    SM2 signature and asking the chain about the same anchor again for each of them
    was most of an audit's time per material (benches/results/city.md). The memo keeps
    only passes, keyed by every input of the verdict (``VerificationMemo``), so a
    tampered checkpoint, signature or anchor reference is a miss and is checked; it
    lives no longer than the call, within which the chain is read as one state. A
    caller running several ``audit_*`` calls as one audit (``notary audit``: materials,
    custody, records) may hand them one ``memo``: the run is then that one state."""
    return ReceiptVerifier(
        TrustPolicy.pinned(*log_keys, require_anchor=False),
        chain,
        VerificationMemo() if memo is None else memo,
    )


def missing_rows(
    rows: Iterable[_Logged], logged: Iterable[int], what: str, check: str, subject: str
) -> list[Problem]:
    """A logged entry of the kind without its row: the row was deleted (完整性)."""
    recorded = {r.leaf_index for r in rows}
    return [
        Problem(
            COMPLETENESS,
            check,
            subject,
            f"日志序号 {leaf} 的{what}条目在数据库中没有对应记录（记录被删除？）",
        )
        for leaf in logged
        if leaf not in recorded
    ]


@dataclass(frozen=True, slots=True)
class IndexedLeaf:
    """A leaf the log's subject index lists for a subject and no row stands for, as the
    log holds it: the stored entry (None: no such leaf, or it does not parse) and its
    proof to an anchored checkpoint, unchecked (None: not anchored yet, or unreadable)."""

    leaf_index: int
    entry: dict[str, Any] | None
    receipt: EvidenceReceipt | None = None
    unreadable: VerificationError | None = None


@dataclass(frozen=True, slots=True)
class SubjectIndex:
    """What the log's subject index lists for one subject (``notary.entries.entry_subject``:
    kind and subject), read instead of scanning the log by an audit of a few volumes."""

    kind: str
    subject: str
    leaves: tuple[int, ...]  # every leaf the index lists for the subject
    unmatched: tuple[IndexedLeaf, ...] = ()  # those of them no row stands for


# The stable check id of findings about the index itself.
INDEX_CHECK = "log-index"


def check_index(
    rows: Iterable[_Logged],
    index: SubjectIndex,
    what: str,
    subject: str,
    receipts: ReceiptVerifier,
    report: Report,
) -> list[int]:
    """The index is a finder, not evidence: every row's leaf must be listed (else the
    index lost a row: 完整性), and every listed leaf no row stands for must hold, in the
    log, an entry of the kind about the subject whose proof to a signed checkpoint holds
    (else the index was altered: 真实性). Returns the listed leaves the log confirms,
    for ``missing_rows`` (a confirmed leaf without its row is a deleted record)."""
    problems = report.problems
    key = (index.kind, index.subject)
    listed = set(index.leaves)
    for r in rows:
        leaf = r.leaf_index
        if leaf is None or leaf in listed:
            continue
        if r.receipt is not None and entry_subject(r.receipt.entry) != key:
            continue  # the row names another entry: check_logged's finding, not the index's
        problems.append(
            Problem(
                COMPLETENESS,
                INDEX_CHECK,
                subject,
                f"日志序号 {leaf} 的{what}条目不在日志索引中（索引行被删除？）",
            )
        )
    confirmed = []
    for u in index.unmatched:
        if u.entry is None or entry_subject(u.entry) != key:
            problems.append(
                Problem(
                    AUTHENTICITY,
                    INDEX_CHECK,
                    subject,
                    f"日志索引把日志序号 {u.leaf_index} 列为本对象的{what}条目，"
                    "但日志中该序号的条目不是（索引被篡改？）",
                )
            )
            continue
        if u.unreadable is not None:
            problems.append(Problem(AUTHENTICITY, u.unreadable.check, subject, str(u.unreadable)))
            continue
        if u.receipt is not None:
            try:
                receipts.check_offline(u.receipt)
                report.proofs_checked += 1
                if receipts.chain is not None:
                    receipts.check_anchor(u.receipt)
            except VerificationError as err:
                problems.append(
                    Problem(AUTHENTICITY, err.check, subject, f"日志序号 {u.leaf_index}：{err}")
                )
                continue
        confirmed.append(u.leaf_index)
    return confirmed
