"""The receiving unit's side of a transfer: take in a dispatch from another deployment,
take the package (online by CID, offline as a file), verify it (四性), answer with a
receipt (回执) or a rejection.

A receipt or rejection is signed by the service for a hosted unit, or *presented*
already signed and then checked like any act from outside: the unit's registered key,
this transfer, package root and dispatch, the time window, a nonce never seen.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from notary.chain import ChainClient
from notary.chain.models import Outcome, TxRef
from transfer.db.models import (
    ActNonce,
    Transfer,
    TransferDirection,
    TransferPeer,
    TransferResult,
    TransferState,
    TransferVolume,
    Unit,
)
from transfer.db.types import utcnow
from transfer.security import Principal
from transfer.services import federation
from transfer.services import transfer_intents as intents
from transfer.services import transfer_units as units
from transfer.services.anchor_cache import CachedAnchorReader
from transfer.services.context import NotaryContext
from transfer.services.errors import (
    BadRequest,
    Conflict,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    Unprocessable,
)
from transfer.services.state import ServiceState
from transfer.services.transfer_custody import apply_receipt_here
from transfer.services.transfer_package import (
    ChunkStream,
    FetchFailed,
    bag_dir,
    install_bag,
    receive_tar,
    staging_dir,
)
from transfer.services.transfer_shared import nonce_seen as _nonce_seen
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
    record_event,
    require_hosted,
    require_receiver,
    volumes_of,
)
from transfer.workflow.acts import (
    ActKind,
    Reason,
    SignedAct,
    act_hash,
    parse_act,
    reasons_from_report,
    sign_receipt,
    sign_rejection,
    verify_act,
)
from transfer.workflow.bag_reader import open_bag
from transfer.workflow.errors import PackageError, TransferError
from transfer.workflow.package import DEFAULT_LIMITS
from transfer.workflow.results import Property, Status, VerificationReport, parse_report
from transfer.workflow.state import Event
from transfer.workflow.verify import verify_package

log = logging.getLogger(__name__)

# A presented act must be signed within this window around the request.
_CLOCK_SKEW = timedelta(minutes=10)


# ---------------------------------------------------------------- receiving side


def register_incoming(
    state: ServiceState,
    ctx: NotaryContext,
    caller: Principal,
    dispatch_doc: dict[str, Any],
    chain_volumes: dict[str, str],
    package_cid: str | None,
    now: datetime,
) -> Transfer:
    """Take in a dispatch from another deployment: the act must be the sender's
    (registered key), addressed to the caller's unit, and match the chain."""
    with act_errors():
        act = parse_act(dispatch_doc)
        notice = act.notice()
    with state.sessions() as s:
        receiver = _unit(s, caller.unit_id)
        if notice.receiver.code != receiver.code:
            raise Conflict(f"该转递发往 {notice.receiver.code}，不是本单位", rule="addressee-only")
        existing = s.scalar(select(Transfer).where(Transfer.transfer_id == notice.transfer_id))
        if existing is not None and existing.dispatch_hash == act_hash(act).hex():
            # The same dispatch again (the sender's centre already handed it over).
            return existing
        sender = s.scalar(select(Unit).where(Unit.code == notice.sender.code))
        if sender is None or not units.is_peer(s, sender.id):
            raise NotFound(f"转出单位 {notice.sender.code} 未登记为外部单位")
        with act_errors():
            verify_act(
                act,
                kind=ActKind.DISPATCH,
                signer_key=_unit_key(sender),
                unit=sender.code,
                transfer_id=notice.transfer_id,
                package_root=act.package_root,
                nonce_seen=_nonce_seen(s, sender.code),
            )
        expected = units.chain_account(s, ctx, receiver.id)
        sender_account = units.chain_account(s, ctx, sender.id)
    if set(chain_volumes) != {v.volume_id for v in notice.volumes}:
        raise Conflict("链上案卷标识与通知单所列案卷不一致")
    numbers: dict[str, int] = {}
    with chain_errors():
        for vol, vid_hex in chain_volumes.items():
            try:
                vid = bytes.fromhex(vid_hex)
            except ValueError:
                raise BadRequest(f"chain volume id {vid_hex!r} is not hex") from None
            custody = ctx.deployment.chain.custody_state(vid)
            open_ = None if custody is None else custody.in_transit
            if (
                open_ is None
                or open_.addressee != expected
                or open_.sender != sender_account
                or open_.package_root != act.package_root
            ):
                raise Conflict(f"案卷 {vol} 在链上没有发往本单位、包根一致的在途转递")
            numbers[vol] = open_.number
    with state.write_sessions() as s:
        if s.scalar(select(Transfer.id).where(Transfer.transfer_id == notice.transfer_id)):
            raise Conflict(f"转递 {notice.transfer_id} 已登记")
        t = Transfer(
            transfer_id=notice.transfer_id,
            transfer_no=notice.transfer_no,
            direction=TransferDirection.INCOMING,
            state=TransferState.DISPATCHED,
            sender_unit_id=sender.id,
            receiver_unit_id=receiver.id,
            notice=notice.to_json(),
            deadline=notice.deadline,
            package_root=act.package_root.hex(),
            package_cid=package_cid,
            dispatch_act=act.to_json(),
            dispatch_hash=act_hash(act).hex(),
            created_at=notice.created_at,
            dispatched_at=act.signed_at,
        )
        s.add(t)
        s.flush()
        s.add(
            ActNonce(
                unit_code=sender.code,
                nonce=act.nonce,
                kind=ActKind.DISPATCH.value,
                transfer_pk=t.id,
                act_hash=t.dispatch_hash,
            )
        )
        for vol, vid_hex in chain_volumes.items():
            s.add(
                TransferVolume(
                    transfer_pk=t.id,
                    notice_volume_id=vol,
                    chain_volume_id=vid_hex.lower(),
                    chain_transfer_no=numbers[vol],
                )
            )
        record_event(
            s,
            t,
            "dispatch",
            None,
            caller.unit_id,
            now=now,
            detail={"dispatch_hash": t.dispatch_hash, "observed": True},
            handler=act.handler,
        )
        commit(s)
        return t


