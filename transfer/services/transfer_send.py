"""The sending unit's side of a transfer: notice, package, dispatch; return, recall, and
the outcome learnt from the chain (``sync``) when the receiver is in another deployment.

Signing model (docs/transfer-service.md): the deployment hosts its units' SM2 keys and
signs a hosted unit's dispatch when that unit's operator asks for it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from notary.chain.models import Outcome, TxRef
from notary.crypto import SM2PublicKey
from notary.envelope import WrappedKey
from transfer.db.models import (
    ActNonce,
    CustodyEventKind,
    Material,
    MaterialKey,
    Transfer,
    TransferDirection,
    TransferEvent,
    TransferState,
    TransferVolume,
    Unit,
    Volume,
    VolumeKind,
    VolumeStatus,
)
from transfer.db.treestore import lock_log
from transfer.db.types import utcnow
from transfer.security import Principal
from transfer.services import access
from transfer.services import transfer_intents as intents
from transfer.services import transfer_units as units
from transfer.services.context import NotaryContext
from transfer.services.errors import Conflict, NotFound, ServiceUnavailable
from transfer.services.ingest import volume_ref
from transfer.services.receipts import anchored_receipts
from transfer.services.state import ServiceState
from transfer.services.transfer_custody import apply_receipt_here, apply_return_here
from transfer.services.transfer_package import (
    SourceMaterial,
    build_package,
)
from transfer.services.transfer_shared import unit_key_of as _unit_key
from transfer.services.transfer_shared import unit_of as _unit
from transfer.services.transfers import (
    act_errors,
    advance,
    chain_errors,
    check_version,
    claim,
    commit,
    find,
    observe,
    policy_from,
    record_custody,
    record_event,
    require_hosted,
    require_sender,
    volumes_of,
)
from transfer.workflow.acts import (
    ActKind,
    act_hash,
    parse_act,
    sign_dispatch,
)
from transfer.workflow.envelope import EnvelopeEntry
from transfer.workflow.notice import (
    CatalogueEntry,
    Classification,
    Notice,
    UnitRef,
    VolumeEntry,
    parse_notice,
)
from transfer.workflow.notice import VolumeKind as NoticeVolumeKind
from transfer.workflow.state import Event


@dataclass(frozen=True, slots=True)
class NewTransfer:
    transfer_no: str
    volume_ids: list[uuid.UUID]
    receiver: str
    reason: str
    classification: Classification
    transfer_id: str | None = None
    resend_of: str | None = None  # the returned transfer this one sends again


def chain_volume_id(s: Session, secret: bytes, volume_id: uuid.UUID) -> str:
    """The volume's id on chain: kept from the transfer that brought it here, else the
    blinded volume reference (no personal data on chain)."""
    came = s.scalar(
        select(TransferVolume.chain_volume_id)
        .where(TransferVolume.volume_id == volume_id)
        .order_by(TransferVolume.id.desc())
        .limit(1)
    )
    return came or volume_ref(secret, volume_id)


def _current_materials(s: Session, volume_id: uuid.UUID) -> list[Material]:
    superseded = select(Material.supersedes_id).where(Material.supersedes_id.is_not(None))
    return list(
        s.scalars(
            select(Material)
            .where(Material.volume_id == volume_id, Material.id.not_in(superseded))
            .order_by(Material.category, Material.formation_date, Material.seq_no)
        )
    )


# ---------------------------------------------------------------- create


def create_transfer(
    state: ServiceState, ctx: NotaryContext, caller: Principal, new: NewTransfer, now: datetime
) -> Transfer:
    settings = state.settings
    policy = policy_from(
        settings.transfer_sender_deadline_days,
        settings.transfer_receiver_audit_days,
        settings.transfer_overdue_days,
    )
    with state.write_sessions() as s:
        previous = None if new.resend_of is None else _resendable(s, caller, new.resend_of)
        sender = _unit(s, caller.unit_id)
        receiver = s.scalar(select(Unit).where(Unit.code == new.receiver))
        if receiver is None:
            raise NotFound(f"接收单位 {new.receiver} 未登记")
        if receiver.id == sender.id:
            raise Conflict("转出单位与接收单位不能相同")
        _unit_key(receiver)
        if not new.volume_ids:
            raise NotFound("有案卷不存在或不由本单位保管")
        held = [access.held_volume(s, v, sender.id) for v in dict.fromkeys(new.volume_ids)]
        if any(v.status is not VolumeStatus.HELD for v in held):
            raise Conflict("有案卷正在转递中")
        if len({v.cadre_blind_id for v in held}) != 1:
            raise Conflict("一次转递只能包含同一干部的案卷")
        catalogue: list[CatalogueEntry] = []
        entries: list[VolumeEntry] = []
        for v in held:
            materials = _current_materials(s, v.id)
            if not materials:
                raise Conflict(f"案卷 {v.id} 没有材料")
            kind = NoticeVolumeKind.ORIGINAL if v.kind is VolumeKind.MAIN else NoticeVolumeKind.COPY
            entries.append(VolumeEntry(str(v.id), kind, len(materials)))
            catalogue += [
                CatalogueEntry(str(m.id), str(v.id), m.category, m.sm3) for m in materials
            ]
        created = now.replace(microsecond=0)
        notice = Notice(
            transfer_id=new.transfer_id or f"tr-{uuid.uuid4().hex[:20]}",
            transfer_no=new.transfer_no,
            cadre=held[0].cadre_blind_id,
            volumes=tuple(entries),
            materials=tuple(catalogue),
            reason=new.reason,
            sender=UnitRef(sender.code, sender.name),
            receiver=UnitRef(receiver.code, receiver.name),
            created_at=created,
            deadline=policy.sender_completes.after(created),
            classification=new.classification,
        )
        if s.scalar(select(Transfer.id).where(Transfer.transfer_id == notice.transfer_id)):
            raise Conflict(f"转递 {notice.transfer_id} 已存在")
        direction = (
            TransferDirection.OUTGOING
            if units.is_peer(s, receiver.id)
            else TransferDirection.INTERNAL
        )
        t = Transfer(
            transfer_id=notice.transfer_id,
            transfer_no=notice.transfer_no,
            direction=direction,
            state=TransferState.CREATED,
            sender_unit_id=sender.id,
            receiver_unit_id=receiver.id,
            notice=notice.to_json(),
            deadline=notice.deadline,
            created_at=created,
        )
        s.add(t)
        s.flush()
        for v in held:
            s.add(
                TransferVolume(
                    transfer_pk=t.id,
                    notice_volume_id=str(v.id),
                    volume_id=v.id,
                    chain_volume_id=chain_volume_id(s, state.blinding_secret, v.id),
                )
            )
        detail: dict[str, object] = {"materials": notice.material_count}
        if previous is not None:
            detail["resend_of"] = previous.transfer_id
        record_event(
            s, t, "create", None, caller.unit_id, now=created, detail=detail,
            handler=caller.handler,
        )  # fmt: skip
        if previous is not None:
            # A record on the returned transfer, not a transition: it stays returned.
            record_event(
                s,
                previous,
                "resend",
                previous.state.value,
                caller.unit_id,
                now=created,
                detail={"resent_as": t.transfer_id},
                handler=caller.handler,
            )
        commit(s)
        return t


def _resendable(s: Session, caller: Principal, transfer_id: str, *, lock: bool = True) -> Transfer:
    """The returned transfer to send again: the caller's, hosted here, returned (after a
    rejection, or recalled) and not re-sent yet. In a write session the log lock is
    taken first, so that of two concurrent re-sends the second sees the first."""
    if lock:
        lock_log(s)
    t = find(s, transfer_id, caller)
    require_sender(t, caller, "重新转递")
    require_hosted(t, "sender")
    if t.state is TransferState.REJECTED:
        raise Conflict(
            f"转递 {transfer_id} 已被退回，请先办理退回（return），再重新转递",
            state=t.state.value,
            event="resend",
        )
    if t.state is not TransferState.RETURNED:
        raise Conflict(
            f"转递 {transfer_id} 当前状态为 {t.state.value}，只有已退还的转递可以重新转递",
            state=t.state.value,
            event="resend",
        )
    done = s.scalar(
        select(TransferEvent)
        .where(TransferEvent.transfer_pk == t.id, TransferEvent.event == "resend")
        .limit(1)
    )
    if done is not None:
        raise Conflict(
            f"转递 {transfer_id} 已重新转递为 {done.detail.get('resent_as')}",
            rule="resend-once",
            resent_as=done.detail.get("resent_as"),
        )
    return t


def resend_transfer(
    state: ServiceState,
    ctx: NotaryContext,
    caller: Principal,
    transfer_id: str,
    now: datetime,
    *,
    transfer_no: str | None = None,
    new_id: str | None = None,
) -> Transfer:
    """Send a returned transfer again, as a new transfer with a new notice over the same
    volumes (their current material versions: what the sender corrected after the
    rejection), to the same receiver, for the same reason; linked both ways in the
    timelines (``resend_of`` / ``resent_as``). The returned transfer keeps its history
    and its rejection; the new one is packaged and dispatched like any other."""
    with state.sessions() as s:
        old = _resendable(s, caller, transfer_id, lock=False)  # refuse early
        notice = _notice(old)
        s.rollback()
    new = NewTransfer(
        transfer_no=transfer_no or notice.transfer_no,
        volume_ids=[uuid.UUID(v.volume_id) for v in notice.volumes],
        receiver=notice.receiver.code,
        reason=notice.reason,
        classification=notice.classification,
        transfer_id=new_id,
        resend_of=transfer_id,
    )
    return create_transfer(state, ctx, caller, new, now)


def _notice(t: Transfer) -> Notice:
    return parse_notice(t.notice)


# ---------------------------------------------------------------- package


def package_transfer(
    state: ServiceState, ctx: NotaryContext, caller: Principal, transfer_id: str, now: datetime
) -> Transfer:
    with state.sessions() as s:
        t = find(s, transfer_id, caller)
        require_sender(t, caller, "打包")
        require_hosted(t, "sender")
        version = t.row_version
        advance(t, Event.PACKAGE)  # refuse early, before the heavy work
        s.rollback()
        notice = _notice(t)
        sender = _unit(s, t.sender_unit_id)
        receiver = _unit(s, t.receiver_unit_id)
        sources = _sources(s, ctx, notice, sender)
    built = build_package(
        state.settings.home,
        ctx.store,
        notice,
        sources,
        holder=ctx.unit_key(sender.code),
        recipient=_unit_key(receiver),
        bagging_date=now.date(),
    )
    with state.write_sessions() as s:
        t = find(s, transfer_id, caller)
        check_version(t, version)
        old, _ = claim(s, t, Event.PACKAGE)
        t.package_root = built.bag.package_root.hex()
        t.package_cid = built.cid
        if t.direction is TransferDirection.INTERNAL:
            _stage_receiver_keys(s, t, built.rewrapped, _unit_key(receiver))
        record_event(
            s,
            t,
            "package",
            old,
            caller.unit_id,
            detail={"package_cid": built.cid, "payload_octets": built.bag.payload_octets},
            handler=caller.handler,
        )
        commit(s)
        return t


def _sources(s: Session, ctx: NotaryContext, notice: Notice, sender: Unit) -> list[SourceMaterial]:
    # A few queries for the whole volume, not a handful per material: the rows, the
    # sender's keys and the evidence receipts are each read at once.
    ids = [uuid.UUID(c.material_id) for c in notice.materials]
    materials = {m.id: m for m in s.scalars(select(Material).where(Material.id.in_(ids)))}
    keys = access.active_keys(s, sender.id, ids)
    receipts = anchored_receipts(
        s,
        [m.leaf_index for m in materials.values() if m.leaf_index is not None],
        ctx.log_public_key,
        newest=True,
    )
    out = []
    for material_id in ids:
        m = materials.get(material_id)
        assert m is not None
        key = keys.get(m.id)
        if key is None or m.leaf_index is None:
            raise Conflict(f"材料 {m.id} 没有本单位的数据密钥或日志条目")
        evidence = receipts[m.leaf_index]
        if evidence is None:
            raise ServiceUnavailable(
                f"材料 {m.id} 的日志检查点尚未上链锚定，请稍后重试", retry_after_s=2
            )
        entry = EnvelopeEntry(
            material_id=str(m.id),
            volume_id=str(m.volume_id),
            category=m.category,
            seq_no=m.seq_no,
            pages=m.pages,
            title=m.title,
            formation_date=m.formation_date,
            media_type=m.media_type,
            size=m.size,
            sm3=m.sm3,
            cid=m.cid,
            sealed_size=m.sealed_size,
            wrapped_key=key.wrapped,
            evidence=True,
        )
        wrapped = WrappedKey(bytes.fromhex(key.key_fingerprint), key.wrapped)
        out.append(SourceMaterial(entry, wrapped, evidence.to_json()))
    return out


def _stage_receiver_keys(
    s: Session, t: Transfer, rewrapped: dict[str, WrappedKey], receiver_key: SM2PublicKey
) -> None:
    """The receiver's wrapped keys, inactive until its receipt (same deployment only)."""
    fp = receiver_key.fingerprint().hex()
    keys = {uuid.UUID(mid): wrapped for mid, wrapped in rewrapped.items()}
    staged = {
        row.material_id: row
        for row in s.scalars(
            select(MaterialKey).where(
                MaterialKey.material_id.in_(keys),
                MaterialKey.unit_id == t.receiver_unit_id,
                MaterialKey.key_fingerprint == fp,
            )
        )
    }
    for material_id, wrapped in keys.items():
        row = staged.get(material_id)
        if row is None:
            s.add(
                MaterialKey(
                    material_id=material_id,
                    unit_id=t.receiver_unit_id,
                    key_fingerprint=fp,
                    wrapped=wrapped.ciphertext,
                    active=False,
                )
            )
        elif not row.active:
            row.wrapped = wrapped.ciphertext


