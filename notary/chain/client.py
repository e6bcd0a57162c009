"""ChainClient: the ArchiveNotary contract over any web3 provider, one signing account."""

from __future__ import annotations

import copy
import hashlib
import secrets
from typing import Any

from eth_abi import decode as abi_decode
from eth_account import Account
from eth_typing import ChecksumAddress
from eth_utils import keccak
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import TransactionNotFound
from web3.types import TxReceipt

from notary.chain.artifacts import load_artifact
from notary.chain.errors import (
    AnchorConflict,
    ChainError,
    ContractNotFound,
    TransactionReverted,
    TreeSizeNotIncreasing,
)
from notary.chain.models import (
    Anchor,
    AnchorRecord,
    Custody,
    CustodyState,
    Member,
    MemberStatus,
    Outcome,
    Role,
    StatusChange,
    Transfer,
    TxRef,
)
from notary.chain.revert import ErrorDecoder
from notary.chain.rpc import unavailable_on_transport_error
from notary.chain.tx import TransactionSender

_ANCHORED_TOPIC = "0x" + keccak(text="CheckpointAnchored(bytes32,uint64,bytes32,address)").hex()
# The custody events a caller may have to find again (see ChainClient.custody_tx).
_CUSTODY_TOPICS = {
    name: "0x" + keccak(text=f"{name}({args})").hex()
    for name, args in (
        ("VolumeDispatched", "bytes32,uint32,address,address,bytes32,uint64"),
        ("VolumeReceived", "bytes32,uint32,address,address,bytes32"),
        ("VolumeRejected", "bytes32,uint32,address,address,bytes32"),
    )
}
_ZERO32 = bytes(32)
UINT64_MAX = 2**64 - 1


def _b32(value: bytes, name: str) -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != 32:
        raise ValueError(f"{name} must be 32 bytes, got {value!r}")
    return bytes(value)


def _u64(value: int, name: str) -> int:
    if not isinstance(value, int) or not 0 <= value <= UINT64_MAX:
        raise ValueError(f"{name} must be an integer in [0, 2**64), got {value!r}")
    return value


def _addr(value: str, name: str) -> ChecksumAddress:
    if not Web3.is_address(value):
        raise ValueError(f"{name} must be an account address, got {value!r}")
    return Web3.to_checksum_address(value)


def _decoder() -> ErrorDecoder:
    return ErrorDecoder(load_artifact().abi)


def deploy(
    w3: Web3,
    private_key: bytes,
    *,
    key_fingerprint: bytes,
    unit_id: bytes,
    receipt_timeout: float = 60.0,
) -> ChecksumAddress:
    """Deploy ArchiveNotary; the deploying account becomes its first ADMIN member."""
    artifact = load_artifact()
    decoder = _decoder()
    sender = TransactionSender(
        w3,
        private_key,
        lambda data, action, tx: decoder.decode(data, action=action, tx_hash=tx),
        receipt_timeout=receipt_timeout,
    )
    factory = w3.eth.contract(abi=artifact.abi_list(), bytecode=artifact.bytecode)
    data = factory.constructor(
        _b32(key_fingerprint, "key_fingerprint"), _b32(unit_id, "unit_id")
    ).data_in_transaction
    receipt = sender.transact(None, HexBytes(data), "deploy ArchiveNotary")
    address = receipt["contractAddress"]
    if address is None:
        raise ContractNotFound(f"deployment {receipt['transactionHash'].hex()} created no contract")
    return Web3.to_checksum_address(address)