def take_dispatch(
    state: ServiceState, ctx: NotaryContext, body: dict[str, Any], now: Any
) -> Transfer:
    """A peer centre's dispatch to a unit hosted here (checked like POST /incoming)."""
    try:
        act = parse_act(body["dispatch"])
        notice = act.notice()
    except (KeyError, TypeError, ValueError, TransferError) as e:
        raise Unprocessable(f"转递通知格式错误：{e}", check="format") from None
    with state.sessions() as s:
        receiver = s.scalar(select(Unit).where(Unit.code == notice.receiver.code))
        peer = None if receiver is None else s.get(TransferPeer, receiver.id)
        if receiver is None or (peer is not None and not peer.hosted):
            raise NotFound(f"接收单位 {notice.receiver.code} 不在本档案中心")
        caller = federation.acting_for(s, receiver.id)
    return register_incoming(
        state,
        ctx,
        caller,
        body["dispatch"],
        dict(body.get("chain_volumes") or {}),
        body.get("package_cid"),
        now,
    )


def _onchain_root(ctx: NotaryContext, tvs: list[TransferVolume]) -> bytes:
    """The package root dispatched on chain (every volume of a transfer carries the same)."""
    roots = set()
    with chain_errors():
        for tv in tvs:
            assert tv.chain_transfer_no is not None
            record = ctx.deployment.chain.get_transfer(
                bytes.fromhex(tv.chain_volume_id), tv.chain_transfer_no
            )
            if record is None:
                raise Conflict(f"链上找不到案卷 {tv.notice_volume_id} 的转递记录")
            roots.add(record.package_root)
    if len(roots) != 1:
        raise Conflict("各案卷在链上的包根不一致")
    return roots.pop()


def check_deliverable(state: ServiceState, caller: Principal, transfer_id: str) -> None:
    """What :func:`deliver` checks before it reads a package (404, 403, 409), for the
    offline import to answer before it reads one byte of the upload."""
    with state.sessions() as s:
        t = find(s, transfer_id, caller)
        require_receiver(t, caller, "接收转递包")
        require_hosted(t, "receiver")
        advance(t, Event.DELIVER)
        s.rollback()


