"""Recover revert data from whatever a provider raised and decode it into typed errors.

Providers disagree on the shape: JSON-RPC nodes (anvil, Besu) come back through
web3 as ContractLogicError with ``.data`` hex, eth-tester raises its own
TransactionFailed whose message embeds the Python ``repr`` of the revert bytes.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address
from web3.exceptions import ContractLogicError, Web3RPCError

from notary.chain.errors import ContractError, ContractPanic, TransactionReverted
from notary.chain.models import CustodyState, MemberStatus, Outcome, Role

ERROR_STRING_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)
_ENUMS: dict[str, type[Any]] = {
    "enum ArchiveNotary.Role": Role,
    "enum ArchiveNotary.Status": MemberStatus,
    "enum ArchiveNotary.CustodyState": CustodyState,
    "enum ArchiveNotary.Outcome": Outcome,
}
_BYTES_REPR = re.compile(r"""(b'.*'|b".*")\s*$""", re.DOTALL)


def _hex_to_bytes(value: object) -> bytes | None:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str) and value.startswith("0x"):
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            return None
    return None


def revert_data(exc: BaseException) -> bytes | None:
    """The raw revert bytes carried by `exc`, or None if it is not a revert we can read."""
    if isinstance(exc, ContractLogicError):
        return _hex_to_bytes(exc.data) or b""
    if isinstance(exc, Web3RPCError) and isinstance(exc.rpc_response, Mapping):
        error = exc.rpc_response.get("error")
        if isinstance(error, Mapping):
            return _hex_to_bytes(error.get("data"))
        return None
    carried = getattr(exc, "data", None)
    if isinstance(carried, bytes):  # in-process backends that keep the raw revert data
        return carried
    if isinstance(exc, _transaction_failed()):
        message = str(exc.args[0]) if exc.args else ""
        match = _BYTES_REPR.search(message)
        if match:
            literal = ast.literal_eval(match.group(1))
            if isinstance(literal, bytes):
                return literal
        return ERROR_STRING_SELECTOR + _encode_string(message.removeprefix("execution reverted: "))
    return None


def _transaction_failed() -> tuple[type[BaseException], ...]:
    try:
        from eth_tester.exceptions import TransactionFailed
    except ImportError:  # eth-tester is only needed for in-process chains
        return ()
    return (TransactionFailed,)


def _encode_string(text: str) -> bytes:
    from eth_abi import encode as abi_encode

    return abi_encode(["string"], [text])


class ErrorDecoder:
    """Selector → custom error class and argument layout, built from the contract ABI."""

    def __init__(self, abi: Sequence[Mapping[str, Any]]) -> None:
        self._errors: dict[bytes, tuple[type[ContractError], list[Mapping[str, Any]]]] = {}
        for item in abi:
            if item.get("type") != "error":
                continue
            inputs = list(item.get("inputs", []))
            signature = f"{item['name']}({','.join(i['type'] for i in inputs)})"
            cls = ContractError.by_name.get(item["name"])
            if cls is None:
                raise TypeError(f"no exception class for contract error {signature}")
            self._errors[keccak(text=signature)[:4]] = (cls, inputs)

    @property
    def names(self) -> set[str]:
        return {cls.__name__ for cls, _ in self._errors.values()}

    def decode(
        self, data: bytes, *, action: str, tx_hash: str | None = None
    ) -> TransactionReverted:
        selector, payload = data[:4], data[4:]
        if selector in self._errors:
            cls, inputs = self._errors[selector]
            raw = abi_decode([i["type"] for i in inputs], payload)
            values = {i["name"]: _typed_value(i, v) for i, v in zip(inputs, raw, strict=True)}
            return cls(values, action=action, data=data, tx_hash=tx_hash)
        if selector == ERROR_STRING_SELECTOR:
            (reason,) = abi_decode(["string"], payload)
            return TransactionReverted(f"{action} reverted: {reason}", data=data, tx_hash=tx_hash)
        if selector == PANIC_SELECTOR:
            (code,) = abi_decode(["uint256"], payload)
            message = f"{action} panicked: code 0x{code:02x}"
            return ContractPanic(message, data=data, tx_hash=tx_hash)
        shown = "0x" + data.hex() if data else "no data"
        return TransactionReverted(f"{action} reverted ({shown})", data=data, tx_hash=tx_hash)


def _typed_value(spec: Mapping[str, Any], value: Any) -> Any:
    """Enums as their Python IntEnum, addresses checksummed, as the rest of the API returns."""
    enum = _ENUMS.get(spec.get("internalType", ""))
    if enum is not None:
        return enum(value)
    if spec["type"] == "address":
        return to_checksum_address(value)
    return value
