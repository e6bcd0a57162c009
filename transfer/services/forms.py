"""The printable forms' data, read from the database and the chain (the side effects
of printing); :mod:`transfer.forms.documents` lays it out.

Who may print what: a transfer's forms, either party to it; the 回执 once received,
the 退回单 once rejected; a material's 存证证明, the unit holding it, once anchored.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from notary.chain import ChainError
from transfer.db.models import Material, Transfer, TransferState, TransferVolume, Unit
from transfer.forms import documents as doc
from transfer.forms.pdf import display_zone
from transfer.forms.qr import CheckRef, RefKind
from transfer.security import Principal
from transfer.services import access
from transfer.services import transfers as svc
from transfer.services.context import NotaryContext
from transfer.services.errors import Conflict
from transfer.services.receipts import stored_receipt
from transfer.services.state import ServiceState
from transfer.workflow.acts import ActKind, parse_act
from transfer.workflow.notice import VolumeKind as NoticeVolumeKind
from transfer.workflow.notice import parse_notice
from transfer.workflow.results import Property, Status
from transfer.workflow.state import State as WorkflowState

STATE_ZH = {s.value: s.zh for s in WorkflowState}


_BATCH = 500  # material ids per IN list


class TransferForm(StrEnum):
    NOTICE = "notice"  # 干部人事档案转递通知单 (with the receipt stub)
    LIST = "list"  # 转递材料目录
    RECEIPT = "receipt"  # 回执
    REJECTION = "rejection"  # 退回单


_OUTCOME_STATES = {
    TransferForm.RECEIPT: {TransferState.RECEIVED},
    TransferForm.REJECTION: {TransferState.REJECTED, TransferState.RETURNED},
}


def _party(s: Session, unit_id: uuid.UUID) -> doc.Party:
    unit = s.get(Unit, unit_id)
    assert unit is not None
    return doc.Party(unit.code, unit.name)


def _block(ctx: NotaryContext, tx_hash: str) -> int | None:
    """The tx's block, for the reader; the form is still printed if the chain is down."""
    try:
        receipt = ctx.deployment.chain.transaction_receipt(tx_hash)
    except ChainError:
        return None
    return None if receipt is None else int(receipt["blockNumber"])


def _from_chain(ctx: NotaryContext, tv: TransferVolume, event: str) -> str | None:
    """A step another deployment sent to the chain (an incoming dispatch; an outcome not
    yet synced): the row keeps only this deployment's txs, the contract's record says
    in which block to find it."""
    if tv.chain_transfer_no is None:
        return None
    chain = ctx.deployment.chain
    vid = bytes.fromhex(tv.chain_volume_id)
    try:
        record = chain.get_transfer(vid, tv.chain_transfer_no)
        if record is None:
            return None
        block = record.dispatched_block if event == "VolumeDispatched" else record.closed_block
        return None if not block else chain.custody_tx(vid, event, block)
    except ChainError:
        return None


def _txs(
    ctx: NotaryContext,
    s: Session,
    t: Transfer,
    pick: Callable[[TransferVolume], str | None],
    event: str,
) -> tuple[doc.ChainTx, ...]:
    out = []
    for tv in svc.volumes_of(s, t):
        tx = pick(tv) or _from_chain(ctx, tv, event)
        if tx is not None:
            out.append(doc.ChainTx(tx, _block(ctx, tx), tv.notice_volume_id))
    return tuple(out)


def transfer_facts(s: Session, ctx: NotaryContext, t: Transfer) -> doc.TransferFacts:
    notice = parse_notice(t.notice)
    counts = notice.volume_counts()
    return doc.TransferFacts(
        transfer_id=t.transfer_id,
        transfer_no=t.transfer_no,
        classification=notice.classification.value,
        reason=notice.reason,
        sender=_party(s, t.sender_unit_id),
        receiver=_party(s, t.receiver_unit_id),
        cadre_ref=notice.cadre,
        volumes_main=counts[NoticeVolumeKind.ORIGINAL],
        volumes_copy=counts[NoticeVolumeKind.COPY],
        material_count=notice.material_count,
        created_at=t.created_at,
        deadline=t.deadline,
        dispatched_at=t.dispatched_at,
        state_zh=STATE_ZH.get(t.state.value, t.state.value),
        package_root=t.package_root,
        chain_id=ctx.chain_id,
        contract=ctx.contract,
        dispatch_txs=(
            _txs(ctx, s, t, lambda tv: tv.dispatch_tx, "VolumeDispatched")
            if t.dispatched_at is not None
            else ()
        ),
        dispatch_handler=None if t.dispatch_act is None else parse_act(t.dispatch_act).handler,
    )


