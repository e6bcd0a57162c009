"""What every audit of logged rows shares: a row derives its logged entry, whose
proof and anchor verify (one receipt verifier per audit run)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from notary.anchoring import AnchorReader
from notary.audit.report import AUTHENTICITY, COMPLETENESS, Problem, Report
from notary.crypto import SM2PublicKey
from notary.entries import differing_fields, encode_entry
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
