"""Check a printed form's QR reference against the chain (GET /v1/check).

The reference says what the form printed (docs/qr-format.md); this compares each value
with what the contract records, and names every field that differs. The database
only says where to look on chain (a transfer's chain volume ids, a material's log
position): a value is accepted because the chain holds it, not because a row does.

The check needs no API key (whoever holds the paper may check it), so the answer says
only whether each presented value agrees: never the chain's value of a field that does
not, nor anything else about the transfer or material.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from notary.chain import ChainError
from notary.chain.models import Outcome
from notary.errors import VerificationError
from notary.verifier import ReceiptVerifier, TrustPolicy
from transfer.db.models import Material, Transfer
from transfer.forms.qr import CheckRef, RefKind
from transfer.services import transfers as svc
from transfer.services.context import NotaryContext
from transfer.services.errors import ServiceUnavailable
from transfer.services.receipts import stored_receipt
from transfer.services.state import ServiceState

FIELD_ZH = {
    "id": "编号",
    "c": "链 ID",
    "root": "转递包根",
    "h": "文书摘要",
    "sm3": "材料 SM3 摘要",
    "n": "日志位置",
    "tx": "链上交易",
    "outcome": "转递结果",
}
_EVENT = {
    RefKind.TRANSFER: ("VolumeDispatched", None),
    RefKind.RECEIPT: ("VolumeReceived", Outcome.RECEIVED),
    RefKind.REJECTION: ("VolumeRejected", Outcome.REJECTED),
}
KIND_ZH = {
    RefKind.TRANSFER: "转递通知单",
    RefKind.RECEIPT: "回执",
    RefKind.REJECTION: "退回单",
    RefKind.MATERIAL: "存证证明",
}


@dataclass
class CheckResult:
    ref: CheckRef
    matched: list[str] = field(default_factory=list)  # fields that agree with the chain
    mismatches: list[dict[str, Any]] = field(default_factory=list)
    blocks: list[int] = field(default_factory=list)

    def fail(self, name: str, message: str) -> None:
        self.mismatches.append({"field": name, "name": FIELD_ZH[name], "message": message})

    def agree(self, name: str) -> None:
        if name not in self.matched:
            self.matched.append(name)

    def to_json(self) -> dict[str, Any]:
        ok = not self.mismatches
        what = f"{KIND_ZH[self.ref.kind]}（{self.ref.id}）"
        if ok:
            summary = f"核验通过：{what}与区块链记录一致。"
        else:
            names = "、".join(dict.fromkeys(m["name"] for m in self.mismatches))
            summary = f"核验不通过：{what}的{names}与区块链记录不符。"
        return {
            "valid": ok,
            "kind": self.ref.kind.value,
            "id": self.ref.id,
            "summary": summary,
            "matched": [{"field": f, "name": FIELD_ZH[f]} for f in self.matched],
            "mismatches": self.mismatches,
            # Where to look on chain, for a form that holds; nothing for one that does not.
            "blocks": sorted(set(self.blocks)) if ok else [],
        }


def check_ref(state: ServiceState, ctx: NotaryContext, ref: CheckRef) -> dict[str, Any]:
    result = CheckResult(ref)
    if ref.chain_id is not None and ref.chain_id != ctx.chain_id:
        result.fail("c", f"表单记载的链 ID {ref.chain_id} 不是本服务所用的链")
        return result.to_json()
    try:
        if ref.kind is RefKind.MATERIAL:
            _check_material(state, ctx, ref, result)
        else:
            _check_transfer(state, ctx, ref, result)
    except ChainError as e:
        raise ServiceUnavailable(f"区块链暂不可读：{type(e).__name__}", retry_after_s=5) from None
    return result.to_json()


def _short(value: str) -> str:
    return value if len(value) <= 20 else f"{value[:12]}…{value[-6:]}"


def _check_transfer(state: ServiceState, ctx: NotaryContext, ref: CheckRef, r: CheckResult) -> None:
    chain = ctx.deployment.chain
    with state.sessions() as s:
        t = s.scalar(select(Transfer).where(Transfer.transfer_id == ref.id))
        volumes = [] if t is None else svc.volumes_of(s, t)
    dispatched = [tv for tv in volumes if tv.chain_transfer_no is not None]
    if t is None or not dispatched:
        r.fail("id", f"链上没有转递 {ref.id} 的转出记录（未转出，或不是本服务经手的转递）")
        return
    if ref.root is None and not ref.tx:
        r.fail("root", "此表单打印于转出之前，未载转递包根与链上交易：请在转出后重新打印")
        return
    event, outcome = _EVENT[ref.kind]
    chain_txs: set[str] = set()
    for tv in dispatched:
        vid = bytes.fromhex(tv.chain_volume_id)
        assert tv.chain_transfer_no is not None
        record = chain.get_transfer(vid, tv.chain_transfer_no)
        if record is None:
            r.fail("id", f"链上没有卷 {tv.notice_volume_id} 的转出记录")
            continue
        root = record.package_root.hex()
        if ref.root != root:
            r.fail("root", f"表单记载的转递包根 {_short(ref.root or '（缺失）')} 与链上记录不符")
        else:
            r.agree("root")
        block = record.dispatched_block
        if outcome is not None:
            if record.outcome is not outcome:
                r.fail("outcome", f"链上记录的转递结果不是{KIND_ZH[ref.kind]}")
                continue
            r.agree("outcome")
            h = record.outcome_hash.hex()
            if ref.act != h:
                r.fail(
                    "h",
                    f"表单记载的{KIND_ZH[ref.kind]}摘要 {_short(ref.act or '（缺失）')} "
                    "与链上记录不符",
                )
            else:
                r.agree("h")
            block = record.closed_block
        tx = chain.custody_tx(vid, event, block)
        if tx is not None:
            chain_txs.add(tx.lower())
            r.blocks.append(block)
    claimed = set(ref.tx)
    if claimed != chain_txs:
        missing = sorted(claimed - chain_txs)
        r.fail(
            "tx",
            "表单记载的链上交易"
            + (f" {', '.join(_short(x) for x in missing)} " if missing else "")
            + "与链上记录不符",
        )
    else:
        r.agree("tx")


def _check_material(state: ServiceState, ctx: NotaryContext, ref: CheckRef, r: CheckResult) -> None:
    if ref.sm3 is None:
        r.fail("sm3", "表单二维码缺少材料 SM3 摘要")
        return
    try:
        mid = uuid.UUID(ref.id)
    except ValueError:
        r.fail("id", f"材料编号 {ref.id} 格式不正确")
        return
    with state.sessions() as s:
        m = s.get(Material, mid)
        try:
            receipt = (
                None
                if m is None or m.leaf_index is None
                else stored_receipt(s, m.leaf_index, ctx.log_public_key)
            )
        except VerificationError as e:  # a stored entry or checkpoint that does not parse
            r.fail("id", f"该材料的存证记录未通过「{e.check}」检查")
            return
    if m is None or receipt is None or receipt.anchor is None:
        r.fail("id", f"没有材料 {ref.id} 已锚定上链的存证记录")
        return
    if ref.leaf is not None and ref.leaf != receipt.leaf_index:
        r.fail("n", f"表单记载的日志位置 {ref.leaf} 与该材料的存证记录不符")
    elif ref.leaf is not None:
        r.agree("n")
    # The deployment's own receipt, pinned to its log key; the anchor checked next.
    receipts = ReceiptVerifier(
        TrustPolicy.pinned(ctx.log_public_key, require_anchor=False), ctx.deployment.chain
    )
    try:
        receipts.check_offline(receipt, material_sm3=bytes.fromhex(ref.sm3))
    except VerificationError as e:
        if e.check == "entry":
            r.fail("sm3", f"表单记载的 SM3 摘要 {_short(ref.sm3)} 不是该材料登记并锚定的摘要")
        else:
            r.fail("id", f"该材料的存证记录未通过「{e.check}」检查")
        return
    r.agree("sm3")
    try:
        receipts.check_anchor(receipt)
    except VerificationError as e:
        r.fail("tx", f"该材料的链上锚定核验未通过（{e.check}）")
        return
    r.blocks.append(receipt.anchor.block_number)
    tx = receipt.anchor.tx_hash.lower()
    if ref.tx != (tx,):
        r.fail("tx", "表单记载的锚定交易与链上锚定该材料的交易不符")
    else:
        r.agree("tx")