def dispatch_ref(f: doc.TransferFacts) -> CheckRef:
    return CheckRef(
        RefKind.TRANSFER,
        f.transfer_id,
        chain_id=f.chain_id,
        root=f.package_root,
        tx=tuple(x.tx_hash for x in f.dispatch_txs),
    )


def catalogue(s: Session, t: Transfer) -> list[doc.CatalogueRow]:
    """The notice's catalogue with the titles, dates and pages this deployment holds
    (the sender's rows, or the receiver's once received); unknown ones print as —."""
    notice = parse_notice(t.notice)
    kinds = {v.volume_id: v.kind.value for v in notice.volumes}
    ids = []
    for m in notice.materials:
        try:
            ids.append(uuid.UUID(m.material_id))
        except ValueError:
            continue
    held: dict[str, Material] = {}
    for start in range(0, len(ids), _BATCH):  # bound parameters per statement stay few
        batch = ids[start : start + _BATCH]
        held.update(
            (str(m.id), m) for m in s.scalars(select(Material).where(Material.id.in_(batch)))
        )
    rows = []
    for m in notice.materials:
        row = held.get(m.material_id)
        rows.append(
            doc.CatalogueRow(
                volume=kinds.get(m.volume_id, "—"),
                category=m.category,
                seq_no="—" if row is None else str(row.seq_no),
                title="—" if row is None else row.title,
                formation_date="—" if row is None else row.formation_date.isoformat(),
                pages="—" if row is None else str(row.pages),
                sm3=m.sm3,
            )
        )
    order = {"正本": 0, "副本": 1}
    return sorted(
        rows,
        key=lambda r: (
            order.get(r.volume, 2),
            int(r.category) if r.category.isdigit() else 99,
            r.category,
            int(r.seq_no) if r.seq_no.isdigit() else 1 << 30,
        ),
    )


def outcome_facts(s: Session, ctx: NotaryContext, t: Transfer) -> doc.OutcomeFacts:
    assert t.outcome_act is not None and t.outcome_hash is not None
    act = parse_act(t.outcome_act)
    accepted = act.kind is ActKind.RECEIPT
    unit = s.scalar(select(Unit).where(Unit.code == act.unit))
    signer = doc.Party(act.unit, act.unit if unit is None else unit.name)
    # A receipt always carries its 四性 results; a rejection may not.
    report = act.report()
    properties = (
        {}
        if report is None
        else {
            p.zh: (
                sum(1 for m in report.materials if m.status(p) is Status.PASS),
                len(report.materials),
            )
            for p in Property
        }
    )
    reasons = [] if accepted else act.reasons()
    titles = {
        str(m.id): f"{m.category}-{m.seq_no} {m.title}"
        for m in s.scalars(
            select(Material).where(
                Material.id.in_(_uuids(r.material_id for r in reasons if r.material_id))
            )
        )
    }
    return doc.OutcomeFacts(
        accepted=accepted,
        act_hash=t.outcome_hash,
        signed_at=act.signed_at,
        signer=signer,
        properties=properties,
        reasons=tuple(
            doc.ReasonRow(
                code=r.code,
                detail=r.detail,
                material="（整体）"
                if r.material_id is None
                else titles.get(r.material_id, r.material_id),
                property_zh="—" if r.property is None else r.property.zh,
            )
            for r in reasons
        ),
        txs=_txs(
            ctx,
            s,
            t,
            lambda tv: tv.outcome_tx,
            "VolumeReceived" if accepted else "VolumeRejected",
        ),
        closed_at=t.closed_at,
        handler=act.handler,
    )


