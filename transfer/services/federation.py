"""Federation between archive centres (docs/federation.md).

- :func:`describe` — what this centre tells anyone about itself (``GET /v1/federation``):
  its chain account and log key, its hosted units' accounts and envelope keys, its IPFS
  node's addresses. Public: all of it is either on chain (as fingerprints) or harmless.
- :func:`add_peer` — trust another centre: its description is fetched from it and every
  key in it must be the one the chain's member registry holds for that account, role
  and unit (:func:`notary.network.check_member`); nothing is typed in or pinned by hand.
- :func:`push_dispatch` — the sender's service hands a dispatch to the receiver's
  (``take_dispatch`` in :mod:`transfer.services.transfer_receive`, checked there against
  the sender's chain-vouched key and the chain's record of the dispatch);
  :func:`push_outcome` / :func:`take_outcome` — the receiver's service tells the sender
  of its receipt or rejection (checked against the outcome hash the chain recorded).
  A push that fails is offered again by the transfer outbox, and the sender also reads
  the outcome from the chain by itself.

The network fetcher is an interface (:data:`Fetcher`) so that tests can put two
in-process services side by side; in production it is :func:`http_fetcher`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from notary.chain.models import Role as ChainRole
from notary.crypto import KeyFormatError, SM2PublicKey
from notary.network import MembershipError, check_member
from transfer.db.models import (
    PeerCentre,
    Transfer,
    TransferDirection,
    TransferPeer,
    TransferState,
    Unit,
    UnitKind,
)
from transfer.db.types import utcnow
from transfer.roles import Role
from transfer.security import Principal
from transfer.services.context import NotaryContext
from transfer.services.errors import (
    Conflict,
    NotFound,
    ServiceError,
    ServiceUnavailable,
    Unprocessable,
)
from transfer.services.setup import checked_unit_fields
from transfer.services.state import ServiceState

log = logging.getLogger(__name__)

CENTRE_FORMAT = "archive-notary/centre/v1"

# (method, url, JSON body or None) -> the JSON answer; raises PeerUnreachable.
Fetcher = Callable[[str, str, dict[str, Any] | None], dict[str, Any]]


class PeerUnreachable(Exception):
    """The peer centre did not answer, or answered with an error."""


def http_fetcher(method: str, url: str, body: dict[str, Any] | None) -> dict[str, Any]:
    try:
        r = httpx.request(method, url, json=body, timeout=30.0)
    except httpx.HTTPError as e:
        raise PeerUnreachable(f"{url}：{type(e).__name__} {e}") from None
    if not r.is_success:
        try:
            detail = r.json().get("detail") or r.text
        except ValueError:
            detail = r.text
        raise PeerUnreachable(f"{url} 返回 {r.status_code}：{str(detail)[:300]}")
    try:
        data = r.json()
    except ValueError:
        raise PeerUnreachable(f"{url} 的回答不是 JSON") from None
    if not isinstance(data, dict):
        raise PeerUnreachable(f"{url} 的回答不是 JSON 对象")
    return data


def fetcher_of(state: ServiceState) -> Fetcher:
    return state.peer_fetcher or http_fetcher


# ---------------------------------------------------------------- this centre


def describe(state: ServiceState, ctx: NotaryContext) -> dict[str, Any]:
    desc = ctx.deployment.descriptor
    with state.sessions() as s:
        centre = s.scalar(select(Unit).where(Unit.code == desc.centre_code))
        rows = s.execute(
            select(Unit, TransferPeer)
            .join(TransferPeer, TransferPeer.unit_id == Unit.id)
            .where(TransferPeer.hosted.is_(True), Unit.kind != UnitKind.ADMIN)
            .order_by(Unit.code)
        ).all()
        units = [
            {
                "code": u.code,
                "name": u.name,
                "public_key": u.public_key_hex,
                "chain_account": p.chain_account,
            }
            for u, p in rows
        ]
    return {
        "format": CENTRE_FORMAT,
        "code": desc.centre_code,
        "name": centre.name if centre is not None else desc.centre_code,
        "chain_id": desc.chain_id,
        "contract": desc.contract,
        "chain_account": desc.chain_account,
        "log_public_key": ctx.log_public_key.raw.hex(),
        "origin": ctx.origin,
        "units": units,
        "ipfs": _swarm_addresses(ctx),
    }


def _swarm_addresses(ctx: NotaryContext) -> list[str]:
    addresses = getattr(ctx.store, "swarm_addresses", None)
    if addresses is None:
        return []
    try:
        return list(addresses(timeout=5.0))
    except Exception as e:  # a node that is down: the description says so by omission
        log.warning("IPFS 节点地址不可得：%s", e)
        return []


def connect_ipfs(ctx: NotaryContext, addresses: list[str]) -> bool:
    """Dial a peer centre's IPFS node directly (routing is off: nothing else finds it)."""
    connect = getattr(ctx.store, "swarm_connect", None)
    if connect is None or not addresses:
        return False
    ok = False
    for addr in addresses:
        try:
            connect(addr, timeout=10.0)
            ok = True
        except Exception as e:
            log.warning("无法连接对方 IPFS 节点 %s：%s", addr, e)
    return ok


