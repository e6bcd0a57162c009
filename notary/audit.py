"""The auditor's re-verification of holdings, reported under the four properties (四性).

Mapping of findings to 真实性、完整性、可用性、安全性 (after DA/T 70 and GB/T 18894 §四性检测):

- 真实性 authenticity: stored ciphertext does not hash to its CID; the content's SM3
  differs from the registered SM3; the registration entry, inclusion proof,
  checkpoint signature or chain anchor does not verify; two anchored checkpoints are
  inconsistent (the log was rewritten);
- 完整性 completeness: a registered material's content is missing;
- 可用性 usability: the content decrypts but does not open as its declared type;
- 安全性 security: the data key does not unwrap for the custodian or the GCM tag fails.

Custody (``audit_custody``) under the same columns:

- 真实性: a custody row no longer derives the entry that was logged for it, or that
  entry's proof or anchor fails; the custodian the database names is not the one the
  verified custody history leads to, or not the one the contract's custody state names;
  a logged custody transaction is not a successful call of the contract;
- 完整性: the log holds a custody entry of the volume that has no row (a deleted
  record), or a volume has no custody record at all.

Other rows that stand for a log entry (``audit_records``: the read log 利用登记 and a
transfer's events) the same way: 真实性 if a row no longer derives its logged entry or
that entry's proof or anchor fails, 完整性 if the log holds an entry of the kind with
no row.

The audit never stops at the first problem: every material is checked and every
problem recorded with the check that found it.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from notary.anchoring import AnchorReader
from notary.checkpoint import SignedCheckpoint
from notary.crypto import Decrypter, SM2PublicKey, sm3
from notary.entries import differing_fields, encode_entry
from notary.envelope import DigestMismatch, EnvelopeError, open_sealed, unwrap_key
from notary.errors import ConsistencyError, ProofError, VerificationError
from notary.log.merkle import verify_consistency
from notary.reader import MaterialRecord, check_entry
from notary.receipts import EvidenceReceipt
from notary.store import ContentIntegrityError, ContentNotFound, ContentStore, InvalidCIDError
from notary.verifier import ReceiptVerifier, TrustPolicy, VerificationMemo

AUTHENTICITY, COMPLETENESS, USABILITY, SECURITY = "真实性", "完整性", "可用性", "安全性"
PROPERTIES = (AUTHENTICITY, COMPLETENESS, USABILITY, SECURITY)
PROPERTY_EN = {
    AUTHENTICITY: "authenticity",
    COMPLETENESS: "completeness",
    USABILITY: "usability",
    SECURITY: "security",
}


@dataclass(frozen=True, slots=True)
class Problem:
    property: str
    check: str
    subject: str
    detail: str

    def to_json(self) -> dict[str, str]:
        return {
            "property": self.property,
            "property_en": PROPERTY_EN[self.property],
            "check": self.check,
            "subject": self.subject,
            "detail": self.detail,
        }


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
    receipt: EvidenceReceipt | None
    label: str = ""
    details: MaterialDetails | None = None


@dataclass
class Report:
    scope: str
    started_ms: int
    finished_ms: int = 0
    materials: int = 0
    # Both sizes, named: the SM4-GCM ciphertext re-hashed against its CID (fixity), and
    # the decrypted content re-hashed with SM3 (the size ingest reports).
    sealed_bytes_rehashed: int = 0
    plain_bytes_rehashed: int = 0
    proofs_checked: int = 0
    checkpoints_checked: int = 0
    custody_events: int = 0
    volumes: int = 0
    # Other rows re-derived from their entries, by kind (RECORD_KINDS).
    records: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    passed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PROPERTIES, 0))
    # What was covered, one row each: materials, custody events, other logged records.
    material_rows: list[dict[str, Any]] = field(default_factory=list)
    custody_rows: list[dict[str, Any]] = field(default_factory=list)
    record_rows: list[dict[str, Any]] = field(default_factory=list)
    tool_version: str = ""
    # The chain the anchors were checked against, as read when the audit ran.
    chain_state: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def by_property(self) -> dict[str, list[Problem]]:
        out: dict[str, list[Problem]] = {p: [] for p in PROPERTIES}
        for p in self.problems:
            out[p.property].append(p)
        return out

    def to_json(self) -> dict[str, Any]:
        grouped = self.by_property()
        return {
            "format": "archive-notary/audit-report/v2",
            "scope": self.scope,
            "started_ms": self.started_ms,
            "finished_ms": self.finished_ms,
            "tool_version": self.tool_version,
            "chain": self.chain_state,
            "summary": {
                "materials": self.materials,
                "materials_passed": sum(1 for r in self.material_rows if r["passed"]),
                "materials_with_problems": sum(1 for r in self.material_rows if not r["passed"]),
                "sealed_bytes_rehashed": self.sealed_bytes_rehashed,
                "plain_bytes_rehashed": self.plain_bytes_rehashed,
                "proofs_checked": self.proofs_checked,
                "checkpoints_checked": self.checkpoints_checked,
                "volumes": self.volumes,
                "custody_events": self.custody_events,
                "records": {k: self.records.get(k, 0) for k in RECORD_KINDS},
                "problems": len(self.problems),
                "result": "通过" if self.ok else "未通过",
                "by_property": {
                    p: {"problems": len(grouped[p]), "passed": self.passed[p]} for p in PROPERTIES
                },
            },
            "problems": [p.to_json() for p in self.problems],
            "materials": self.material_rows,
            "custody_events": self.custody_rows,
            "records": self.record_rows,
        }

    def to_html(self, zone: str = "Asia/Shanghai", zone_label: str = "北京时间") -> str:
        return render_html(self, zone, zone_label)


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
) -> Report:
    """Re-hash every material's content and re-check its proofs; record, never raise."""
    receipts = _verifier(log_keys, chain)
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
    r, d, receipt = item.record, item.details, item.receipt
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
    else:
        try:
            check_entry(r, item.receipt.entry)
            receipts.check_offline(item.receipt, material_sm3=r.sm3)
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