def deliver(
    state: ServiceState,
    ctx: NotaryContext,
    caller: Principal,
    transfer_id: str,
    now: datetime,
    upload: BinaryIO | None = None,
) -> Transfer:
    """Online (``upload`` None: the package by CID from the shared store) or offline
    (the package file uploaded): unpacked and checked against the on-chain root.

    Delivering again (another courier copy, or a fresh fetch by CID) is allowed after a
    verification that failed, never after one that passed: the new copy is unpacked
    beside the bag and moved in place only once the transition is claimed, so a
    verification or a receipt running meanwhile never mixes two copies (its own claim
    then fails: 409). The failed verification stays in the timeline; its results are
    cleared."""
    with state.sessions() as s:
        t = find(s, transfer_id, caller)
        require_receiver(t, caller, "接收转递包")
        require_hosted(t, "receiver")
        again = t.state is TransferState.VERIFIED
        if again and t.report is not None and report_of(t).accepted:
            raise Conflict("四性检测已全部通过，无需重新送达：请签署回执", rule="verified-ok")
        version = t.row_version
        advance(t, Event.DELIVER)
        s.rollback()
        root = _onchain_root(ctx, volumes_of(s, t))
        sender_centre = federation.centre_of(s, t.sender_unit_id)
        sender_nodes = [] if sender_centre is None else list(sender_centre.ipfs_addresses)
    home = state.settings.home
    # A package is bounded by the bag limits (not by the per-material upload limit):
    # payload total plus the tar's headers and tag files.
    limit = DEFAULT_LIMITS.max_total_bytes + (64 << 20)
    if upload is None:
        if t.package_cid is None:
            raise Conflict("没有转递包 CID：请使用离线导入")
        # Routing is off: our node finds the sender centre's node only by dialling it
        # (again after either restarted).
        federation.connect_ipfs(ctx, sender_nodes)
        chunks = ctx.store.iter_content(t.package_cid)
    else:
        chunks = iter(lambda: upload.read(1 << 20), b"")
    staged = staging_dir(home, transfer_id) if again else None
    # Unpacked as it is read: the store checks every block against the CID on the way,
    # the bag is then checked against the on-chain root.
    try:
        try:
            receive_tar(
                home, transfer_id, ChunkStream(chunks, limit=limit), expected_root=root, dest=staged
            )
        except OverflowError as e:
            raise PayloadTooLarge(str(e), limit=limit) from None
        except FetchFailed as e:
            raise ServiceUnavailable(f"无法从内容网络取回转递包：{e}") from None
        except (PackageError, TransferError) as e:
            raise Conflict(f"转递包无法接收：{e}", package_error=type(e).__name__) from None
        with state.write_sessions() as s:
            t = find(s, transfer_id, caller)
            check_version(t, version)
            old, _ = claim(s, t, Event.DELIVER)
            detail: dict[str, Any] = {"mode": "online" if upload is None else "offline"}
            if again:
                # The audit period runs from the first delivery: another copy does not
                # extend it.
                detail["again"] = True
                t.report = None
                for row in s.scalars(
                    select(TransferResult).where(TransferResult.transfer_pk == t.id)
                ):
                    s.delete(row)
            else:
                t.delivered_at = now
            record_event(
                s, t, "deliver", old, caller.unit_id, detail=detail, handler=caller.handler
            )
            s.flush()
            if staged is not None:
                install_bag(home, transfer_id, staged)
                staged = None
            commit(s)
            return t
    finally:
        if staged is not None:
            shutil.rmtree(staged, ignore_errors=True)