# ---------------------------------------------------------------- trusting a peer


def _membership_problem(e: MembershipError) -> Unprocessable:
    return Unprocessable(f"链上成员登记不认可：{e}", check=e.check)


def add_peer(
    state: ServiceState, ctx: NotaryContext, code: str, url: str, fetch: Fetcher
) -> dict[str, Any]:
    """Fetch the peer's description, check every key against the chain, then record the
    centre and its units (again: a repeat refreshes them, e.g. after a new unit)."""
    base = url.rstrip("/")
    try:
        doc = fetch("GET", f"{base}/v1/federation", None)
    except PeerUnreachable as e:
        raise ServiceUnavailable(f"无法取得对方档案中心的说明：{e}") from None
    if doc.get("format") != CENTRE_FORMAT:
        raise Unprocessable("对方的回答不是档案中心说明", check="peer-format")
    if doc.get("code") != code:
        raise Unprocessable(
            f"该地址上的档案中心是 {doc.get('code')!r}，不是 {code}", check="peer-code"
        )
    mine = ctx.deployment.descriptor
    if doc.get("chain_id") != mine.chain_id or str(doc.get("contract", "")).lower() != (
        mine.contract.lower()
    ):
        raise Unprocessable("对方档案中心不在本网络（链或合约不同）", check="peer-network")
    if code == mine.centre_code:
        raise Unprocessable("不能把本中心登记为外部档案中心", check="peer-code")
    chain = ctx.deployment.chain
    try:
        log_key = SM2PublicKey.from_hex(str(doc["log_public_key"]))
        account = str(doc["chain_account"])
        check_member(
            chain,
            account=account,
            role=ChainRole.ARCHIVE_CENTRE,
            code=code,
            public_key=log_key,
            what=f"档案中心 {code} 的日志",
        )
        # Names and codes from a peer are held to the same rules as ours: they end up in
        # notices, bags and printed forms.
        _, centre_name = checked_unit_fields(code, str(doc.get("name") or code))
        units = []
        for u in doc.get("units") or []:
            checked_unit_fields(str(u["code"]), str(u["name"]))
            key = SM2PublicKey.from_hex(str(u["public_key"]))
            check_member(
                chain,
                account=str(u["chain_account"]),
                role=ChainRole.UNIT,
                code=str(u["code"]),
                public_key=key,
                what=f"单位 {u['code']}",
            )
            units.append((str(u["code"]), str(u["name"]), key, str(u["chain_account"])))
    except MembershipError as e:
        raise _membership_problem(e) from None
    except (KeyError, TypeError, ValueError, KeyFormatError) as e:
        raise Unprocessable(f"对方档案中心说明格式错误：{e}", check="peer-format") from None
    block = chain.block_number()
    addresses = [str(a) for a in doc.get("ipfs") or []]
    with state.write_sessions() as s:
        centre = s.get(PeerCentre, code)
        if centre is None:
            centre = PeerCentre(code=code)
            s.add(centre)
        centre.name = centre_name
        centre.url = base
        centre.chain_account = account
        centre.log_public_key_hex = log_key.raw.hex()
        centre.ipfs_addresses = addresses
        centre.checked_block = block
        centre.updated_at = utcnow()
        for unit_code, name, key, unit_account in units:
            _upsert_peer_unit(s, code, unit_code, name, key, unit_account, log_key)
        s.commit()
    return {
        "code": code,
        "name": centre_name,
        "url": base,
        "chain_account": account,
        "log_key_fingerprint": log_key.fingerprint().hex(),
        "checked_block": block,
        "units": [{"code": c, "name": n, "chain_account": a} for c, n, _, a in units],
        "ipfs_connected": connect_ipfs(ctx, addresses),
    }


