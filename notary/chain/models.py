"""Plain values returned by ChainClient; enums mirror the contract's, value for value."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from notary.receipts import AnchorRef


class Role(IntEnum):
    NONE = 0
    ADMIN = 1
    ARCHIVE_CENTRE = 2
    UNIT = 3
    AUDITOR = 4


class MemberStatus(IntEnum):
    NONE = 0
    ACTIVE = 1
    SUSPENDED = 2


class CustodyState(IntEnum):
    NONE = 0
    HELD = 1
    IN_TRANSIT = 2


class Outcome(IntEnum):
    PENDING = 0
    RECEIVED = 1
    REJECTED = 2
    RECALLED = 3


@dataclass(frozen=True)
class TxRef:
    """Where a mined transaction sits."""

    chain_id: int
    contract: str
    tx_hash: str
    block_number: int
    block_timestamp: int
    gas_used: int


@dataclass(frozen=True)
class AnchorRecord:
    """A checkpoint anchor as the chain recorded it: the transaction and what it stored.
    A receipt carries only :attr:`ref`; a verifier finds the rest on chain."""

    chain_id: int
    contract: str
    tx_hash: str
    block_number: int
    block_timestamp: int
    log_id: bytes
    tree_size: int
    root: bytes
    anchorer: str

    @property
    def ref(self) -> AnchorRef:
        return AnchorRef(self.chain_id, self.contract, self.tx_hash.lower(), self.block_number)


@dataclass(frozen=True)
class Anchor:
    """A checkpoint as the contract stores it (no tx hash: see ChainClient.anchor_ref)."""

    log_id: bytes
    tree_size: int
    root: bytes
    anchorer: str
    block_number: int
    timestamp: int


@dataclass(frozen=True)
class Member:
    account: str
    role: Role
    status: MemberStatus
    member_since: int  # block number
    suspended_at: int  # block number of the latest suspension; 0 while active
    key_fingerprint: bytes  # SM3 of the 64-byte raw SM2 public key
    unit_id: bytes

    @property
    def active(self) -> bool:
        return self.status is MemberStatus.ACTIVE


@dataclass(frozen=True)
class StatusChange:
    block_number: int
    active: bool


@dataclass(frozen=True)
class Transfer:
    volume_id: bytes
    number: int  # 1 for a volume's first dispatch
    sender: str
    addressee: str
    package_root: bytes
    deadline: int  # unix seconds
    outcome: Outcome
    outcome_hash: bytes  # receipt hash (RECEIVED) or reason hash (REJECTED); zero otherwise
    dispatched_block: int
    closed_block: int  # 0 while pending


@dataclass(frozen=True)
class Custody:
    volume_id: bytes
    state: CustodyState
    custodian: str  # while IN_TRANSIT still the sender
    transfers: int  # dispatches so far
    in_transit: Transfer | None  # the open dispatch, when state is IN_TRANSIT