def verify(
    state: ServiceState, ctx: NotaryContext, caller: Principal, transfer_id: str
) -> Transfer:
    with state.sessions() as s:
        t = find(s, transfer_id, caller)
        require_receiver(t, caller, "核验转递包")
        require_hosted(t, "receiver")
        version = t.row_version
        advance(t, Event.VERIFY)
        s.rollback()
        sender = _unit(s, t.sender_unit_id)
        receiver = _unit(s, t.receiver_unit_id)
        # A peer's receipts are trusted through the chain: the checkpoint's key must be
        # the one its centre's account holds in the member registry, and that account
        # must have anchored it. Our own receipts: our own log key.
        sender_centre = federation.centre_of(s, sender.id)
        anchorers = None if sender_centre is None else frozenset({sender_centre.chain_account})
    assert t.package_root is not None and t.dispatch_act is not None
    try:
        bag = open_bag(
            bag_dir(state.settings.home, transfer_id), expected_root=bytes.fromhex(t.package_root)
        )
    except (PackageError, TransferError) as e:
        raise Conflict(f"转递包无法打开：{e}") from None
    try:
        report = verify_package(
            bag,
            holder=ctx.unit_key(receiver.code),
            dispatch=parse_act(t.dispatch_act),
            sender_key=_unit_key(sender),
            trusted_log_keys=None if anchorers is not None else [ctx.log_public_key],
            anchorers=anchorers,
            chain=CachedAnchorReader(ctx.deployment.chain),
        )
    except FileNotFoundError:
        # Another copy was moved in place meanwhile (deliver after a failed check).
        raise Conflict(
            "转递包在检测过程中被另一份替换：请重新检测", rule="optimistic-lock"
        ) from None
    with state.write_sessions() as s:
        t = find(s, transfer_id, caller)
        check_version(t, version)
        old, _ = claim(s, t, Event.VERIFY)
        t.report = report.to_json()
        for row in s.scalars(select(TransferResult).where(TransferResult.transfer_pk == t.id)):
            s.delete(row)
        s.flush()
        for m in report.materials:
            s.add(
                TransferResult(
                    transfer_pk=t.id,
                    material_id=m.material_id,
                    authenticity=m.status(Property.AUTHENTICITY).value,
                    completeness=m.status(Property.COMPLETENESS).value,
                    usability=m.status(Property.USABILITY).value,
                    security=m.status(Property.SECURITY).value,
                    failures=[c.to_json() for c in m.failures()],
                )
            )
        failed = sum(not m.passed for m in report.materials)
        record_event(
            s,
            t,
            "verify",
            old,
            caller.unit_id,
            detail={"accepted": report.accepted, "failed_materials": failed},
            handler=caller.handler,
        )
        commit(s)
    if not report.accepted:
        # In the service's log too, by check id: what a developer needs when the
        # clerk's screen is gone (a flaky run, a report read days later).
        log.warning("转递 %s 四性检测未全部通过：%s", transfer_id, failed_checks(report))
    return t


def failed_checks(report: VerificationReport, limit: int = 20) -> str:
    """The checks that did not pass, ``material property.check status: detail``, joined
    by ``; `` (the first ``limit``, then how many more)."""
    rows = [("整体", c) for c in report.transfer_checks if c.status is not Status.PASS]
    rows += [(m.material_id, c) for m in report.materials for c in m.failures()]
    text = [
        f"{where} {c.property.value}.{c.name} {c.status.value}: {c.detail}"
        for where, c in rows[:limit]
    ]
    if len(rows) > limit:
        text.append(f"… {len(rows) - limit} more")
    return "; ".join(text)


def report_of(t: Transfer) -> VerificationReport:
    assert t.report is not None and t.package_root is not None
    return parse_report(
        t.report,
        t.transfer_id,
        bytes.fromhex(t.package_root),
        max_materials=len(t.notice["materials"]) + 16,
    )


# ---------------------------------------------------------------- receipt / rejection


def _presented(
    s: Session, t: Transfer, doc: dict[str, Any], kind: ActKind, receiver: Unit, now: datetime
) -> SignedAct:
    assert t.package_root is not None and t.dispatch_hash is not None
    with act_errors():
        act = parse_act(doc)
        verify_act(
            act,
            kind=kind,
            signer_key=_unit_key(receiver),
            unit=receiver.code,
            transfer_id=t.transfer_id,
            package_root=bytes.fromhex(t.package_root),
            dispatch_hash=bytes.fromhex(t.dispatch_hash),
            not_before=(t.dispatched_at or t.created_at) - _CLOCK_SKEW,
            not_after=now + _CLOCK_SKEW,
            nonce_seen=_nonce_seen(s, receiver.code),
        )
    return act