def _upsert_peer_unit(
    s: Session,
    centre: str,
    code: str,
    name: str,
    key: SM2PublicKey,
    account: str,
    log_key: SM2PublicKey,
) -> None:
    unit = s.scalar(select(Unit).where(Unit.code == code))
    if unit is None:
        unit = Unit(code=code, name=name, kind=UnitKind.UNIT)
        s.add(unit)
        s.flush()
    else:
        peer = s.get(TransferPeer, unit.id)
        if peer is None or peer.hosted:
            raise Conflict(f"单位 {code} 是本部署的单位，不能登记为外部单位", check="peer-unit")
    # The chain vouched for this key and account just now: a rotation there shows here.
    unit.name = name
    unit.public_key_hex = key.raw.hex()
    unit.key_fingerprint = key.fingerprint().hex()
    peer = s.get(TransferPeer, unit.id)
    if peer is None:
        s.add(
            TransferPeer(
                unit_id=unit.id,
                chain_account=account,
                log_public_key_hex=log_key.raw.hex(),
                hosted=False,
                centre_code=centre,
            )
        )
    else:
        peer.chain_account = account
        peer.log_public_key_hex = log_key.raw.hex()
        peer.centre_code = centre


def list_peers(s: Session) -> list[dict[str, Any]]:
    out = []
    for c in s.scalars(select(PeerCentre).order_by(PeerCentre.code)):
        units = s.execute(
            select(Unit.code, Unit.name, TransferPeer.chain_account)
            .join(TransferPeer, TransferPeer.unit_id == Unit.id)
            .where(TransferPeer.centre_code == c.code)
            .order_by(Unit.code)
        ).all()
        out.append(
            {
                "code": c.code,
                "name": c.name,
                "url": c.url,
                "chain_account": c.chain_account,
                "log_key_fingerprint": SM2PublicKey.from_hex(c.log_public_key_hex)
                .fingerprint()
                .hex(),
                "checked_block": c.checked_block,
                "units": [{"code": u, "name": n, "chain_account": a} for u, n, a in units],
            }
        )
    return out


def centre_of(s: Session, unit_id: uuid.UUID) -> PeerCentre | None:
    peer = s.get(TransferPeer, unit_id)
    if peer is None or peer.hosted or peer.centre_code is None:
        return None
    return s.get(PeerCentre, peer.centre_code)


def acting_for(s: Session, unit_id: uuid.UUID) -> Principal:
    """The service acting for its own hosted unit on a message from a peer centre."""
    unit = s.get(Unit, unit_id)
    assert unit is not None
    return Principal(
        key_id=uuid.UUID(int=0),
        unit_id=unit.id,
        unit_code=unit.code,
        role=Role.OPERATOR,
        unit_active=True,
    )


# ---------------------------------------------------------------- messages


