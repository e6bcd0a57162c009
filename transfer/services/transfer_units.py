"""Who a transfer's units are on chain, and how to act for them.

Custody on chain belongs to accounts. A unit of another centre (a peer unit) is
recorded with its envelope key and chain account as the chain's member registry
vouched for them (transfer/services/federation.py). Every hosted unit acts through a
chain account of its own (``give_chain_account``): the contract refuses a dispatch
to oneself, and a peer can trust a unit's key only through the unit's own member
record. (Homes made before that act through the centre's account.)
"""

from __future__ import annotations

import json
import os
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from notary._internal.keyfiles import write_secret
from notary.chain import ChainClient
from notary.chain.client import account_address
from notary.chain.models import Role as ChainRole
from notary.crypto import SM2PublicKey
from notary.deployment import Deployment
from notary.network import JoinRequest, UnitRequest, fund_account, unit_chain_id
from transfer.db.models import TransferPeer, Unit
from transfer.services.context import NotaryContext
from transfer.services.errors import Conflict, NotFound


def _chain_key_path(ctx: NotaryContext, code: str) -> str:
    return str(ctx.deployment.unit_key_path(code).with_suffix(".chain"))


def chain_account(s: Session, ctx: NotaryContext, unit_id: uuid.UUID) -> str:
    return unit_account(s, unit_id, ctx.deployment.descriptor.chain_account)


def unit_account(s: Session, unit_id: uuid.UUID, centre_account: str) -> str:
    """The account a unit holds custody through: its own, else the centre's."""
    peer = s.get(TransferPeer, unit_id)
    return peer.chain_account if peer is not None else centre_account


def is_peer(s: Session, unit_id: uuid.UUID) -> bool:
    peer = s.get(TransferPeer, unit_id)
    return peer is not None and not peer.hosted


def chain_client(s: Session, ctx: NotaryContext, unit: Unit) -> ChainClient:
    """A client that signs as the hosted ``unit``'s chain account."""
    peer = s.get(TransferPeer, unit.id)
    if peer is None:
        return ctx.deployment.chain
    if not peer.hosted:
        raise NotFound(f"unit {unit.code} is hosted by another deployment")
    with open(_chain_key_path(ctx, unit.code), encoding="ascii") as fh:
        key = bytes.fromhex(fh.read().strip())
    return ctx.deployment.chain.with_key(key)


@dataclass(frozen=True, slots=True)
class UnitAccount:
    account: str
    # False: the network admin must still admit it (``request`` names the join request).
    admitted: bool
    request: Path | None = None


def give_chain_account(
    s: Session,
    dep: Deployment,
    unit: Unit,
    *,
    request: bool = True,
    admin_key: bytes | None = None,
) -> UnitAccount:
    """Every hosted unit acts on chain through an account of its own (the contract
    refuses a dispatch to oneself, and a peer can only trust a unit's key through its
    own member record). The key goes to keys/units/<code>.chain; where this home holds
    the network admin's key (the embedded chain) the unit is admitted at once, else a
    join request for it is written to requests/unit-<code>.json for the network admin
    (``admin_key``: the network admin's key given by a caller that holds it).
    Not committed; safe to repeat after a failed commit (the key file is reused)."""
    if unit.public_key_hex is None:
        raise Conflict(f"unit {unit.code} has no envelope key")
    existing = s.get(TransferPeer, unit.id)
    if existing is not None:
        return UnitAccount(existing.chain_account, True)
    path = dep.unit_key_path(unit.code).with_suffix(".chain")
    try:
        key = bytes.fromhex(path.read_text("ascii").strip())
    except FileNotFoundError:
        key = secrets.token_bytes(32)
        write_secret(path, key.hex().encode("ascii"))
    account = account_address(key)
    public_key = SM2PublicKey.from_hex(unit.public_key_hex)
    s.add(TransferPeer(unit_id=unit.id, chain_account=account, hosted=True))
    admin_path = dep.home / "keys" / "admin.key"
    if admin_key is None and admin_path.exists():
        admin_key = bytes.fromhex(admin_path.read_text("ascii").strip())
    if admin_key is not None:
        admin = dep.chain.with_key(admin_key)
        if admin.member(account) is None:
            fund_account(admin._w3, admin_key, account)
            admin.add_member(
                account, ChainRole.UNIT, public_key.fingerprint(), unit_chain_id(unit.code)
            )
        return UnitAccount(account, True)
    if dep.chain.member(account) is not None:
        return UnitAccount(account, True)
    if not request:
        return UnitAccount(account, False)
    path = dep.home / "requests" / f"unit-{unit.code}.json"
    unit_req = UnitRequest(unit.code, unit.name, account, public_key)
    centre = s.scalar(select(Unit.name).where(Unit.code == dep.descriptor.centre_code))
    return UnitAccount(account, False, write_join_request(dep, [unit_req], centre or "", path))


def write_join_request(dep: Deployment, units: list[UnitRequest], name: str, path: Path) -> Path:
    """The request the network admin admits (``notary network admit``), signed with this
    centre's log key: the centre itself (skipped once admitted) and ``units``."""
    desc = dep.descriptor
    req = JoinRequest(
        chain_id=desc.chain_id,
        contract=desc.contract,
        centre_code=desc.centre_code,
        centre_name=name or desc.centre_code,
        centre_account=desc.chain_account,
        log_public_key=dep.log_key.public_key,
        units=tuple(units),
        created_ms=int(time.time() * 1000),
    ).signed(dep.log_key)
    path.parent.mkdir(exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(req.to_json(), ensure_ascii=False, indent=2), "utf-8")
    os.replace(tmp, path)
    return path
