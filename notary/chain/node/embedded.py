"""The embedded default chain: a durable, single-writer, in-process py-evm chain.

An :class:`EmbeddedChain` is eth-tester's ``PyEVMBackend`` over a sqlite (WAL)
store in a directory. It survives a clean restart and a kill -9: every block a
call returned for is on disk, with its receipts and state (see ``_kvstore``).

Facts callers must rely on (design.md §3, re-measured by
``benches/bench_embedded_chain.py``):

* every transaction is mined into its own block before the send returns;
* after a crash the head may be one block *ahead* of the last send that
  returned (the block was committed, the call did not come back): reconcile by
  account nonce or by looking up the receipt, never by assuming loss;
* block timestamps are ``max(now, parent + 1)``: above one block per second
  they run ahead of the wall clock, so anchor at most ~1 block/s;
* settings (chain id, fork, gas limit, genesis allocation) are pinned in the
  store at creation; reopening with different ones raises
  :class:`ChainSettingsMismatchError`;
* one process writes a chain directory at a time (``<dir>/LOCK``); a second
  opener gets :class:`ChainLockedError`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast

from eth.abc import (
    BlockAPI,
    BlockHeaderAPI,
    ComputationAPI,
    SignedTransactionAPI,
    StateAPI,
    VirtualMachineAPI,
)
from eth.chains.base import MiningChain
from eth.constants import BLANK_ROOT_HASH, GAS_CALLSTIPEND
from eth.exceptions import Revert
from eth.exceptions import TransactionNotFound as EVMTransactionNotFound
from eth.typing import AccountDetails
from eth.vm.forks import PragueVM
from eth.vm.spoof import SpoofTransaction
from eth_abi import abi
from eth_abi.exceptions import DecodingError
from eth_tester import EthereumTester
from eth_tester.backends.pyevm.main import (
    PyEVMBackend,
    _get_vm_for_block_number,
    get_default_genesis_params,
)
from eth_tester.backends.pyevm.serializers import (
    serialize_transaction,
    serialize_transaction_receipt,
)
from eth_tester.constants import ZERO_ADDRESS_HEX
from eth_tester.exceptions import TransactionFailed, TransactionNotFound
from eth_typing import Address, BlockNumber, Hash32
from eth_utils import to_canonical_address, to_checksum_address
from web3 import Web3
from web3.providers.eth_tester import EthereumTesterProvider
from web3.providers.eth_tester.defaults import API_ENDPOINTS, static_return
from web3.types import RPCEndpoint, RPCResponse

from notary.chain.errors import ChainError, TransactionRejected
from notary.chain.node._kvstore import SqliteAtomicDB, SqliteStore, SyncMode

__all__ = [
    "DEFAULT_CHAIN_ID",
    "DEFAULT_GAS_LIMIT",
    "FORK",
    "ChainLockedError",
    "ChainSettings",
    "ChainSettingsMismatchError",
    "ChainStoreCorruptError",
    "EmbeddedChain",
    "EmbeddedChainError",
    "RevertError",
    "SyncMode",
    "TransactionRejectedError",
]

#: Chain id of a new embedded chain unless the deployment picks its own.
#: Distinct from eth-tester's and anvil's defaults so that a receipt from a
#: throw-away dev chain can never verify against a deployment's chain.
DEFAULT_CHAIN_ID = 1337_0001
#: Block gas limit, constant across blocks (as on a permissioned network).
DEFAULT_GAS_LIMIT = 30_000_000
#: The fork the chain runs from genesis: eth-tester's own default, so that its
#: backend code paths are the well-trodden ones. Contracts target ``paris``,
#: which every later fork executes unchanged.
FORK = "prague"
_VM_CLASS = PragueVM

_DB_FILE = "chain.sqlite"
_LOCK_FILE = "LOCK"
_META_SETTINGS = "settings"
_META_GENESIS_HASH = "genesis_hash"
_FORMAT_VERSION = 1
_BLOB_TX_TYPE = 3
_ERROR_STRING_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)


class EmbeddedChainError(ChainError):
    """Base class of every error raised by the embedded chain."""


class ChainLockedError(EmbeddedChainError):
    """Another process (or another open in this one) holds the chain directory."""

    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(f"embedded chain {path} is in use by another writer ({holder})")
        self.path = path
        self.holder = holder


class ChainSettingsMismatchError(EmbeddedChainError):
    """The chain was created with different settings than the ones asked for."""

    def __init__(self, path: Path, field: str, stored: object, requested: object) -> None:
        super().__init__(
            f"embedded chain {path} was created with {field}={stored!r}, "
            f"refusing to open it with {field}={requested!r}"
        )
        self.path = path
        self.field = field
        self.stored = stored
        self.requested = requested


class ChainStoreCorruptError(EmbeddedChainError):
    """The store exists but does not hold a consistent chain."""


class TransactionRejectedError(EmbeddedChainError, TransactionRejected):
    """A raw transaction this chain must never include (wrong or missing chain id, blobs)."""


class RevertError(TransactionFailed):
    """A reverted ``eth_call``, carrying the raw revert data.

    Subclasses eth-tester's ``TransactionFailed`` so existing handlers keep
    working; ``data`` is what a node returns as the JSON-RPC error's ``data``
    (custom errors are decoded from it by the client).
    """

    def __init__(self, message: str, data: bytes) -> None:
        super().__init__(message)
        self.data = data


@dataclass(frozen=True)
class ChainSettings:
    """What is pinned at genesis and checked at every reopen."""

    format_version: int
    chain_id: int
    fork: str
    gas_limit: int
    #: SHA-256 over the canonical JSON of the genesis allocation.
    genesis_alloc_digest: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ChainSettings:
        return cls(**json.loads(text))


def _normalise_alloc(alloc: Mapping[str, int]) -> dict[str, int]:
    normalised: dict[str, int] = {}
    for address, balance in alloc.items():
        if not isinstance(balance, int) or balance < 0:
            raise ValueError(f"genesis balance for {address} must be a non-negative int")
        normalised[to_checksum_address(address)] = balance
    return normalised


def _alloc_digest(alloc: Mapping[str, int]) -> str:
    canonical = json.dumps({a.lower(): b for a, b in alloc.items()}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


class _NotaryMiningChain(MiningChain):
    """The chain class: one fork from genesis, constant gas limit.

    Mirrors eth-tester's own tester chain (``setup_tester_chain``) so that its
    backend behaves as it does in memory; ``chain_id`` is set per instance by
    :func:`_chain_class`.
    """

    vm_configuration: tuple[tuple[BlockNumber, type[VirtualMachineAPI]], ...] = (
        (BlockNumber(0), _VM_CLASS),
    )

    def create_header_from_parent(
        self, parent_header: BlockHeaderAPI, **header_params: Any
    ) -> BlockHeaderAPI:
        # A permissioned chain keeps its gas limit; py-evm would drift it.
        header_params["gas_limit"] = parent_header.gas_limit
        return super().create_header_from_parent(parent_header, **header_params)

    def get_transaction_builder(self) -> Any:
        return self.get_vm().get_transaction_builder()


def _chain_class(chain_id: int) -> type[_NotaryMiningChain]:
    return type("NotaryEmbeddedChain", (_NotaryMiningChain,), {"chain_id": chain_id})


class DurablePyEVMBackend(PyEVMBackend):
    """eth-tester's py-evm backend over an existing (durable) chain object.

    Differences from the parent, each for a reason:

    * no genesis at construction: the chain is built by :class:`EmbeddedChain`
      (``from_genesis`` once, then ``chain_class(db)``);
    * no well-known test keys: eth-tester's keys are public, nothing
      persistent may depend on them; transactions arrive signed;
    * transactions are found through py-evm's tx-hash index instead of a scan
      of every block (O(1) instead of O(chain length));
    * an empty pending block takes the current time before its first
      transaction, otherwise a block would carry the time its parent was
      mined, however long ago that was;
    * snapshots/reset are refused: they rewrite the head outside
      ``persist_block`` and would break durability.
    """

    def __init__(self, chain: _NotaryMiningChain) -> None:
        # Deliberately not calling super().__init__: it would build a fresh
        # in-memory genesis chain.
        self.account_keys = ()
        self.chain = chain
        #: Gas the last :meth:`call` used (the read-only endpoint's per-batch budget).
        self.last_call_gas_used = 0

    # -- refused operations -------------------------------------------------
    def reset_to_genesis(self, *args: Any, **kwargs: Any) -> None:
        raise EmbeddedChainError("a durable chain cannot be reset to genesis")

    def take_snapshot(self) -> Any:
        raise EmbeddedChainError("snapshots are not supported on a durable chain")

    def revert_to_snapshot(self, snapshot: Any) -> None:
        raise EmbeddedChainError("snapshots are not supported on a durable chain")

    # -- block timestamps ----------------------------------------------------
    def _refresh_pending_timestamp(self) -> None:
        header = self.chain.header
        if header.gas_used != 0:
            return  # the pending block already holds a transaction
        parent = self.chain.chaindb.get_canonical_head()
        fresh = max(int(time.time()), parent.timestamp + 1)
        if fresh > header.timestamp:
            self.chain.set_header_timestamp(fresh)

    def send_raw_transaction(self, raw_transaction: bytes) -> bytes:
        if not raw_transaction:
            raise TransactionRejectedError("empty raw transaction")
        if raw_transaction[0] == _BLOB_TX_TYPE:
            raise TransactionRejectedError("blob (type 3) transactions are not supported")
        transaction = self.chain.get_vm().get_transaction_builder().decode(raw_transaction)
        # py-evm does not check the signed chain id; a node does. Without this a
        # transaction signed for another chain (or replayable everywhere) would
        # be included here.
        chain_id = getattr(transaction, "chain_id", None)
        if chain_id != self.chain.chain_id:
            raise TransactionRejectedError(
                f"transaction chain id {chain_id} is not this chain's ({self.chain.chain_id})"
            )
        self._refresh_pending_timestamp()
        self.chain.apply_transaction(transaction)
        return bytes(transaction.hash)

    def send_signed_transaction(self, signed_transaction: Any, block_number: Any = "latest") -> Any:
        self._refresh_pending_timestamp()
        return super().send_signed_transaction(signed_transaction, block_number)

    def send_transaction(self, transaction: Any) -> Any:
        self._refresh_pending_timestamp()
        return super().send_transaction(transaction)

    def mine_blocks(self, num_blocks: int = 1, coinbase: bytes = 20 * b"\x00") -> Any:
        hashes = []
        for _ in range(num_blocks):
            self._refresh_pending_timestamp()
            hashes.extend(super().mine_blocks(1, coinbase))
        return tuple(hashes)

    # -- calls ---------------------------------------------------------------
    def call(self, transaction: Any, block_number: Any = "latest") -> bytes:
        # As the parent, with two node semantics the parent lacks: the caller
        # needs no funds (geth runs calls without fees; here the sender is
        # topped up inside the throw-away snapshot, the base fee stays
        # enforced), and a revert keeps its raw data.
        defaulted = dict(transaction)
        defaulted.setdefault("gas", self._max_available_gas())
        unsigned = self._get_normalized_and_unsigned_evm_transaction(defaulted, block_number)
        spoofed = SpoofTransaction(unsigned, from_=transaction["from"])
        state = _get_vm_for_block_number(self.chain, block_number).state
        snapshot = state.snapshot()
        try:
            fee_cap = getattr(unsigned, "max_fee_per_gas", None) or unsigned.gas_price
            needed = unsigned.gas * fee_cap + unsigned.value
            if state.get_balance(spoofed.sender) < needed:
                state.set_balance(spoofed.sender, needed)
            computation = state.apply_transaction(spoofed)
        finally:
            state.revert(snapshot)
        # With the intrinsic gas; a failed call has used all it was given.
        self.last_call_gas_used = unsigned.gas - computation.get_gas_remaining()
        if not computation.is_error:
            return bytes(computation.output)
        error = computation.error
        if not isinstance(error, Revert):
            raise TransactionFailed(str(error))
        data = error.args[0] if error.args and isinstance(error.args[0], bytes) else b""
        message = str(error)
        if data[:4] == _ERROR_STRING_SELECTOR:
            with contextlib.suppress(DecodingError):
                message = abi.decode(["string"], data[4:])[0]
        raise RevertError(message, data)

    # -- gas estimates -------------------------------------------------------
    def estimate_gas(self, transaction: Any, block_number: Any = "latest") -> int:
        # py-evm's estimator is a binary search: about ten runs of the transaction
        # per estimate (each anchor is estimated before it is sent). Geth's fast path
        # needs two: run at the block's gas limit to learn the gas used, then
        # confirm at that plus the refund, the call stipend and the 1/64 that
        # EIP-150 keeps back from each call. The search is the fallback when the
        # confirming run fails (a contract that branches on gasleft()).
        unsigned = self._get_normalized_and_unsigned_evm_transaction(
            {**transaction, "gas": 21000}, block_number
        )
        spoofed = _spoof(unsigned, from_=transaction["from"])
        vm = _get_vm_for_block_number(self.chain, block_number)  # as ``call`` resolves it
        with vm.in_costless_state() as state:
            full = _run(state, _spoof(spoofed, gas=state.gas_limit, gas_price=0))
            if full.is_error:
                raise full.error  # as the search does: it fails at the gas limit too
            used = state.gas_limit - full.get_gas_remaining()
            if used == spoofed.intrinsic_gas:
                return used  # no code ran (a plain transfer)
            optimistic = (used + full.get_gas_refund() + GAS_CALLSTIPEND) * 64 // 63
            confirm = _spoof(spoofed, gas=optimistic)
            if optimistic < state.gas_limit and not _run(state, confirm).is_error:
                return optimistic
            return int(self.chain.gas_estimator(state, spoofed))

    # -- indexed transaction lookups -------------------------------------------
    def _find_transaction(
        self, transaction_hash: bytes
    ) -> tuple[BlockAPI, SignedTransactionAPI, int]:
        pending = self.chain.get_block()
        if pending.header.gas_used:
            for index, transaction in enumerate(pending.transactions):
                if transaction.hash == transaction_hash:
                    return pending, transaction, index
        try:
            block_number, index = self.chain.chaindb.get_transaction_index(Hash32(transaction_hash))
        except EVMTransactionNotFound:
            raise TransactionNotFound(
                f"No transaction found for transaction hash: 0x{transaction_hash.hex()}"
            ) from None
        block = self.chain.get_canonical_block_by_number(block_number)
        return block, block.transactions[index], index

    def _is_pending(self, block: BlockAPI) -> bool:
        return bool(block.number == self.chain.header.block_number)

    def get_transaction_by_hash(self, transaction_hash: bytes) -> Any:
        block, transaction, index = self._find_transaction(transaction_hash)
        return serialize_transaction(block, transaction, index, self._is_pending(block))

    def get_transaction_receipt(self, transaction_hash: bytes) -> Any:
        block, transaction, index = self._find_transaction(transaction_hash)
        return serialize_transaction_receipt(
            block,
            block.get_receipts(self.chain.chaindb),
            transaction,
            index,
            self._is_pending(block),
            self.chain.get_vm(),
        )


class _NotaryTester(EthereumTester):
    """eth-tester with node semantics for calls: a missing ``from`` is the zero address.

    web3's tester middleware fills ``from`` with the first unlocked account;
    this chain has none (keys stay with their owners), so calls would fail.
    """

    def call(self, transaction: dict[str, Any], block_number: Any = "latest") -> Any:
        return super().call(_default_from(transaction), block_number)

    def estimate_gas(self, transaction: dict[str, Any], block_number: Any = "latest") -> Any:
        return super().estimate_gas(_default_from(transaction), block_number)


def _default_from(transaction: dict[str, Any]) -> dict[str, Any]:
    if transaction.get("from"):
        return transaction
    return {**transaction, "from": ZERO_ADDRESS_HEX}


def _spoof(transaction: Any, **overrides: Any) -> SignedTransactionAPI:
    # A stand-in with some fields replaced, typed as what py-evm runs (as py-evm does).
    return cast(SignedTransactionAPI, SpoofTransaction(transaction, **overrides))


def _run(state: StateAPI, transaction: SignedTransactionAPI) -> ComputationAPI:
    """The transaction's computation on ``state``, which is left as it was."""
    snapshot = state.snapshot()
    try:
        return state.apply_transaction(transaction)
    finally:
        state.revert(snapshot)