class CustodyChain(AnchorReader, Protocol):
    """The contract's custody state machine, read through view calls (``ChainClient``)."""

    def custody_state(self, volume_id: bytes) -> Any: ...


# Custody moves on a receipt, a return or the first registration; a dispatch or a
# rejection leaves it with the sender (the contract: custody moves only on receipt).
_HOLDER_CHANGES = frozenset({"registered", "received", "returned"})


def _differing(expected: dict[str, Any], stored: dict[str, Any]) -> str:
    keys = differing_fields(expected, stored)
    return ", ".join(f"{k}: 记录 {expected.get(k)!r} ≠ 日志 {stored.get(k)!r}" for k in keys)


def audit_custody(
    volumes: Iterable[VolumeCustody],
    *,
    log_keys: list[SM2PublicKey],
    chain: CustodyChain | None,
    report: Report,
) -> Report:
    """Re-check every custody record against its logged entry, the entry's proof and
    anchor, the volume's custodian against the history and the contract; record, never
    raise."""
    receipts = _verifier(log_keys, chain)
    for v in volumes:
        _audit_volume_custody(v, receipts, chain, report)
        report.volumes += 1
    return report


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


def _check_logged(e: _Logged, what: str, receipts: ReceiptVerifier, report: Report) -> None:
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


def _verifier(log_keys: Sequence[SM2PublicKey], chain: AnchorReader | None) -> ReceiptVerifier:
    """The audit checks this deployment's own receipts: its log keys, pinned.

    With a memo for the one call of ``audit_*`` that builds it: the materials of a log
    share few checkpoints (one per anchoring round), and verifying the same checkpoint's
    SM2 signature and asking the chain about the same anchor again for each of them
    was most of an audit's time per material (benches/results/city.md). The memo keeps
    only passes, keyed by every input of the verdict (``VerificationMemo``), so a
    tampered checkpoint, signature or anchor reference is a miss and is checked; it
    lives no longer than the call, within which the chain is read as one state."""
    return ReceiptVerifier(
        TrustPolicy.pinned(*log_keys, require_anchor=False), chain, VerificationMemo()
    )