def accept(
    state: ServiceState,
    ctx: NotaryContext,
    caller: Principal,
    transfer_id: str,
    presented: dict[str, Any] | None,
    now: datetime,
) -> tuple[Transfer, bool]:
    """Sign (or take) the receipt, anchor it, move custody. Returns (transfer, created).

    Idempotent: once received, the same receipt (or none) answers with the stored one;
    a different receipt is 409. Of two concurrent accepts, one gets 409.
    """
    with state.sessions() as s:
        t = find(s, transfer_id, caller)
        require_receiver(t, caller, "签收回执")
        require_hosted(t, "receiver")
        receiver = _unit(s, t.receiver_unit_id)
        if t.state is TransferState.RECEIVED:
            assert t.outcome_act is not None
            if presented is not None:
                with act_errors():
                    same = act_hash(parse_act(presented)).hex() == t.outcome_hash
                if not same:
                    raise Conflict("该转递已签收，回执不同", rule="receipt-once")
            s.rollback()
            finish_receipt(state, ctx, transfer_id)
            return find(s, transfer_id, caller), False
        version = t.row_version
        advance(t, Event.ACCEPT)
        s.rollback()
        if t.report is None:
            raise Conflict("尚未核验")
        if presented is not None:
            act = _presented(s, t, presented, ActKind.RECEIPT, receiver, now)
        else:
            report = report_of(t)
            if not report.accepted:
                raise Conflict("核验未通过，不能签收：请退回（rejection）", rule="verified-only")
            assert t.dispatch_act is not None
            act = sign_receipt(
                ctx.unit_key(receiver.code),
                dispatch=parse_act(t.dispatch_act),
                report=report,
                now=now.replace(microsecond=0),
                handler=caller.handler,
            )
        if not act.accepted:
            raise Conflict("回执声明核验未通过：请改用退回", rule="verified-only")
    with state.write_sessions() as s:
        t = find(s, transfer_id, caller)
        if t.state is TransferState.RECEIVED:
            raise Conflict("该转递已被另一请求签收", rule="receipt-once")
        check_version(t, version)
        old, _ = claim(s, t, Event.ACCEPT)
        t.outcome_act = act.to_json()
        t.outcome_hash = act_hash(act).hex()
        s.add(
            ActNonce(
                unit_code=receiver.code,
                nonce=act.nonce,
                kind=ActKind.RECEIPT.value,
                transfer_pk=t.id,
                act_hash=t.outcome_hash,
            )
        )
        record_event(
            s, t, "accept", old, caller.unit_id, detail={"receipt_hash": t.outcome_hash},
            handler=act.handler,
        )  # fmt: skip
        commit(s)
    finish_receipt(state, ctx, transfer_id)
    with state.sessions() as s:
        return find(s, transfer_id, caller), True


def _close_on_chain(
    client: ChainClient, tvs: list[TransferVolume], outcome: Outcome, digest: bytes
) -> dict[int, str | None]:
    """Close each volume's dispatch on chain with ``outcome`` and the act's hash, each
    transaction sent once (transfer_intents.ensure); {transfer volume id: tx hash}."""
    event: intents.CustodyEvent
    send: Callable[[bytes, bytes], TxRef]
    if outcome is Outcome.RECEIVED:
        event, send = "VolumeReceived", client.receive
    else:
        event, send = "VolumeRejected", client.reject
    txs: dict[int, str | None] = {}
    for tv in tvs:
        vid = bytes.fromhex(tv.chain_volume_id)
        assert tv.chain_transfer_no is not None
        observe = partial(intents.closed_with, client, vid, tv.chain_transfer_no, outcome, digest)
        txs[tv.id], _ = intents.ensure(client, vid, event, observe, partial(send, vid, digest))
    return txs


