"""The material audit: content, envelope, entry, proofs and anchor of every material."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from notary.anchoring import AnchorReader
from notary.audit.logged import receipt_verifier
from notary.audit.report import (
    AUTHENTICITY,
    COMPLETENESS,
    PROPERTIES,
    SECURITY,
    USABILITY,
    Problem,
    Report,
)
from notary.crypto import Decrypter, SM2PublicKey, sm3
from notary.envelope import DigestMismatch, EnvelopeError, open_sealed, unwrap_key
from notary.errors import VerificationError
from notary.reader import MaterialRecord, check_entry
from notary.receipts import EvidenceReceipt
from notary.store import ContentIntegrityError, ContentNotFound, ContentStore, InvalidCIDError
from notary.verifier import ReceiptVerifier, VerificationMemo


@dataclass(frozen=True, slots=True)
class MaterialDetails:
    """What the report lists of a material besides what it re-verifies."""

    designation: str  # 类号-序号-页码
    title: str
    custodian: str  # the custodian unit's code
    plain_size: int  # bytes of the material as registered (ingest's size)
    leaf_index: int | None


@dataclass(frozen=True, slots=True)
class AuditItem:
    """One material as the notary registered it, with what is needed to re-verify it."""

    record: MaterialRecord
    media_type: str
    # The stored receipt; None before anchoring; the error when the stored entry or
    # checkpoint does not even parse (a finding, not a reason to stop the audit).
    receipt: EvidenceReceipt | VerificationError | None
    label: str = ""
    details: MaterialDetails | None = None
    # The whole-log audit established that the receipt's stored inclusion proof
    # verifies (transfer.services.tree_check); the receipt then carries none.
    proven: bool = False


def _usable(media_type: str, data: bytes) -> str | None:
    """None if ``data`` opens as ``media_type`` at the level of its container format."""
    checks: dict[str, Callable[[bytes], bool]] = {
        "application/pdf": lambda d: d.startswith(b"%PDF-") and b"%%EOF" in d[-1024:],
        "image/png": lambda d: d.startswith(b"\x89PNG\r\n\x1a\n") and d.endswith(b"IEND\xaeB`\x82"),
        "image/jpeg": lambda d: (
            d.startswith(b"\xff\xd8\xff") and d.rstrip(b"\x00").endswith(b"\xff\xd9")
        ),
        "image/tiff": lambda d: d[:4] in (b"II*\x00", b"MM\x00*"),
        "application/ofd": lambda d: d.startswith(b"PK\x03\x04") and b"OFD.xml" in d,
    }
    check = checks.get(media_type)
    if check is None:
        return f"unknown media type {media_type}"
    return None if check(data) else f"does not open as {media_type}"


def audit_materials(
    items: Iterable[AuditItem],
    *,
    store: ContentStore,
    holder: Callable[[MaterialRecord], Decrypter | None],
    log_keys: list[SM2PublicKey],
    chain: AnchorReader | None,
    report: Report,
    progress: Callable[[int], None] | None = None,
    memo: VerificationMemo | None = None,
) -> Report:
    """Re-hash every material's content and re-check its proofs; record, never raise.
    ``memo``: the verification memo of a whole audit run whose materials come in
    several calls (a worker process of the parallel whole-log audit); by default one
    memo for this call (``receipt_verifier``)."""
    receipts = receipt_verifier(log_keys, chain, memo)
    for n, item in enumerate(items, 1):
        before = len(report.problems)
        sealed_size = _audit_one(item, store, holder, receipts, report)
        report.material_rows.append(_material_row(item, sealed_size, report.problems[before:]))
        report.materials += 1
        if progress is not None:
            progress(n)
    return report


def _results(found: list[Problem]) -> dict[str, str]:
    failed = {p.property for p in found}
    return {p: "未通过" if p in failed else "通过" for p in PROPERTIES}


def _material_row(item: AuditItem, sealed_size: int | None, found: list[Problem]) -> dict[str, Any]:
    r, d = item.record, item.details
    receipt = item.receipt if isinstance(item.receipt, EvidenceReceipt) else None
    anchor = None if receipt is None else receipt.anchor
    return {
        "material_id": r.material_id,
        "designation": None if d is None else d.designation,
        "title": None if d is None else d.title,
        "sm3": r.sm3.hex(),
        "cid": r.cid,
        "custodian": None if d is None else d.custodian,
        "leaf_index": None if d is None else d.leaf_index,
        "checkpoint_tree_size": None
        if receipt is None
        else receipt.checkpoint.checkpoint.tree_size,
        "chain_tx": None if anchor is None else anchor.tx_hash,
        "block": None if anchor is None else anchor.block_number,
        "plain_size": None if d is None else d.plain_size,
        "sealed_size": sealed_size,
        "results": _results(found),
        "checks_failed": [p.check for p in found],
        "passed": not found,
    }


def _audit_one(
    item: AuditItem,
    store: ContentStore,
    holder: Callable[[MaterialRecord], Decrypter | None],
    receipts: ReceiptVerifier,
    report: Report,
) -> int | None:
    """Check one material; the size of its ciphertext as read (None: not readable)."""
    r = item.record
    subject = item.label or r.material_id
    problems = report.problems

    def problem(prop: str, check: str, detail: str) -> None:
        problems.append(Problem(prop, check, subject, detail))

    before = len(problems)
    # Proofs first: they need no content, so a missing material is still checked.
    if item.receipt is None:
        problem(AUTHENTICITY, "anchor", "登记条目尚未纳入已锚定的检查点 (not yet anchored)")
    elif isinstance(item.receipt, VerificationError):
        problem(AUTHENTICITY, item.receipt.check, f"存储的证明无法读取: {item.receipt}")
    else:
        try:
            check_entry(r, item.receipt.entry)
            receipts.check_offline(
                item.receipt, material_sm3=r.sm3, check_inclusion=not item.proven
            )
            report.proofs_checked += 1
            if receipts.chain is not None:
                receipts.check_anchor(item.receipt)
        except VerificationError as e:
            problem(AUTHENTICITY, e.check, str(e))
    try:
        sealed = store.get(r.cid)
    except ContentNotFound as e:
        problem(COMPLETENESS, "content", f"内容缺失 (content missing): {e}")
        return None
    except (ContentIntegrityError, InvalidCIDError) as e:
        problem(AUTHENTICITY, "content", f"存储内容与 CID 不符 (fixity): {e}")
        return None
    report.sealed_bytes_rehashed += len(sealed)
    key_holder = holder(r)
    if key_holder is None:
        problem(SECURITY, "envelope", "保管单位的密钥不可用 (custodian key unavailable)")
        return len(sealed)
    try:
        plain = open_sealed((sealed,), unwrap_key(r.wrapped_key, key_holder), r.material_id, r.sm3)
    except EnvelopeError as e:
        problem(SECURITY, "envelope", str(e))
        return len(sealed)
    except DigestMismatch as e:  # pragma: no cover - the AAD binds the SM3 first
        problem(AUTHENTICITY, "sm3", str(e))
        return len(sealed)
    report.plain_bytes_rehashed += len(plain)
    if sm3(plain) != r.sm3:  # pragma: no cover - bound by the AAD
        problem(AUTHENTICITY, "sm3", "SM3 mismatch")
    unusable = _usable(item.media_type, plain)
    if unusable is not None:
        problem(USABILITY, "media-type", unusable)
    found = {p.property for p in problems[before:]}
    for prop in PROPERTIES:
        if prop not in found:
            report.passed[prop] += 1
    return len(sealed)
