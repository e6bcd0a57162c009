"""The custody audit: each volume's custody records against their logged entries,
the verified custody history and the contract's custody state."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from notary.anchoring import AnchorReader
from notary.audit.logged import (
    SubjectIndex,
    check_index,
    check_logged,
    missing_rows,
    receipt_verifier,
)
from notary.audit.report import AUTHENTICITY, COMPLETENESS, Problem, Report
from notary.crypto import SM2PublicKey
from notary.errors import VerificationError
from notary.receipts import EvidenceReceipt
from notary.verifier import ReceiptVerifier, VerificationMemo


@dataclass(frozen=True, slots=True)
class CustodyItem:
    """One custody record as the database holds it: the entry it derives (the service's
    own builder, applied to the row now) and the stored entry's receipt, unchecked."""

    subject: str
    kind: str  # registered, dispatched, received, returned, ...
    to_unit: str | None
    leaf_index: int | None
    derived_entry: dict[str, Any]
    receipt: EvidenceReceipt | None  # None: no anchored checkpoint covers the leaf yet
    tx_hash: str | None = None
    unreadable: VerificationError | None = None  # the stored entry or proof did not load


@dataclass(frozen=True, slots=True)
class VolumeCustody:
    """A volume's custody: what the database says, the custody entries the log holds for
    it, and where the contract keeps its state (if the volume was ever put on chain)."""

    subject: str
    custodian: str  # the custodian unit's code
    events: tuple[CustodyItem, ...]  # the volume's custody rows, in log order
    logged: tuple[int, ...] = ()  # leaf indices of the volume's custody entries in the log
    chain_volume_id: bytes | None = None  # the opaque id on chain; None: never on chain
    custodian_account: str | None = None  # the account the custodian acts through
    # Set when the log was read through its subject index instead of scanned: then the
    # index is checked against the rows and the log, and ``logged`` is what it confirms.
    index: SubjectIndex | None = None


class CustodyChain(AnchorReader, Protocol):
    """The contract's custody state machine, read through view calls (``ChainClient``)."""

    def custody_state(self, volume_id: bytes) -> Any: ...


# Custody moves on a receipt, a return or the first registration; a dispatch or a
# rejection leaves it with the sender (the contract: custody moves only on receipt).
_HOLDER_CHANGES = frozenset({"registered", "received", "returned"})


def audit_custody(
    volumes: Iterable[VolumeCustody],
    *,
    log_keys: list[SM2PublicKey],
    chain: CustodyChain | None,
    report: Report,
    memo: VerificationMemo | None = None,
) -> Report:
    """Re-check every custody record against its logged entry, the entry's proof and
    anchor, the volume's custodian against the history and the contract; record, never
    raise."""
    receipts = receipt_verifier(log_keys, chain, memo)  # memo: one audit run's, if given
    for v in volumes:
        _audit_volume_custody(v, receipts, chain, report)
        report.volumes += 1
    return report


def _audit_volume_custody(
    v: VolumeCustody, receipts: ReceiptVerifier, chain: CustodyChain | None, report: Report
) -> None:
    problems = report.problems
    for e in v.events:
        report.custody_events += 1
        before = len(problems)
        check_logged(e, "保管", receipts, report)
        if chain is not None and e.tx_hash is not None:
            tx = chain.transaction_receipt(e.tx_hash)
            if (
                tx is None
                or tx.get("status") != 1
                or str(tx.get("to")).lower() != (chain.address.lower())
            ):
                problems.append(
                    Problem(
                        AUTHENTICITY,
                        "custody-chain",
                        e.subject,
                        f"保管交易 {e.tx_hash} 不是对本合约的成功调用",
                    )
                )
        report.custody_rows.append(
            {
                "volume": v.subject,
                "subject": e.subject,
                "kind": e.kind,
                "to_unit": e.to_unit,
                "leaf_index": e.leaf_index,
                "chain_tx": e.tx_hash,
                "anchor_tx": None
                if e.receipt is None or e.receipt.anchor is None
                else e.receipt.anchor.tx_hash,
                "checks_failed": [p.check for p in problems[before:]],
                "passed": len(problems) == before,
            }
        )
    logged: Iterable[int] = v.logged
    if v.index is not None:
        logged = check_index(v.events, v.index, "保管", v.subject, receipts, report)
    missing = missing_rows(v.events, logged, "保管", "custody-record", v.subject)
    problems.extend(missing)
    holder = None
    for e in v.events:
        if e.kind in _HOLDER_CHANGES:
            holder = e.to_unit
    if holder is None:
        if not missing:
            problems.append(Problem(COMPLETENESS, "custody-record", v.subject, "案卷没有保管记录"))
    elif holder != v.custodian:
        problems.append(
            Problem(
                AUTHENTICITY,
                "custody-history",
                v.subject,
                f"数据库记载的保管单位 {v.custodian} 与保管历史的结果 {holder} 不符",
            )
        )
    if chain is not None and v.chain_volume_id is not None:
        state = chain.custody_state(v.chain_volume_id)
        on_chain = None if state is None else str(state.custodian)
        if on_chain is None or on_chain.lower() != str(v.custodian_account).lower():
            problems.append(
                Problem(
                    AUTHENTICITY,
                    "custody-chain",
                    v.subject,
                    f"链上保管账户 {on_chain or '（无此案卷）'} 与数据库记载的保管单位 "
                    f"{v.custodian}（账户 {v.custodian_account}）不符",
                )
            )