def _api_endpoints(chain_id: int) -> dict[str, dict[str, Any]]:
    # web3's tester endpoints answer a fixed chain id (131277322940537) and
    # net_version "1"; a client must see the chain's real id.
    endpoints = {namespace: dict(methods) for namespace, methods in API_ENDPOINTS.items()}
    endpoints["eth"]["chainId"] = static_return(chain_id)
    endpoints["net"]["version"] = static_return(str(chain_id))
    return endpoints


class _LockedTesterProvider(EthereumTesterProvider):
    """Serialises every request: py-evm and the sqlite connection are not thread-safe."""

    def __init__(self, tester: EthereumTester, chain_id: int, lock: threading.RLock) -> None:
        super().__init__(tester, _api_endpoints(chain_id))
        self._chain_lock = lock

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        with self._chain_lock:
            return super().make_request(method, params)


class _DirectoryLock:
    """An exclusive, non-blocking ``flock`` on ``<dir>/LOCK``; released by the OS on death."""

    def __init__(self, path: Path) -> None:
        self._path = path
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ChainLockedError(path.parent, f"pid {holder}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class EmbeddedChain:
    """A durable in-process chain in a directory, with a ``Web3`` over it.

    Use :meth:`open`; close with :meth:`close` or a ``with`` block. ``w3`` is
    thread-safe (every request holds :attr:`lock`) and auto-mines: each
    transaction is in a committed block when the send returns.
    """

    def __init__(
        self,
        path: Path,
        settings: ChainSettings,
        store: SqliteStore,
        dir_lock: _DirectoryLock,
        chain: _NotaryMiningChain,
    ) -> None:
        self.path = path
        self.settings = settings
        self.lock = threading.RLock()
        self._store = store
        self._dir_lock = dir_lock
        self.backend = DurablePyEVMBackend(chain)
        self.tester = _NotaryTester(backend=self.backend, auto_mine_transactions=True)
        self.provider = _LockedTesterProvider(self.tester, settings.chain_id, self.lock)
        self.w3 = Web3(self.provider)
        self._closed = False

    @property
    def chain_id(self) -> int:
        return self.settings.chain_id

    @classmethod
    def open(
        cls,
        path: Path,
        chain_id: int = DEFAULT_CHAIN_ID,
        genesis_alloc: Mapping[str, int] | None = None,
        *,
        gas_limit: int = DEFAULT_GAS_LIMIT,
        sync: SyncMode = SyncMode.FULL,
    ) -> EmbeddedChain:
        """Create the chain in ``path`` or reopen it.

        ``genesis_alloc`` maps the deployment's own addresses to their genesis
        balance in wei. On reopen, ``chain_id``, ``gas_limit`` and (when given)
        ``genesis_alloc`` must equal what the chain was created with.
        """
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        dir_lock = _DirectoryLock(path / _LOCK_FILE)
        store: SqliteStore | None = None
        try:
            store = SqliteStore(path / _DB_FILE, sync)
            alloc = None if genesis_alloc is None else _normalise_alloc(genesis_alloc)
            stored = store.get_meta(_META_SETTINGS)
            if stored is None:
                settings, chain = _create(path, store, chain_id, gas_limit, alloc or {})
            else:
                settings = ChainSettings.from_json(stored)
                _check_settings(path, settings, chain_id, gas_limit, alloc)
                chain = _reopen(path, store, settings)
            return cls(path, settings, store, dir_lock, chain)
        except BaseException:
            if store is not None:
                store.close()
            dir_lock.release()
            raise

    def head_number(self) -> int:
        """Number of the last committed block."""
        with self.lock:
            return int(self.backend.chain.chaindb.get_canonical_head().block_number)

    @property
    def db_path(self) -> Path:
        """The chain's sqlite file (opened read-only by :mod:`notary.chain.node.callview`)."""
        return self.path / _DB_FILE

    def store_size_bytes(self) -> int:
        with self.lock:
            return self._store.size_bytes()

    def close(self) -> None:
        with self.lock:
            if self._closed:
                return
            self._closed = True
            self._store.close()
            self._dir_lock.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _create(
    path: Path, store: SqliteStore, chain_id: int, gas_limit: int, alloc: dict[str, int]
) -> tuple[ChainSettings, _NotaryMiningChain]:
    if not store.is_empty():
        raise ChainStoreCorruptError(f"{path}: chain data without settings; not a notary chain")
    settings = ChainSettings(
        format_version=_FORMAT_VERSION,
        chain_id=chain_id,
        fork=FORK,
        gas_limit=gas_limit,
        genesis_alloc_digest=_alloc_digest(alloc),
    )
    genesis_state: dict[Address, AccountDetails] = {
        Address(to_canonical_address(address)): AccountDetails(
            balance=balance, nonce=0, code=b"", storage={}
        )
        for address, balance in alloc.items()
    }
    genesis_params = get_default_genesis_params({"gas_limit": gas_limit})
    db = SqliteAtomicDB(store)
    # Genesis and settings in one transaction: a crash during creation leaves
    # an empty store, never a chain without settings.
    with store.transaction():
        chain = cast(
            _NotaryMiningChain,
            _chain_class(chain_id).from_genesis(db, genesis_params, genesis_state),
        )
        store.set_meta(_META_SETTINGS, settings.to_json())
        genesis_hash = chain.chaindb.get_canonical_block_hash(BlockNumber(0))
        store.set_meta(_META_GENESIS_HASH, genesis_hash.hex())
    return settings, chain


def _check_settings(
    path: Path,
    stored: ChainSettings,
    chain_id: int,
    gas_limit: int,
    alloc: dict[str, int] | None,
) -> None:
    if stored.format_version != _FORMAT_VERSION:
        raise ChainSettingsMismatchError(
            path, "format_version", stored.format_version, _FORMAT_VERSION
        )
    if stored.fork != FORK:
        raise ChainSettingsMismatchError(path, "fork", stored.fork, FORK)
    if stored.chain_id != chain_id:
        raise ChainSettingsMismatchError(path, "chain_id", stored.chain_id, chain_id)
    if stored.gas_limit != gas_limit:
        raise ChainSettingsMismatchError(path, "gas_limit", stored.gas_limit, gas_limit)
    if alloc is not None and stored.genesis_alloc_digest != _alloc_digest(alloc):
        raise ChainSettingsMismatchError(
            path, "genesis_alloc", stored.genesis_alloc_digest, _alloc_digest(alloc)
        )


def _reopen(path: Path, store: SqliteStore, settings: ChainSettings) -> _NotaryMiningChain:
    db = SqliteAtomicDB(store)
    chain = _chain_class(settings.chain_id)(db)
    # Cheap consistency checks, O(1) in chain length: the genesis is the one we
    # created, and the head's block and state are readable.
    try:
        genesis_hash = chain.chaindb.get_canonical_block_hash(BlockNumber(0))
        head = chain.chaindb.get_canonical_head()
        chain.get_canonical_block_by_number(head.block_number)
    except Exception as exc:
        raise ChainStoreCorruptError(f"{path}: cannot read the chain head: {exc}") from exc
    if genesis_hash.hex() != store.get_meta(_META_GENESIS_HASH):
        raise ChainStoreCorruptError(f"{path}: genesis block does not match the stored settings")
    if head.state_root != BLANK_ROOT_HASH and head.state_root not in db:
        raise ChainStoreCorruptError(f"{path}: state of head block {head.block_number} missing")
    return chain