# ---------------------------------------------------------------- dispatch


def dispatch_transfer(
    state: ServiceState, ctx: NotaryContext, caller: Principal, transfer_id: str, now: datetime
) -> Transfer:
    with state.sessions() as s:
        t = find(s, transfer_id, caller)
        require_sender(t, caller, "发出转递")
        require_hosted(t, "sender")
        version = t.row_version
        advance(t, Event.DISPATCH)
        s.rollback()
        if t.chain_intent is not None:
            # Signed before a crash: finish that dispatch, never sign a second one.
            return finish_dispatch(state, ctx, transfer_id)
        assert t.package_root is not None
        sender = _unit(s, t.sender_unit_id)
        notice = _notice(t)
    settings = state.settings
    answer_by = policy_from(
        settings.transfer_sender_deadline_days,
        settings.transfer_receiver_audit_days,
        settings.transfer_overdue_days,
    ).receiver_audits.after(now.replace(microsecond=0))
    act = sign_dispatch(
        ctx.unit_key(sender.code),
        notice=notice,
        package_root=bytes.fromhex(t.package_root),
        deadline=answer_by,
        now=now.replace(microsecond=0),
        handler=caller.handler,
    )
    intents.begin(state, transfer_id, version, Event.DISPATCH, act)
    return finish_dispatch(state, ctx, transfer_id)