def _missing_rows(
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


def _audit_volume_custody(
    v: VolumeCustody, receipts: ReceiptVerifier, chain: CustodyChain | None, report: Report
) -> None:
    problems = report.problems
    for e in v.events:
        report.custody_events += 1
        before = len(problems)
        _check_logged(e, "保管", receipts, report)
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
    missing = _missing_rows(v.events, v.logged, "保管", "custody-record", v.subject)
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


# The kinds of rows ``audit_records`` checks: table -> (what it is, completeness check).
RECORD_KINDS = {
    "read_log": ("利用登记", "read-record"),
    "transfer_events": ("转递事件", "transfer-record"),
    "access_events": ("权限变更", "access-record"),
}


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


def audit_records(
    groups: Iterable[LoggedRecords],
    *,
    log_keys: list[SM2PublicKey],
    chain: AnchorReader | None,
    report: Report,
) -> Report:
    """Re-check every row against its logged entry, the entry's proof and anchor, and
    that every logged entry of the kind has its row; record, never raise."""
    receipts = _verifier(log_keys, chain)
    for g in groups:
        what, check = RECORD_KINDS[g.kind]
        for r in g.rows:
            report.records[g.kind] = report.records.get(g.kind, 0) + 1
            before = len(report.problems)
            _check_logged(r, what, receipts, report)
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
        report.problems.extend(_missing_rows(g.rows, g.logged, what, check, g.subject))
    return report


def audit_checkpoints(
    checkpoints: list[SignedCheckpoint],
    consistency_proof: Callable[[int, int], list[bytes]],
    *,
    log_key: SM2PublicKey,
    chain_root: Callable[[SignedCheckpoint], bytes | None] | None,
    report: Report,
) -> Report:
    """The log monitor: every anchored checkpoint is signed, on chain with its root, and
    consistent with the next one (RFC 9162 §2.1.4), so the log was never rewritten."""
    ordered = sorted(checkpoints, key=lambda c: c.checkpoint.tree_size)
    for cp in ordered:
        size = cp.checkpoint.tree_size
        subject = f"checkpoint {size}"
        try:
            cp.verify(log_key)
        except VerificationError as e:
            report.problems.append(Problem(AUTHENTICITY, e.check, subject, str(e)))
        if chain_root is not None:
            on_chain = chain_root(cp)
            if on_chain is None:
                report.problems.append(Problem(AUTHENTICITY, "anchor", subject, "链上无此检查点"))
            elif on_chain != cp.checkpoint.root:
                report.problems.append(
                    Problem(
                        AUTHENTICITY, "anchor", subject, "链上根与检查点根不一致 (root differs)"
                    )
                )
        report.checkpoints_checked += 1
    for a, b in pairwise(ordered):
        s1, s2 = a.checkpoint.tree_size, b.checkpoint.tree_size
        try:
            verify_consistency(
                sm3, s1, s2, a.checkpoint.root, b.checkpoint.root, consistency_proof(s1, s2)
            )
        except (ProofError, ValueError, KeyError) as e:
            report.problems.append(
                Problem(
                    AUTHENTICITY,
                    ConsistencyError.check,
                    f"checkpoints {s1}→{s2}",
                    f"日志不一致 (log rewritten?): {e}",
                )
            )
    return report


def new_report(scope: str) -> Report:
    return Report(scope=scope, started_ms=int(time.time() * 1000))


def _cell(value: Any) -> str:
    return "—" if value is None else html.escape(str(value))


def _verdict(passed: bool) -> str:
    return "<span class='ok'>通过</span>" if passed else "<span class='bad'>未通过</span>"


def _material_rows_html(rows: list[dict[str, Any]]) -> str:
    out = []
    for r in rows:
        results = "".join(
            f"<td class='{'ok' if r['results'][p] == '通过' else 'bad'}'>{r['results'][p]}</td>"
            for p in PROPERTIES
        )
        out.append(
            f"<tr><td>{_cell(r['designation'])}</td><td>{_cell(r['title'])}</td>"
            f"<td><code>{_cell(r['material_id'])}</code></td>"
            f"<td><code>{_cell(r['sm3'])}</code></td><td><code>{_cell(r['cid'])}</code></td>"
            f"<td>{_cell(r['custodian'])}</td><td>{_cell(r['leaf_index'])}</td>"
            f"<td>{_cell(r['checkpoint_tree_size'])}</td><td><code>{_cell(r['chain_tx'])}</code>"
            f"</td><td>{_cell(r['block'])}</td><td>{_cell(r['plain_size'])}</td>"
            f"<td>{_cell(r['sealed_size'])}</td>{results}</tr>"
        )
    return "".join(out) or "<tr><td colspan='16'>范围内没有材料</td></tr>"


def _logged_rows_html(rows: list[dict[str, Any]], first: str) -> str:
    return (
        "".join(
            f"<tr><td>{_cell(r.get(first))}</td><td>{_cell(r.get('what') or r.get('kind'))}</td>"
            f"<td>{_cell(r['subject'])}</td><td>{_cell(r['leaf_index'])}</td>"
            f"<td><code>{_cell(r.get('chain_tx'))}</code></td>"
            f"<td><code>{_cell(r['anchor_tx'])}</code></td><td>{_verdict(r['passed'])}</td></tr>"
            for r in rows
        )
        or "<tr><td colspan='7'>无</td></tr>"
    )


def render_html(report: Report, zone: str = "Asia/Shanghai", zone_label: str = "北京时间") -> str:
    """The report as one HTML page; its time in ``zone`` (the deployment's time zone,
    Settings.timezone), to the minute and labelled."""
    data = report.to_json()
    s = data["summary"]
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(p)}</td><td>{v['passed']}</td><td class='{'bad' if v['problems'] else 'ok'}'>"
        f"{v['problems']}</td></tr>"
        for p, v in s["by_property"].items()
    )
    problems = (
        "".join(
            f"<tr><td>{e(p['property'])}</td><td><code>{e(p['check'])}</code></td>"
            f"<td>{e(p['subject'])}</td><td>{e(p['detail'])}</td></tr>"
            for p in data["problems"]
        )
        or "<tr><td colspan='4'>未发现问题</td></tr>"
    )
    moment = datetime.fromtimestamp(report.started_ms / 1000, ZoneInfo(zone))
    started = f"{moment.strftime('%Y-%m-%d %H:%M')}（{zone_label}）"
    chain = report.chain_state or {}
    chain_text = (
        f"链 ID {chain.get('chain_id')}，合约 {chain.get('contract')}，"
        f"检测时链高 {chain.get('block_number')}"
        if chain
        else "未读链（未核验链上锚定）"
    )
    heads = "".join(f"<th>{p}</th>" for p in PROPERTIES)
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>档案四性检测报告 — {e(report.scope)}</title>
<style>
body{{font-family:system-ui,"Noto Sans CJK SC",sans-serif;max-width:80rem;margin:2rem auto;
color:#1f2937;padding:0 1rem}}
h1{{font-size:1.5rem}} table{{border-collapse:collapse;width:100%;margin:1rem 0}}
td,th{{border:1px solid #d1d5db;padding:.4rem .6rem;text-align:left;vertical-align:top}}
th{{background:#f3f4f6}} .ok{{color:#047857}} .bad{{color:#b91c1c;font-weight:600}}
.result{{font-size:1.2rem}} code{{word-break:break-all;font-size:.8em}}
</style></head><body>
<h1>档案四性检测报告</h1>
<p>检测范围：{e(report.scope)}　开始时间：{e(started)}</p>
<p>检测工具：Archive Notary {e(report.tool_version or "—")}　链状态：{e(chain_text)}</p>
<p class="result">结论：<span class="{"ok" if report.ok else "bad"}">{e(s["result"])}</span></p>
<table><tr><th>材料数</th><th>通过</th><th>有问题</th><th>重算哈希：密文字节（SM4-GCM，对 CID）</th>
<th>重算哈希：明文字节（SM3）</th><th>已验证证明</th><th>已验证检查点</th>
<th>案卷数</th><th>保管记录</th><th>利用登记</th><th>转递事件</th><th>权限变更</th><th>问题数</th></tr>
<tr><td>{s["materials"]}</td><td>{s["materials_passed"]}</td><td>{s["materials_with_problems"]}</td>
<td>{s["sealed_bytes_rehashed"]:,}</td><td>{s["plain_bytes_rehashed"]:,}</td>
<td>{s["proofs_checked"]}</td><td>{s["checkpoints_checked"]}</td>
<td>{s["volumes"]}</td><td>{s["custody_events"]}</td><td>{s["records"]["read_log"]}</td>
<td>{s["records"]["transfer_events"]}</td><td>{s["records"]["access_events"]}</td>
<td>{s["problems"]}</td></tr></table>
<h2>四性汇总</h2>
<table><tr><th>性质</th><th>通过</th><th>问题</th></tr>{rows}</table>
<h2>问题明细</h2>
<table><tr><th>性质</th><th>检查项</th><th>对象</th><th>说明</th></tr>{problems}</table>
<h2>材料明细</h2>
<table><tr><th>类号-序号-页码</th><th>题名</th><th>材料 ID</th><th>SM3</th><th>CID</th>
<th>保管单位</th><th>日志序号</th><th>锚定检查点（日志长度）</th><th>锚定交易</th><th>区块</th>
<th>明文字节</th><th>密文字节</th>{heads}</tr>
{_material_rows_html(data["materials"])}</table>
<h2>保管记录</h2>
<table><tr><th>案卷</th><th>事件</th><th>记录</th><th>日志序号</th><th>保管交易</th>
<th>锚定交易</th><th>结果</th></tr>
{_logged_rows_html(data["custody_events"], "volume")}</table>
<h2>利用登记与转递事件</h2>
<table><tr><th>对象</th><th>类别</th><th>记录</th><th>日志序号</th><th>—</th>
<th>锚定交易</th><th>结果</th></tr>
{_logged_rows_html(data["records"], "about")}</table>
</body></html>
"""


def write_report(
    report: Report,
    json_path: Any,
    html_path: Any,
    zone: str = "Asia/Shanghai",
    zone_label: str = "北京时间",
) -> None:
    report.finished_ms = report.finished_ms or int(time.time() * 1000)
    with open(json_path, "w", encoding="utf-8") as f:
        json.dump(report.to_json(), f, ensure_ascii=False, indent=2)
    with open(html_path, "w", encoding="utf-8") as f:
        f.write(report.to_html(zone, zone_label))