def push_dispatch(state: ServiceState, ctx: NotaryContext, transfer_id: str) -> bool:
    """Offer a dispatch to the receiving peer centre; True once it took it in."""
    with state.sessions() as s:
        t = s.scalar(select(Transfer).where(Transfer.transfer_id == transfer_id))
        if t is None or t.state is not TransferState.DISPATCHED or t.peer_notified_at:
            return True
        centre = centre_of(s, t.receiver_unit_id)
        if centre is None or t.dispatch_act is None:
            return True
        from transfer.services.transfers import volumes_of

        body = {
            "dispatch": t.dispatch_act,
            "chain_volumes": {tv.notice_volume_id: tv.chain_volume_id for tv in volumes_of(s, t)},
            "package_cid": t.package_cid,
        }
        url = centre.url
    try:
        fetcher_of(state)("POST", f"{url}/v1/federation/dispatches", body)
    except PeerUnreachable as e:
        log.warning("转递 %s 未能送达接收方档案中心（稍后重试）：%s", transfer_id, e)
        return False
    with state.write_sessions() as s:
        t = s.scalar(select(Transfer).where(Transfer.transfer_id == transfer_id))
        if t is not None and t.peer_notified_at is None:
            t.peer_notified_at = utcnow()
            s.commit()
    return True


def push_outcome(state: ServiceState, ctx: NotaryContext, transfer_id: str) -> bool:
    """Tell the sending peer centre of this unit's receipt or rejection."""
    with state.sessions() as s:
        t = s.scalar(select(Transfer).where(Transfer.transfer_id == transfer_id))
        if t is None or t.direction is not TransferDirection.INCOMING or t.outcome_act is None:
            return True
        centre = centre_of(s, t.sender_unit_id)
        if centre is None:
            return True
        url = centre.url
        body = {"transfer_id": t.transfer_id, "act": t.outcome_act}
    try:
        fetcher_of(state)("POST", f"{url}/v1/federation/outcomes", body)
    except PeerUnreachable as e:
        # The sender also reads the outcome from the chain on its own (outbox).
        log.warning("转递 %s 的结果未能告知转出方档案中心：%s", transfer_id, e)
        return False
    return True


def take_outcome(state: ServiceState, ctx: NotaryContext, body: dict[str, Any]) -> Transfer:
    """The receiving peer's receipt or rejection of one of our dispatches: applied as
    the chain recorded it; the act is kept when its hash is the one on chain."""
    from transfer.services.transfer_send import sync

    transfer_id = body.get("transfer_id")
    act = body.get("act")
    if not isinstance(transfer_id, str) or not isinstance(act, dict):
        raise Unprocessable("须给出 transfer_id 与 act", check="format")
    with state.sessions() as s:
        t = s.scalar(select(Transfer).where(Transfer.transfer_id == transfer_id))
        if t is None or t.direction is not TransferDirection.OUTGOING:
            raise NotFound(f"转递 {transfer_id} 不存在")
        if centre_of(s, t.receiver_unit_id) is None:
            raise NotFound(f"转递 {transfer_id} 不是发往外部档案中心的")
        caller = acting_for(s, t.sender_unit_id)
    return sync(state, ctx, caller, transfer_id, act_doc=act)


def sync_outgoing(state: ServiceState, ctx: NotaryContext) -> int:
    """Outbox pass: offer untaken dispatches again, and read from the chain the outcome
    of every dispatch still open at a peer centre. Returns how many could not be read
    (the chain down); a dispatch still awaiting its answer is not a failure."""
    from transfer.services.transfer_send import sync

    with state.sessions() as s:
        open_ = [
            (t.transfer_id, t.sender_unit_id, t.peer_notified_at is None)
            for t in s.scalars(
                select(Transfer).where(
                    Transfer.direction == TransferDirection.OUTGOING,
                    Transfer.state == TransferState.DISPATCHED,
                )
            )
            if centre_of(s, t.receiver_unit_id) is not None
        ]
    left = 0
    for transfer_id, sender_id, unnotified in open_:
        if unnotified:
            push_dispatch(state, ctx, transfer_id)
        try:
            with state.sessions() as s:
                caller = acting_for(s, sender_id)
            sync(state, ctx, caller, transfer_id)
        except (ServiceError, ServiceUnavailable) as e:
            log.warning("转递 %s：读取链上结果失败：%s", transfer_id, e)
            left += 1
    return left