@intents.one_finisher
def finish_dispatch(state: ServiceState, ctx: NotaryContext, transfer_id: str) -> Transfer:
    """The committed dispatch act's transactions (each sent once) and its transition."""
    with state.sessions() as s:
        t = intents.by_transfer_id(s, transfer_id)
        intent = t.chain_intent
        if intent is None or intent["event"] != Event.DISPATCH.value:
            return t  # finished meanwhile by another run
        version = t.row_version
        sender = _unit(s, t.sender_unit_id)
        to = units.chain_account(s, ctx, t.receiver_unit_id)
        client = units.chain_client(s, ctx, sender)
        tvs = volumes_of(s, t)
    act = parse_act(intent["act"])
    root, answer_by = act.package_root, act.deadline()

    def send(vid: bytes) -> TxRef:
        if client.custody_state(vid) is None:
            client.register_volume(vid, client.account)
        return client.dispatch(vid, to, root, int(answer_by.timestamp()))

    txs: dict[int, tuple[str | None, int]] = {}
    with intents.chain_step(state, transfer_id, Event.DISPATCH):
        for tv in tvs:
            vid = bytes.fromhex(tv.chain_volume_id)
            tx, record = intents.ensure(
                client,
                vid,
                "VolumeDispatched",
                partial(intents.open_dispatch, client, vid, to, root),
                partial(send, vid),
            )
            txs[tv.id] = (tx, record.number)
    with state.write_sessions() as s:
        t = intents.by_transfer_id(s, transfer_id)
        if t.chain_intent != intent:
            return t
        check_version(t, version)
        t.chain_intent = None
        old, _ = claim(s, t, Event.DISPATCH)
        t.dispatch_act = act.to_json()
        t.dispatch_hash = act_hash(act).hex()
        t.dispatched_at = act.signed_at
        s.add(
            ActNonce(
                unit_code=sender.code,
                nonce=act.nonce,
                kind=ActKind.DISPATCH.value,
                transfer_pk=t.id,
                act_hash=t.dispatch_hash,
            )
        )
        receiver = _unit(s, t.receiver_unit_id)
        for tv in volumes_of(s, t):
            tv.dispatch_tx, tv.chain_transfer_no = txs[tv.id]
            volume = s.get(Volume, tv.volume_id) if tv.volume_id else None
            if volume is not None:
                volume.status = VolumeStatus.IN_TRANSFER
                record_custody(
                    s,
                    state.blinding_secret,
                    volume.id,
                    CustodyEventKind.DISPATCHED,
                    sender,
                    receiver,
                    transfer_id=t.transfer_id,
                    tx_hash=tv.dispatch_tx,
                )
        record_event(
            s,
            t,
            "dispatch",
            old,
            sender.id,
            detail={"dispatch_hash": t.dispatch_hash, "answer_by": answer_by.isoformat()},
            tx_hashes=[tx for tx, _ in txs.values() if tx is not None],
            handler=act.handler,
        )
        commit(s)
        return t


