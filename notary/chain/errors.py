"""Typed failures of the chain layer.

Every custom error of ``ArchiveNotary.sol`` has a class of the same name here,
subclassing :class:`ContractError`; tests check that the two lists match.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Any, ClassVar

from notary.errors import NotaryError


class ChainError(NotaryError):
    """Base of every failure raised by notary.chain."""


class ChainUnavailable(ChainError):
    """The JSON-RPC endpoint could not be reached or did not answer."""


class ContractNotFound(ChainError):
    """No ArchiveNotary code (or different code) at the configured address."""


class TransactionRejected(ChainError):
    """The node refused to accept a transaction (nonce, funds, fees, permissioning)."""


class TransactionTimeout(ChainError):
    """A submitted transaction has no receipt yet; it may still be mined.

    Retrying is safe for anchoring (it checks the chain first); the next
    transaction takes its nonce from the node's pending count, so none is skipped.
    """

    def __init__(self, tx_hash: str, timeout: float) -> None:
        super().__init__(f"no receipt for {tx_hash} after {timeout:g} s; it may still be mined")
        self.tx_hash = tx_hash
        self.timeout = timeout


class AnchorConflict(ChainError):
    """The tree size is already anchored for this log, with a different root."""

    def __init__(self, log_id: bytes, tree_size: int, anchored: bytes, wanted: bytes) -> None:
        super().__init__(
            f"log 0x{log_id.hex()} size {tree_size} is anchored with root 0x{anchored.hex()},"
            f" not 0x{wanted.hex()}"
        )
        self.log_id = log_id
        self.tree_size = tree_size
        self.anchored_root = anchored
        self.wanted_root = wanted


class TransactionReverted(ChainError):
    """The EVM reverted a call or transaction, for a reason the ABI does not name."""

    def __init__(self, message: str, *, data: bytes = b"", tx_hash: str | None = None) -> None:
        super().__init__(message)
        self.data = data
        self.tx_hash = tx_hash


class ContractPanic(TransactionReverted):
    """Solidity Panic(uint256): an assertion, overflow or similar bug in the contract."""


class ContractError(TransactionReverted):
    """The contract refused with one of its custom errors; `values` holds its arguments."""

    by_name: ClassVar[dict[str, type[ContractError]]] = {}

    def __init__(
        self,
        values: Mapping[str, Any],
        *,
        action: str,
        data: bytes = b"",
        tx_hash: str | None = None,
    ) -> None:
        shown = ", ".join(f"{k}={_show(v)}" for k, v in values.items())
        super().__init__(
            f"{action} refused by contract: {type(self).__name__}({shown})",
            data=data,
            tx_hash=tx_hash,
        )
        self.values = dict(values)
        self.action = action

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        ContractError.by_name[cls.__name__] = cls


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, IntEnum):
        return value.name
    return str(value)


# One class per custom error in ArchiveNotary.sol, same names, same order.


class NotMember(ContractError):
    """The account is not in the member registry."""


class NotActive(ContractError):
    """The account is a member but suspended."""


class WrongRole(ContractError):
    """The account's role does not allow this action (`role` is the role it has)."""


class AlreadyMember(ContractError):
    """The account is already registered."""


class AlreadyActive(ContractError):
    """Reinstating a member that is not suspended."""


class InvalidRole(ContractError):
    """Role NONE cannot be granted."""


class ZeroAddress(ContractError):
    """The zero address is not a valid account."""


class ZeroHash(ContractError):
    """A 32-byte id, fingerprint, root or hash was all zero."""


class FingerprintInUse(ContractError):
    """The SM2 key fingerprint is already bound to another member."""


class CannotSuspendSelf(ContractError):
    """An admin cannot suspend itself (the registry could lose its last admin)."""


class TreeSizeNotIncreasing(ContractError):
    """The tree size is not larger than the log's latest anchored size."""


class NotLogOwner(ContractError):
    """The log was first anchored by another unit; only that unit anchors it."""


class AlreadyRegistered(ContractError):
    """The volume id is already registered."""


class UnknownVolume(ContractError):
    """The volume id was never registered."""


class UnitRegistersOnlyForItself(ContractError):
    """A unit may register volumes only with itself as custodian."""


class NotCustodian(ContractError):
    """Only the current custodian dispatches or recalls (`custodian` is who holds it)."""


class NotAddressee(ContractError):
    """Only the addressee of the dispatch receives or rejects it."""


class InTransit(ContractError):
    """The volume is in transit; nothing else moves it until received, rejected or recalled."""


class NotInTransit(ContractError):
    """The volume is not in transit, so there is nothing to receive, reject or recall."""


class SelfDispatch(ContractError):
    """A custodian cannot dispatch a volume to itself."""


class DeadlineInPast(ContractError):
    """The dispatch deadline is not after the current block's timestamp."""


class DeadlineNotPassed(ContractError):
    """A dispatch can be recalled only after its deadline."""
