"""Who a transfer's units are on chain, and how to act for them.

Custody on chain belongs to accounts. A unit of another deployment (a peer) is
registered here with its envelope key, its chain account and its deployment's log
key (to check the evidence receipts it sends). A hosted unit acts through the
deployment's centre account, unless it was given a chain account of its own
(``provision_hosted_account``): two hosted units can only hand a volume to each other
if their accounts differ, because the contract refuses a dispatch to oneself.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session
from web3 import Web3
from web3.types import TxParams, Wei

from notary.chain import ChainClient
from notary.chain.client import account_address
from notary.chain.models import Role as ChainRole
from notary.crypto import KeyFormatError, SM2PublicKey
from notary.deployment import _write_secret, unit_chain_id
from transfer.api.errors import Conflict, NotFound, Unprocessable
from transfer.db.models import TransferPeer, Unit, UnitKind
from transfer.services.context import NotaryContext

# Enough for many thousands of custody transactions at embedded-chain gas prices.
_FUNDING_WEI = 10**21


@dataclass(frozen=True, slots=True)
class PeerIn:
    code: str
    name: str
    public_key_hex: str
    chain_account: str
    log_public_key_hex: str


def register_peer(s: Session, peer: PeerIn) -> Unit:
    """A unit hosted by another deployment (not committed)."""
    try:
        key = SM2PublicKey.from_hex(peer.public_key_hex)
        log_key = SM2PublicKey.from_hex(peer.log_public_key_hex)
    except (KeyFormatError, ValueError) as e:
        raise Unprocessable(f"not an SM2 public key: {e}") from None
    if s.scalar(select(Unit.id).where(Unit.code == peer.code)) is not None:
        raise Conflict(f"unit {peer.code} is already registered")
    unit = Unit(
        code=peer.code,
        name=peer.name,
        kind=UnitKind.ARCHIVE_CENTRE,
        public_key_hex=key.raw.hex(),
        key_fingerprint=key.fingerprint().hex(),
    )
    s.add(unit)
    s.flush()
    s.add(
        TransferPeer(
            unit_id=unit.id,
            chain_account=_checksum(peer.chain_account),
            log_public_key_hex=log_key.raw.hex(),
            hosted=False,
        )
    )
    return unit


def _checksum(account: str) -> str:
    if not Web3.is_address(account):
        raise Unprocessable(f"{account!r} is not an account address")
    return str(Web3.to_checksum_address(account))


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


def peer_log_key(s: Session, ctx: NotaryContext, unit_id: uuid.UUID) -> SM2PublicKey:
    """The log key that signs the sender's evidence receipts."""
    peer = s.get(TransferPeer, unit_id)
    if peer is None or peer.hosted or peer.log_public_key_hex is None:
        return ctx.log_public_key
    return SM2PublicKey.from_hex(peer.log_public_key_hex)


def chain_client(s: Session, ctx: NotaryContext, unit: Unit) -> ChainClient:
    """A client that signs as the hosted ``unit``'s chain account."""
    peer = s.get(TransferPeer, unit.id)
    if peer is None:
        return ctx.deployment.chain
    if not peer.hosted:
        raise NotFound(f"unit {unit.code} is hosted by another deployment")
    with open(_chain_key_path(ctx, unit.code), encoding="ascii") as fh:
        key = bytes.fromhex(fh.read().strip())
    base = ctx.deployment.chain
    return ChainClient(base._w3, base.address, key)


def provision_hosted_account(s: Session, ctx: NotaryContext, unit: Unit, admin_key: bytes) -> str:
    """Give a hosted unit a chain account of its own: key in keys/units/<code>.chain,
    funded by the centre account, added as a unit member by the network admin
    (``admin_key``). Not committed."""
    if unit.public_key_hex is None:
        raise Conflict(f"unit {unit.code} has no envelope key")
    key = secrets.token_bytes(32)
    account = account_address(key)
    _write_secret(ctx.deployment.unit_key_path(unit.code).with_suffix(".chain"), key.hex().encode())
    base = ctx.deployment.chain
    w3 = base._w3
    _fund(w3, admin_key, account)
    admin = ChainClient(w3, base.address, admin_key)
    admin.add_member(
        account,
        ChainRole.UNIT,
        SM2PublicKey.from_hex(unit.public_key_hex).fingerprint(),
        unit_chain_id(unit.code),
    )
    s.add(TransferPeer(unit_id=unit.id, chain_account=account, hosted=True))
    return account


def _fund(w3: Web3, funder_key: bytes, account: str) -> None:
    """Gas for the new account, from the network admin (who has a genesis balance)."""
    funder = account_address(funder_key)
    tx: TxParams = {
        "to": _checksum(account),
        "value": Wei(_FUNDING_WEI),
        "gas": 21_000,
        "gasPrice": w3.eth.gas_price,
        "nonce": w3.eth.get_transaction_count(funder, "pending"),
        "chainId": w3.eth.chain_id,
    }
    signed = w3.eth.account.sign_transaction(tx, funder_key)
    w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction))