# ---------------------------------------------------------------- sender side


def return_transfer(
    state: ServiceState, ctx: NotaryContext, caller: Principal, transfer_id: str
) -> Transfer:
    """A rejected transfer comes back: the volumes are held again by the sender."""
    with state.write_sessions() as s:
        t = find(s, transfer_id, caller)
        require_sender(t, caller, "办理退回")
        require_hosted(t, "sender")
        old, _ = claim(s, t, Event.RETURN)
        apply_return_here(s, state, t, "returned after rejection", None)
        t.closed_at = utcnow()
        record_event(s, t, "return", old, caller.unit_id, handler=caller.handler)
        commit(s)
        return t


def recall(
    state: ServiceState, ctx: NotaryContext, caller: Principal, transfer_id: str
) -> Transfer:
    """The sender closes a dispatch left unanswered past its deadline (contract-checked).

    A volume the chain already shows recalled is not sent again: a recall killed after
    some of its transactions and before its commit is finished by asking again (the
    contract would refuse the second recall of a volume, and the transfer would stay
    dispatched here for good)."""
    with state.sessions() as s:
        t = find(s, transfer_id, caller)
        require_sender(t, caller, "撤回转递")
        require_hosted(t, "sender")
        version = t.row_version
        advance(t, Event.RECALL)
        s.rollback()
        client = units.chain_client(s, ctx, _unit(s, t.sender_unit_id))
        tvs = volumes_of(s, t)
    txs: dict[int, str] = {}
    with chain_errors():
        for tv in tvs:
            vid = bytes.fromhex(tv.chain_volume_id)
            assert tv.chain_transfer_no is not None  # dispatched
            done = ctx.deployment.chain.get_transfer(vid, tv.chain_transfer_no)
            if done is None or done.outcome is not Outcome.RECALLED:
                txs[tv.id] = client.recall(vid).tx_hash
    with state.write_sessions() as s:
        t = find(s, transfer_id, caller)
        check_version(t, version)
        old, _ = claim(s, t, Event.RECALL)
        for tv in volumes_of(s, t):
            tv.outcome_tx = txs.get(tv.id)
        apply_return_here(s, state, t, "recalled", None)
        t.closed_at = utcnow()
        record_event(
            s, t, "recall", old, caller.unit_id, tx_hashes=list(txs.values()),
            handler=caller.handler,
        )  # fmt: skip
        commit(s)
        return t