@intents.one_finisher
def finish_receipt(state: ServiceState, ctx: NotaryContext, transfer_id: str) -> None:
    """The receipt's effects that may be retried: custody on chain (each transaction
    sent once: transfer_intents.ensure), then here."""
    with state.sessions() as s:
        t = intents.by_transfer_id(s, transfer_id)
        if t.state is not TransferState.RECEIVED or t.closed_at is not None:
            return
        assert t.outcome_hash is not None
        digest = bytes.fromhex(t.outcome_hash)
        client = units.chain_client(s, ctx, _unit(s, t.receiver_unit_id))
        todo = [tv for tv in volumes_of(s, t) if tv.outcome_tx is None]
    with chain_errors():
        txs = _close_on_chain(client, todo, Outcome.RECEIVED, digest)
    with state.write_sessions() as s:
        t = intents.by_transfer_id(s, transfer_id)
        if t.closed_at is not None:
            return  # finished meanwhile by another run
        for tv in volumes_of(s, t):
            if tv.id in txs:
                tv.outcome_tx = txs[tv.id]
        apply_receipt_here(s, state, ctx, t)
        t.closed_at = utcnow()
        record_event(
            s,
            t,
            "custody",
            t.state.value,
            t.receiver_unit_id,
            detail={"custodian": "receiver"},
            tx_hashes=[tx for tx in txs.values() if tx is not None],
        )
        commit(s)


def reject(
    state: ServiceState,
    ctx: NotaryContext,
    caller: Principal,
    transfer_id: str,
    presented: dict[str, Any] | None,
    reasons: list[Reason] | None,
    now: datetime,
) -> Transfer:
    with state.sessions() as s:
        t = find(s, transfer_id, caller)
        require_receiver(t, caller, "退回转递")
        require_hosted(t, "receiver")
        receiver = _unit(s, t.receiver_unit_id)
        version = t.row_version
        advance(t, Event.REJECT)
        s.rollback()
        if t.chain_intent is not None:
            # Signed before a crash: finish that rejection, never sign a second one.
            if presented is not None:
                with act_errors():
                    same = act_hash(parse_act(presented)) == act_hash(
                        parse_act(t.chain_intent["act"])
                    )
                if not same:
                    raise Conflict("另一退回文书正在上链，请重试原文书", rule="act-pending")
            return finish_reject(state, ctx, transfer_id)
        if presented is not None:
            act = _presented(s, t, presented, ActKind.REJECTION, receiver, now)
        else:
            report = None if t.report is None else report_of(t)
            reasons = reasons or ([] if report is None else reasons_from_report(report))
            if not reasons:
                raise Conflict("退回须说明理由", rule="reasons")
            assert t.dispatch_act is not None
            act = sign_rejection(
                ctx.unit_key(receiver.code),
                dispatch=parse_act(t.dispatch_act),
                reasons=reasons,
                report=report,
                now=now.replace(microsecond=0),
                handler=caller.handler,
            )
    intents.begin(state, transfer_id, version, Event.REJECT, act)
    return finish_reject(state, ctx, transfer_id)


@intents.one_finisher
def finish_reject(state: ServiceState, ctx: NotaryContext, transfer_id: str) -> Transfer:
    """The committed rejection act's transactions (each sent once) and its transition."""
    with state.sessions() as s:
        t = intents.by_transfer_id(s, transfer_id)
        intent = t.chain_intent
        if intent is None or intent["event"] != Event.REJECT.value:
            return t  # finished meanwhile by another run
        version = t.row_version
        receiver = _unit(s, t.receiver_unit_id)
        client = units.chain_client(s, ctx, receiver)
        tvs = volumes_of(s, t)
    act = parse_act(intent["act"])
    digest = act_hash(act)
    with intents.chain_step(state, transfer_id, Event.REJECT):
        txs = _close_on_chain(client, tvs, Outcome.REJECTED, digest)
    with state.write_sessions() as s:
        t = intents.by_transfer_id(s, transfer_id)
        if t.chain_intent != intent:
            return t
        check_version(t, version)
        t.chain_intent = None
        old, _ = claim(s, t, Event.REJECT)
        t.outcome_act = act.to_json()
        t.outcome_hash = digest.hex()
        s.add(
            ActNonce(
                unit_code=receiver.code,
                nonce=act.nonce,
                kind=ActKind.REJECTION.value,
                transfer_pk=t.id,
                act_hash=t.outcome_hash,
            )
        )
        for tv in volumes_of(s, t):
            tv.outcome_tx = txs.get(tv.id)
        record_event(
            s,
            t,
            "reject",
            old,
            receiver.id,
            detail={
                "reason_hash": t.outcome_hash,
                "reasons": [r.to_json() for r in act.reasons()][:50],
            },
            tx_hashes=[tx for tx in txs.values() if tx is not None],
            handler=act.handler,
        )
        commit(s)
        return t