class ChainClient:
    """Member registry, checkpoint anchors and volume custody of one ArchiveNotary deployment.

    Writes are signed locally with `private_key` and waited for; contract refusals
    raise the ContractError subclass of the same name (see notary.chain.errors),
    transport failures raise ChainUnavailable.
    """

    def __init__(
        self,
        w3: Web3,
        address: str,
        private_key: bytes,
        *,
        receipt_timeout: float = 60.0,
        poll_interval: float = 0.005,
        gas_margin: float = 1.25,
        verify_code: bool = True,
    ) -> None:
        self._w3 = w3
        self._read_only = False
        self._genesis: bytes | None = None
        self.address: ChecksumAddress = _addr(address, "contract address")
        artifact = load_artifact()
        self._decoder = _decoder()
        self._tx = TransactionSender(
            w3,
            private_key,
            lambda data, action, tx: self._decoder.decode(data, action=action, tx_hash=tx),
            receipt_timeout=receipt_timeout,
            poll_interval=poll_interval,
            gas_margin=gas_margin,
        )
        self.chain_id: int = self._tx.chain_id
        self._contract: Contract = w3.eth.contract(address=self.address, abi=artifact.abi_list())
        if verify_code:
            self._verify_code(artifact.deployed_bytecode)

    def with_key(self, private_key: bytes) -> ChainClient:
        """The same contract and connection, signing as another account (a hosted
        unit's). Makes no call: a chain that is down fails the first transaction, where
        the caller maps the outage, not the construction."""
        clone = copy.copy(self)
        clone._read_only = False
        tx = self._tx
        clone._tx = TransactionSender(
            self._w3,
            private_key,
            lambda data, action, h: self._decoder.decode(data, action=action, tx_hash=h),
            receipt_timeout=tx.receipt_timeout,
            poll_interval=tx.poll_interval,
            max_poll_interval=tx.max_poll_interval,
            gas_margin=tx.gas_margin,
            chain_id=self.chain_id,
        )
        return clone

    @classmethod
    def deploy(
        cls,
        w3: Web3,
        private_key: bytes,
        *,
        key_fingerprint: bytes,
        unit_id: bytes,
        **options: Any,
    ) -> ChainClient:
        """Deploy a fresh contract and return a client for it, signing as the deployer."""
        address = deploy(
            w3,
            private_key,
            key_fingerprint=key_fingerprint,
            unit_id=unit_id,
            receipt_timeout=options.get("receipt_timeout", 60.0),
        )
        return cls(w3, address, private_key, **options)

    @classmethod
    def reader(cls, w3: Web3, address: str, **options: Any) -> ChainClient:
        """A read-only client: for verifiers, which hold no key and must send nothing."""
        client = cls(w3, address, secrets.token_bytes(32), **options)
        client._read_only = True
        return client

    @property
    def genesis_hash(self) -> bytes:
        """The hash of block 0: which chain this is, beyond a chain id any network may
        claim (the verification memo keys on-chain verdicts by it)."""
        if self._genesis is None:
            with unavailable_on_transport_error("reading the genesis block"):
                self._genesis = bytes(self._w3.eth.get_block(0)["hash"])
        return self._genesis

    @property
    def account(self) -> ChecksumAddress:
        """The signing account."""
        return self._tx.address

    def block_number(self) -> int:
        """The chain's current head."""
        with unavailable_on_transport_error("reading the block number"):
            return int(self._w3.eth.block_number)

    def transaction_receipt(self, tx_hash: str) -> TxReceipt | None:
        """The receipt of a mined transaction, or None if the chain does not know it."""
        with unavailable_on_transport_error("reading transaction receipt"):
            try:
                return self._w3.eth.get_transaction_receipt(HexBytes(tx_hash))
            except TransactionNotFound:
                return None

    def _verify_code(self, expected: bytes) -> None:
        with unavailable_on_transport_error("reading contract code"):
            code = bytes(self._w3.eth.get_code(self.address))
        if not code:
            raise ContractNotFound(f"no contract at {self.address} on chain {self.chain_id}")
        # The contract has no immutables, so runtime code equals the artifact's exactly.
        if hashlib.sha256(code).digest() != hashlib.sha256(expected).digest():
            raise ContractNotFound(
                f"code at {self.address} is not this build of ArchiveNotary"
                f" (sha256 {hashlib.sha256(code).hexdigest()})"
            )

    # ------------------------------------------------------------ plumbing

    def _send(self, fn: str, *args: Any) -> TxReceipt:
        if self._read_only:
            raise ChainError(f"{fn}: this client is read-only")
        data = self._contract.encode_abi(fn, args=list(args))
        return self._tx.transact(self.address, HexBytes(data), fn)

    def _view(self, fn: str, *args: Any) -> Any:
        data = self._contract.encode_abi(fn, args=list(args))
        raw = self._tx.call({"to": self.address, "data": HexBytes(data)}, fn)
        output = self._contract.get_function_by_name(fn).abi["outputs"]
        types = [_abi_type(o) for o in output]
        values = abi_decode(types, raw)
        return values[0] if len(values) == 1 else values

    def _block_timestamp(self, block_number: int) -> int:
        with unavailable_on_transport_error("reading block"):
            return int(self._w3.eth.get_block(block_number)["timestamp"])

    def _ref(self, receipt: TxReceipt) -> TxRef:
        return TxRef(
            chain_id=self.chain_id,
            contract=self.address,
            tx_hash="0x" + bytes(receipt["transactionHash"]).hex(),
            block_number=int(receipt["blockNumber"]),
            block_timestamp=self._block_timestamp(int(receipt["blockNumber"])),
            gas_used=int(receipt["gasUsed"]),
        )

    # ------------------------------------------------------------ membership

    def add_member(self, account: str, role: Role, key_fingerprint: bytes, unit_id: bytes) -> TxRef:
        receipt = self._send(
            "addMember",
            _addr(account, "account"),
            int(role),
            _b32(key_fingerprint, "key_fingerprint"),
            _b32(unit_id, "unit_id"),
        )
        return self._ref(receipt)

    def suspend_member(self, account: str) -> TxRef:
        return self._ref(self._send("suspendMember", _addr(account, "account")))

    def reinstate_member(self, account: str) -> TxRef:
        return self._ref(self._send("reinstateMember", _addr(account, "account")))

    def member(self, account: str) -> Member | None:
        """The registry entry of `account`, or None if it was never added."""
        checked = _addr(account, "account")
        role, status, since, suspended, fingerprint, unit = self._view("getMember", checked)
        if status == MemberStatus.NONE:
            return None
        return Member(
            account=checked,
            role=Role(role),
            status=MemberStatus(status),
            member_since=since,
            suspended_at=suspended,
            key_fingerprint=fingerprint,
            unit_id=unit,
        )

    def member_by_fingerprint(self, key_fingerprint: bytes) -> str | None:
        holder = self._view("memberByFingerprint", _b32(key_fingerprint, "key_fingerprint"))
        return None if int(holder, 16) == 0 else Web3.to_checksum_address(holder)

    def member_history(self, account: str) -> list[StatusChange]:
        changes = self._view("memberHistory", _addr(account, "account"))
        return [StatusChange(block_number=b, active=a) for b, a in changes]

    def was_active_at(self, account: str, role: Role, block_number: int) -> bool:
        """Whether `account` was an active `role` member at the end of `block_number`."""
        return bool(
            self._view(
                "wasActiveAt",
                _addr(account, "account"),
                int(role),
                _u64(block_number, "block_number"),
            )
        )

    # ------------------------------------------------------------ anchoring

    def anchor_checkpoint(self, log_id: bytes, tree_size: int, root: bytes) -> AnchorRecord:
        """Anchor (tree_size, root) for log_id; idempotent.

        If this exact checkpoint is already on chain (a retry after a crash or a
        timeout) its existing anchor is returned and nothing is sent; a different
        root at the same size raises AnchorConflict.
        """
        _b32(log_id, "log_id")
        _u64(tree_size, "tree_size")
        _b32(root, "root")
        existing = self._existing_anchor(log_id, tree_size, root)
        if existing is not None:
            return existing
        try:
            receipt = self._send("anchor", log_id, tree_size, root)
        except TreeSizeNotIncreasing:
            # Our own earlier submission may have landed meanwhile.
            existing = self._existing_anchor(log_id, tree_size, root)
            if existing is not None:
                return existing
            raise
        ref = self._ref(receipt)
        return AnchorRecord(
            chain_id=ref.chain_id,
            contract=ref.contract,
            tx_hash=ref.tx_hash,
            block_number=ref.block_number,
            block_timestamp=ref.block_timestamp,
            log_id=log_id,
            tree_size=tree_size,
            root=root,
            anchorer=self.account,
        )

    def _existing_anchor(self, log_id: bytes, tree_size: int, root: bytes) -> AnchorRecord | None:
        anchor = self.get_anchor(log_id, tree_size)
        if anchor is None:
            return None
        if anchor.root != root:
            raise AnchorConflict(log_id, tree_size, anchor.root, root)
        return self._anchor_ref(anchor)

    def _anchor_from(self, log_id: bytes, tree_size: int, raw: tuple[Any, ...]) -> Anchor | None:
        root, anchorer, block_number, timestamp = raw
        if root == _ZERO32:
            return None
        return Anchor(
            log_id=log_id,
            tree_size=tree_size,
            root=root,
            anchorer=Web3.to_checksum_address(anchorer),
            block_number=block_number,
            timestamp=timestamp,
        )

    def get_anchor(self, log_id: bytes, tree_size: int) -> Anchor | None:
        """The anchor at exactly `tree_size`, or None."""
        raw = self._view("getAnchor", _b32(log_id, "log_id"), _u64(tree_size, "tree_size"))
        return self._anchor_from(log_id, tree_size, raw)

    def latest_anchor(self, log_id: bytes) -> Anchor | None:
        """The anchor with the largest tree size for `log_id`, or None if there is none."""
        tree_size, raw = self._view("latest", _b32(log_id, "log_id"))
        return self._anchor_from(log_id, tree_size, raw)

    def anchor_ref(self, log_id: bytes, tree_size: int) -> AnchorRecord | None:
        """The AnchorRecord (with tx hash) of an existing anchor, or None."""
        anchor = self.get_anchor(log_id, tree_size)
        return None if anchor is None else self._anchor_ref(anchor)

    def _anchor_ref(self, anchor: Anchor) -> AnchorRecord:
        # The contract stores the block, so one single-block log query finds the tx:
        # no scan over the chain (eth-tester's log queries grow with its length).
        topics: list[Any] = [
            _ANCHORED_TOPIC,
            "0x" + anchor.log_id.hex(),
            "0x" + anchor.tree_size.to_bytes(32, "big").hex(),
        ]
        with unavailable_on_transport_error("reading anchor event"):
            logs = self._w3.eth.get_logs(
                {
                    "address": self.address,
                    "fromBlock": anchor.block_number,
                    "toBlock": anchor.block_number,
                    "topics": topics,
                }
            )
        if len(logs) != 1:
            raise TransactionReverted(
                f"expected one CheckpointAnchored event in block {anchor.block_number},"
                f" found {len(logs)}"
            )
        return AnchorRecord(
            chain_id=self.chain_id,
            contract=self.address,
            tx_hash="0x" + bytes(logs[0]["transactionHash"]).hex(),
            block_number=anchor.block_number,
            block_timestamp=anchor.timestamp,
            log_id=anchor.log_id,
            tree_size=anchor.tree_size,
            root=anchor.root,
            anchorer=anchor.anchorer,
        )

    def log_owner_unit(self, log_id: bytes) -> bytes | None:
        unit = self._view("logOwnerUnit", _b32(log_id, "log_id"))
        return None if unit == _ZERO32 else bytes(unit)

    # ------------------------------------------------------------ custody

    def register_volume(self, volume_id: bytes, custodian: str) -> TxRef:
        return self._ref(
            self._send(
                "registerVolume", _b32(volume_id, "volume_id"), _addr(custodian, "custodian")
            )
        )

    def dispatch(self, volume_id: bytes, to: str, package_root: bytes, deadline: int) -> TxRef:
        """Send a held volume to `to`; `deadline` is unix seconds, after the current block."""
        return self._ref(
            self._send(
                "dispatchVolume",
                _b32(volume_id, "volume_id"),
                _addr(to, "to"),
                _b32(package_root, "package_root"),
                _u64(deadline, "deadline"),
            )
        )

    def receive(self, volume_id: bytes, receipt_hash: bytes) -> TxRef:
        """As the addressee, take custody; `receipt_hash` commits to the signed receipt."""
        return self._ref(
            self._send(
                "receiveVolume", _b32(volume_id, "volume_id"), _b32(receipt_hash, "receipt_hash")
            )
        )

    def reject(self, volume_id: bytes, reason_hash: bytes) -> TxRef:
        """As the addressee, refuse the dispatch; custody stays with the sender."""
        return self._ref(
            self._send(
                "rejectVolume", _b32(volume_id, "volume_id"), _b32(reason_hash, "reason_hash")
            )
        )

    def recall(self, volume_id: bytes) -> TxRef:
        """As the sender, close a dispatch whose deadline has passed without an answer."""
        return self._ref(self._send("recallVolume", _b32(volume_id, "volume_id")))

    def custody_state(self, volume_id: bytes) -> Custody | None:
        """Custody of a volume, or None if it was never registered."""
        _b32(volume_id, "volume_id")
        custodian, state, transfers = self._view("getVolume", volume_id)
        if state == CustodyState.NONE:
            return None
        state = CustodyState(state)
        return Custody(
            volume_id=volume_id,
            state=state,
            custodian=Web3.to_checksum_address(custodian),
            transfers=transfers,
            in_transit=(
                self.get_transfer(volume_id, transfers)
                if state is CustodyState.IN_TRANSIT
                else None
            ),
        )

    def custody_tx(self, volume_id: bytes, event: str, block_number: int) -> str | None:
        """The transaction that emitted custody ``event`` (``VolumeDispatched``,
        ``VolumeReceived``, ``VolumeRejected``) for the volume in ``block_number``.

        For a caller whose send did not come back (a crash) but whose effect is on
        chain: the contract stores the block, so one single-block log query finds it.
        """
        topics: list[Any] = [_CUSTODY_TOPICS[event], "0x" + _b32(volume_id, "volume_id").hex()]
        with unavailable_on_transport_error("reading custody event"):
            logs = self._w3.eth.get_logs(
                {
                    "address": self.address,
                    "fromBlock": block_number,
                    "toBlock": block_number,
                    "topics": topics,
                }
            )
        return None if len(logs) != 1 else "0x" + bytes(logs[0]["transactionHash"]).hex()

    def get_transfer(self, volume_id: bytes, number: int) -> Transfer | None:
        """Dispatch number `number` (1-based) of a volume, or None."""
        if not 0 < number < 2**32:
            raise ValueError(f"transfer number must be in [1, 2**32), got {number}")
        raw = self._view("getTransfer", _b32(volume_id, "volume_id"), number)
        sender, dispatched, closed, to, deadline, outcome, package_root, outcome_hash = raw
        if int(sender, 16) == 0:
            return None
        return Transfer(
            volume_id=volume_id,
            number=number,
            sender=Web3.to_checksum_address(sender),
            addressee=Web3.to_checksum_address(to),
            package_root=package_root,
            deadline=deadline,
            outcome=Outcome(outcome),
            outcome_hash=outcome_hash,
            dispatched_block=dispatched,
            closed_block=closed,
        )


def _abi_type(output: dict[str, Any]) -> str:
    """ABI type string, tuples spelled out (eth_abi wants "(t1,t2)" not "tuple")."""
    kind: str = output["type"]
    if kind.startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in output["components"])
        return f"({inner}){kind[len('tuple') :]}"
    return kind


def account_address(private_key: bytes) -> ChecksumAddress:
    """The account address of a secp256k1 private key."""
    return ChecksumAddress(Account.from_key(private_key).address)