def _uuids(values: Iterable[str]) -> list[uuid.UUID]:
    out = []
    for v in values:
        try:
            out.append(uuid.UUID(str(v)))
        except ValueError:
            continue
    return out


def outcome_ref(f: doc.TransferFacts, o: doc.OutcomeFacts) -> CheckRef:
    return CheckRef(
        RefKind.RECEIPT if o.accepted else RefKind.REJECTION,
        f.transfer_id,
        chain_id=f.chain_id,
        root=f.package_root,
        act=o.act_hash,
        tx=tuple(x.tx_hash for x in o.txs),
    )


def transfer_pdf(
    state: ServiceState,
    ctx: NotaryContext,
    caller: Principal,
    transfer_id: str,
    form: TransferForm,
    base_url: str,
    fill: doc.Fill | None = None,
) -> bytes:
    """One of a transfer's forms as PDF bytes, for a party to it; ``fill`` (the names
    written on the notice) is rendered only, never stored."""
    with state.sessions() as s, display_zone(state.settings.timezone):
        t = svc.find(s, transfer_id, caller)
        facts = transfer_facts(s, ctx, t)
        if form is TransferForm.NOTICE:
            return doc.render_notice(facts, dispatch_ref(facts).url(base_url), fill)
        if form is TransferForm.LIST:
            return doc.render_list(facts, catalogue(s, t), dispatch_ref(facts).url(base_url))
        if t.state not in _OUTCOME_STATES[form] or t.outcome_act is None:
            what = "回执" if form is TransferForm.RECEIPT else "退回单"
            raise Conflict(
                f"转递 {transfer_id} 当前状态为{facts.state_zh}，尚无{what}可打印",
                state=t.state.value,
            )
        outcome = outcome_facts(s, ctx, t)
        return doc.render_outcome(facts, outcome, outcome_ref(facts, outcome).url(base_url))


def evidence_facts(s: Session, ctx: NotaryContext, m: Material) -> doc.EvidenceFacts:
    if m.leaf_index is None:
        raise Conflict(f"材料 {m.id} 尚无存证日志条目")
    receipt = stored_receipt(s, m.leaf_index, ctx.log_public_key)
    if receipt is None or receipt.anchor is None:
        raise Conflict(f"材料 {m.id} 尚未锚定上链：请稍后再打印存证证明")
    anchor = receipt.anchor
    cp = receipt.checkpoint.checkpoint
    return doc.EvidenceFacts(
        material_id=str(m.id),
        title=m.title,
        category=m.category,
        seq_no=m.seq_no,
        pages=m.pages,
        formation_date=m.formation_date.isoformat(),
        media_type=m.media_type,
        sm3=m.sm3,
        size=m.size,
        sealed_size=m.sealed_size,
        cid=m.cid,
        unit=_party(s, m.registered_by_unit_id),
        registered_at=m.created_at,
        leaf_index=m.leaf_index,
        tree_size=cp.tree_size,
        checkpoint_root=cp.root.hex(),
        log_id=cp.log_id.hex(),
        chain_id=anchor.chain_id,
        contract=anchor.contract,
        block=anchor.block_number,
        checkpoint_time=datetime.fromtimestamp(cp.timestamp_ms / 1000, UTC),
        tx_hash=anchor.tx_hash,
        versions=f"第 {m.version} 版",
    )


def evidence_ref(e: doc.EvidenceFacts) -> CheckRef:
    return CheckRef(
        RefKind.MATERIAL,
        e.material_id,
        chain_id=e.chain_id,
        sm3=e.sm3,
        leaf=e.leaf_index,
        tx=(e.tx_hash,),
    )


def evidence_pdf(
    state: ServiceState,
    ctx: NotaryContext,
    caller: Principal,
    material_id: uuid.UUID,
    base_url: str,
) -> bytes:
    """存证证明 of a material the caller's unit holds."""
    with state.sessions() as s, display_zone(state.settings.timezone):
        m = access.held_material(s, material_id, caller.unit_id)
        facts = evidence_facts(s, ctx, m)
        return doc.render_evidence(facts, evidence_ref(facts).url(base_url))