def sync(
    state: ServiceState,
    ctx: NotaryContext,
    caller: Principal,
    transfer_id: str,
    act_doc: dict[str, Any] | None = None,
) -> Transfer:
    """The sender learns the receiver's answer from the chain (another deployment's
    receipt or rejection): custody here follows what the contract recorded. The
    receiver's signed act (``act_doc``, pushed by its centre) is kept when its hash is
    the outcome hash on chain: the reasons of a rejection are then readable here."""
    with state.sessions() as s:
        t = find(s, transfer_id, caller)
        require_sender(t, caller, "同步转递结果")
        if t.direction is not TransferDirection.OUTGOING or t.state not in (
            TransferState.DISPATCHED,
        ):
            return t
        tvs = volumes_of(s, t)
    outcomes = set()
    hashes = set()
    with chain_errors():
        for tv in tvs:
            assert tv.chain_transfer_no is not None
            rec = ctx.deployment.chain.get_transfer(
                bytes.fromhex(tv.chain_volume_id), tv.chain_transfer_no
            )
            assert rec is not None
            outcomes.add(rec.outcome)
            hashes.add(rec.outcome_hash.hex())
    if len(outcomes) != 1 or outcomes == {Outcome.PENDING}:
        return t
    outcome = outcomes.pop()
    with state.write_sessions() as s:
        t = find(s, transfer_id, caller)
        if t.state is not TransferState.DISPATCHED:
            return t
        old = t.state.value
        # The receiver's delivered/verified steps happen in its own deployment; the
        # sender's row moves straight to what the chain says.
        t.outcome_hash = hashes.pop() if len(hashes) == 1 else None
        if act_doc is not None and t.outcome_hash is not None:
            with act_errors():
                presented = act_hash(parse_act(act_doc)).hex()
            if presented != t.outcome_hash:
                raise Conflict("所附回执/退回单与链上记录的哈希不符", check="outcome-hash")
            t.outcome_act = act_doc
        if outcome is Outcome.RECEIVED:
            observe(t, Event.ACCEPT)
            apply_receipt_here(s, state, ctx, t)
            t.closed_at = utcnow()
            event = "accept"
        elif outcome is Outcome.REJECTED:
            observe(t, Event.REJECT)
            event = "reject"
        else:
            observe(t, Event.RECALL)
            apply_return_here(s, state, t, "recalled", None)
            t.closed_at = utcnow()
            event = "recall"
        record_event(
            s,
            t,
            event,
            old,
            None,
            detail={"observed_on_chain": True, "outcome_hash": t.outcome_hash},
        )
        commit(s)
        return t
