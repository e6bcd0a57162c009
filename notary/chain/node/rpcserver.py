"""JSON-RPC endpoints over an :class:`EmbeddedChain` (JSON-RPC 2.0, Ethereum's
execution API encoding).

Third parties verify evidence receipts with nothing but "read access to the
chain's JSON-RPC" (design.md §3). For the embedded default that access is
:class:`ReadOnlyRpcServer`: it answers the read methods a verifier and ``web3.py``
need, encoded as a node encodes them (hex quantities, camelCase fields, ``null`` for
unknown hashes, revert data in ``error.data``), and refuses every method that could
change the chain. The only writers are the owning process, through its own ``Web3``,
and the worker processes of the same deployment (``notary serve --workers N``)
through :class:`ChainWriterRpcServer`, which also takes signed transactions and
answers only requests carrying the deployment's per-start token.

Both bind 127.0.0.1 only: wider exposure goes through a reverse proxy that the
deployment controls (TLS, access control), never straight to this socket.

Not served on purpose: ``eth_getLogs`` and filters (eth-tester's log queries
grow with the square of the chain length; lookups go through view calls).
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import PackageNotFoundError, version
from types import TracebackType
from typing import Any, Self

from eth_bloom import BloomFilter
from eth_tester.exceptions import BlockNotFound, TransactionFailed, TransactionNotFound
from eth_tester.exceptions import ValidationError as TesterValidationError
from eth_utils import is_address, to_checksum_address
from eth_utils.exceptions import ValidationError as EthValidationError

from notary._internal.jsondepth import too_deep
from notary._internal.ratelimit import RateLimiter
from notary.chain.node.callview import CallTimeout, CallView, deadline
from notary.chain.node.embedded import EmbeddedChain, RevertError

__all__ = [
    "MAX_BODY_BYTES",
    "READ_METHODS",
    "ChainWriterRpc",
    "ChainWriterRpcServer",
    "ReadOnlyRpc",
    "ReadOnlyRpcServer",
    "RpcError",
]

_log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
MAX_BODY_BYTES = 1 << 20
#: Requests in one batch; a longer batch is refused whole (geth's default is 1,000).
MAX_BATCH = 100
#: Gas one ``eth_call``/``eth_estimateGas`` may use: a larger (or absent) ``gas`` is
#: capped to it, as geth caps to ``--rpc.gascap``. The block gas limit.
CALL_GAS_CAP = 30_000_000
#: Gas all the calls of one HTTP request may use together.
REQUEST_GAS_BUDGET = 60_000_000
#: Wall time the calls of one HTTP request may run together, in seconds.
CALL_TIME_S = 5.0
#: Calls run at once (the rest wait for a slot until their request's deadline): callers'
#: code shares the interpreter with the API of the same process.
CALLS_AT_ONCE = 1
#: Seconds a connection may sit idle or dribble its request before it is closed.
SOCKET_TIMEOUT_S = 10.0
#: Connections served at once; more are closed on arrival.
MAX_CONNECTIONS = 32

# JSON-RPC 2.0 and EIP-1474 error codes.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_ERROR = -32000
EXECUTION_REVERTED = 3  # geth/anvil/Besu: eth_call revert, data = revert bytes

_BLOCK_TAGS = frozenset({"latest", "earliest", "pending", "safe", "finalized"})
_HASH = re.compile(r"0x[0-9a-fA-F]{64}")
_QUANTITY = re.compile(r"0x(0|[1-9a-fA-F][0-9a-fA-F]*)")
_DATA = re.compile(r"0x([0-9a-fA-F]{2})*")
_CONTENT_LENGTH = re.compile(r"[0-9]{1,10}")
# py-evm's refusal of a transaction whose nonce is not the sender's next one.
_NONCE_MISMATCH = re.compile(r"nonce.*?expected (?P<expected>\d+).*?got (?P<got>\d+)", re.I | re.S)
ZERO_ADDRESS = "0x" + "00" * 20
# Prefixes of methods that change state or node configuration: named in the
# refusal so that a caller sees "read-only", not "unknown method".
_WRITE_PREFIXES = (
    "eth_send",
    "eth_sign",
    "eth_submit",
    "eth_newFilter",
    "eth_newBlockFilter",
    "eth_newPendingTransactionFilter",
    "eth_uninstallFilter",
    "personal_",
    "evm_",
    "testing_",
    "miner_",
    "admin_",
    "debug_",
    "anvil_",
    "hardhat_",
    "txpool_",
)


class RpcError(Exception):
    """A JSON-RPC error object, raised by a handler and sent as ``error``."""

    def __init__(self, code: int, message: str, data: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


# -- outbound encoding (eth-tester values -> node JSON) ------------------------


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _encode(value: Any) -> Any:
    """eth-tester's Python values as a node writes them: ints as hex quantities."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return [_encode(item) for item in value]
    if isinstance(value, Mapping):
        return {_camel(str(k)): _encode(v) for k, v in value.items()}
    raise TypeError(f"cannot encode {type(value).__name__} as JSON-RPC")


def _bloom_hex(bloom: int) -> str:
    return "0x" + bloom.to_bytes(256, "big").hex()


def _format_transaction(tx: Mapping[str, Any]) -> dict[str, Any]:
    # eth-tester names the calldata ``data``; nodes name it ``input``. A
    # creation has ``to: null``, not "".
    renamed = {("input" if k == "data" else k): v for k, v in tx.items()}
    renamed["to"] = tx.get("to") or None
    return dict(_encode(renamed))


def _format_block(block: Mapping[str, Any]) -> dict[str, Any]:
    fields = dict(block)
    transactions = fields.pop("transactions", [])
    fields["miner"] = fields.pop("coinbase")
    bloom = fields.pop("logs_bloom")
    encoded = dict(_encode(fields))
    encoded["logsBloom"] = _bloom_hex(int(bloom))
    encoded["transactions"] = [
        tx if isinstance(tx, str) else _format_transaction(tx) for tx in transactions
    ]
    return encoded


def _format_log(log: Mapping[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in log.items() if k != "type"}  # eth-tester's "mined" marker
    encoded = dict(_encode(fields))
    encoded["removed"] = False
    return encoded


def _format_receipt(receipt: Mapping[str, Any]) -> dict[str, Any]:
    # Post-Byzantium receipts carry ``status``, not eth-tester's placeholder
    # ``state_root``; a creation has ``to: null``, not "".
    fields = {k: v for k, v in receipt.items() if k not in ("state_root", "logs")}
    fields["to"] = receipt.get("to") or None
    encoded = dict(_encode(fields))
    logs = list(receipt.get("logs", ()))
    encoded["logs"] = [_format_log(log) for log in logs]
    bloom = BloomFilter()
    for log in logs:
        bloom.add(bytes.fromhex(log["address"][2:]))
        for topic in log["topics"]:
            bloom.add(bytes.fromhex(topic[2:]))
    encoded["logsBloom"] = _bloom_hex(int(bloom))
    return encoded


# -- inbound parameters (node JSON -> eth-tester values) -----------------------


def _param(params: list[Any], index: int, default: Any = ...) -> Any:
    if index < len(params):
        return params[index]
    if default is ...:
        raise RpcError(INVALID_PARAMS, f"missing value for required argument {index}")
    return default


def _quantity(value: Any, what: str) -> int:
    if isinstance(value, str) and _QUANTITY.fullmatch(value):
        return int(value, 16)
    raise RpcError(INVALID_PARAMS, f"invalid {what}: expected a hex quantity, got {value!r}")


def _address(value: Any) -> str:
    if isinstance(value, str) and is_address(value):
        return str(to_checksum_address(value))
    raise RpcError(INVALID_PARAMS, f"invalid address: {value!r}")


def _hash(value: Any) -> str:
    if isinstance(value, str) and _HASH.fullmatch(value):
        return value.lower()
    raise RpcError(INVALID_PARAMS, f"invalid hash: {value!r}")


def _data(value: Any, what: str) -> str:
    if isinstance(value, str) and _DATA.fullmatch(value):
        return value.lower()
    raise RpcError(INVALID_PARAMS, f"invalid {what}: expected 0x-prefixed hex bytes")


_CALL_QUANTITIES = {
    "gas": "gas",
    "gasPrice": "gas_price",
    "maxFeePerGas": "max_fee_per_gas",
    "maxPriorityFeePerGas": "max_priority_fee_per_gas",
    "value": "value",
    "nonce": "nonce",
}


def _call_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise RpcError(INVALID_PARAMS, "invalid call object: expected a JSON object")
    call: dict[str, Any] = {}
    if value.get("from") is not None:
        call["from"] = _address(value["from"])
    if value.get("to") is not None:
        call["to"] = _address(value["to"])
    for rpc_key, tester_key in _CALL_QUANTITIES.items():
        if value.get(rpc_key) is not None:
            call[tester_key] = _quantity(value[rpc_key], rpc_key)
    payload = value.get("input", value.get("data"))
    if payload is not None:
        call["data"] = _data(payload, "input")
    return call


class _Budget:
    """What the calls of one HTTP request may still use: wall time and gas."""

    def __init__(self, time_s: float, gas: int) -> None:
        self.deadline = time.monotonic() + time_s
        self.time_s = time_s
        self.gas = gas

    def remaining_s(self) -> float:
        return self.deadline - time.monotonic()


class ReadOnlyRpc:
    """JSON-RPC dispatch over one chain, independent of any transport.

    Callers' code (``eth_call``) runs on a :class:`CallView` of the chain, never under
    the chain's lock, capped at ``gas_cap`` gas per call and, per HTTP body (one request
    or one batch of at most :data:`MAX_BATCH`), ``gas_budget`` gas and ``time_s``
    seconds; ``calls_at_once`` calls run at a time."""

    def __init__(
        self,
        chain: EmbeddedChain,
        *,
        time_s: float = CALL_TIME_S,
        gas_cap: int = CALL_GAS_CAP,
        gas_budget: int = REQUEST_GAS_BUDGET,
        calls_at_once: int = CALLS_AT_ONCE,
    ) -> None:
        self._chain = chain
        self._time_s = time_s
        self._gas_cap = gas_cap
        self._gas_budget = gas_budget
        self._slots = threading.BoundedSemaphore(calls_at_once)
        self._local = threading.local()
        self._handlers: dict[str, Callable[[list[Any]], Any]] = {
            "web3_clientVersion": lambda _: _client_version(),
            "net_version": lambda _: str(self._chain.chain_id),
            "net_listening": lambda _: True,
            "eth_chainId": lambda _: hex(self._chain.chain_id),
            "eth_syncing": lambda _: False,
            "eth_blockNumber": lambda _: hex(self._chain.head_number()),
            "eth_getBlockByNumber": self._get_block_by_number,
            "eth_getBlockByHash": self._get_block_by_hash,
            "eth_getTransactionByHash": self._get_transaction_by_hash,
            "eth_getTransactionReceipt": self._get_transaction_receipt,
            "eth_getBalance": self._get_balance,
            "eth_getTransactionCount": self._get_transaction_count,
            "eth_getCode": self._get_code,
            "eth_getStorageAt": self._get_storage_at,
            "eth_call": self._call,
        }

    @property
    def methods(self) -> frozenset[str]:
        return frozenset(self._handlers)

    # -- transport-facing ------------------------------------------------------
    def handle_body(self, body: bytes) -> bytes | None:
        """One HTTP body in, one HTTP body out (None: only notifications)."""
        try:
            if too_deep(body):  # json.loads would overflow the C stack (jsondepth.py)
                raise ValueError("nested too deeply")
            request = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return _dump(_error_response(None, RpcError(PARSE_ERROR, "parse error")))
        self._local.budget = _Budget(self._time_s, self._gas_budget)
        try:
            if isinstance(request, list):
                if not request:
                    return _dump(_error_response(None, RpcError(INVALID_REQUEST, "empty batch")))
                if len(request) > MAX_BATCH:
                    error = RpcError(INVALID_REQUEST, f"batch too large: at most {MAX_BATCH}")
                    return _dump(_error_response(None, error))
                responses = [r for r in (self.handle(item) for item in request) if r is not None]
                return _dump(responses) if responses else None
            response = self.handle(request)
            return None if response is None else _dump(response)
        finally:
            self._local.budget = None

    def handle(self, request: Any) -> dict[str, Any] | None:
        """One request object in, one response object out (None for a notification)."""
        if not isinstance(request, Mapping) or not isinstance(request.get("method"), str):
            return _error_response(None, RpcError(INVALID_REQUEST, "invalid request"))
        request_id = request.get("id")
        is_notification = "id" not in request
        params = request.get("params", [])
        try:
            if not isinstance(params, list):
                raise RpcError(INVALID_PARAMS, "params must be an array")
            result = self._dispatch(request["method"], params)
        except RpcError as exc:
            response = _error_response(request_id, exc)
        except Exception as exc:
            _log.exception("JSON-RPC %s failed", request["method"])
            response = _error_response(
                request_id, RpcError(INTERNAL_ERROR, f"internal error: {exc}")
            )
        else:
            response = {"jsonrpc": "2.0", "id": request_id, "result": result}
        return None if is_notification else response

    def _dispatch(self, method: str, params: list[Any]) -> Any:
        handler = self._handlers.get(method)
        if handler is None:
            if method.startswith(_WRITE_PREFIXES):
                raise RpcError(
                    METHOD_NOT_FOUND,
                    f"{method} is not available: this endpoint is read-only",
                )
            raise RpcError(METHOD_NOT_FOUND, f"the method {method} does not exist/is not available")
        try:
            if method == "eth_call":  # callers' code: outside the lock, bounded
                return handler(params)
            with self._chain.lock:
                return handler(params)
        except (TesterValidationError, EthValidationError, ValueError) as exc:
            raise RpcError(INVALID_PARAMS, str(exc)) from exc

    # -- block identifiers ------------------------------------------------------
    def _block_id(self, value: Any) -> int | str:
        if value is None:
            return "latest"
        if isinstance(value, str):
            return value if value in _BLOCK_TAGS else _quantity(value, "block number")
        if isinstance(value, Mapping):  # EIP-1898
            if "blockNumber" in value:
                return self._block_id(value["blockNumber"])
            if "blockHash" in value:
                try:
                    block = self._chain.tester.get_block_by_hash(_hash(value["blockHash"]))
                except BlockNotFound:
                    raise RpcError(SERVER_ERROR, "header not found") from None
                return int(block["number"])
        raise RpcError(INVALID_PARAMS, f"invalid block identifier: {value!r}")

    def _at_block(self, params: list[Any], index: int) -> int | str:
        block = self._block_id(_param(params, index, "latest"))
        if isinstance(block, int) and block > self._chain.head_number():
            raise RpcError(SERVER_ERROR, "header not found")
        return block

    # -- handlers -------------------------------------------------------------
    def _get_block_by_number(self, params: list[Any]) -> Any:
        block_id = self._block_id(_param(params, 0))
        full = bool(_param(params, 1, False))
        try:
            return _format_block(self._chain.tester.get_block_by_number(block_id, full))
        except BlockNotFound:
            return None

    def _get_block_by_hash(self, params: list[Any]) -> Any:
        block_hash = _hash(_param(params, 0))
        full = bool(_param(params, 1, False))
        try:
            return _format_block(self._chain.tester.get_block_by_hash(block_hash, full))
        except BlockNotFound:
            return None

    def _get_transaction_by_hash(self, params: list[Any]) -> Any:
        try:
            tx = self._chain.tester.get_transaction_by_hash(_hash(_param(params, 0)))
        except TransactionNotFound:
            return None
        return _format_transaction(tx)

    def _get_transaction_receipt(self, params: list[Any]) -> Any:
        try:
            receipt = self._chain.tester.get_transaction_receipt(_hash(_param(params, 0)))
        except TransactionNotFound:
            return None
        if receipt.get("block_number") is None:
            return None  # pending: a node has no receipt yet
        return _format_receipt(receipt)

    def _get_balance(self, params: list[Any]) -> Any:
        address = _address(_param(params, 0))
        return hex(self._chain.tester.get_balance(address, self._at_block(params, 1)))

    def _get_transaction_count(self, params: list[Any]) -> Any:
        address = _address(_param(params, 0))
        return hex(self._chain.tester.get_nonce(address, self._at_block(params, 1)))

    def _get_code(self, params: list[Any]) -> Any:
        address = _address(_param(params, 0))
        return self._chain.tester.get_code(address, self._at_block(params, 1))

    def _get_storage_at(self, params: list[Any]) -> Any:
        address = _address(_param(params, 0))
        slot = _quantity(_param(params, 1), "storage slot")
        value = self._chain.tester.get_storage_at(address, hex(slot), self._at_block(params, 2))
        return "0x" + int(value, 16).to_bytes(32, "big").hex()

    def _budget(self) -> _Budget:
        budget: _Budget | None = getattr(self._local, "budget", None)
        # A request handled without handle_body (in-process callers) gets its own.
        return budget if budget is not None else _Budget(self._time_s, self._gas_budget)

    def _capped(self, call: dict[str, Any], gas_left: int) -> dict[str, Any]:
        gas = min(int(call.get("gas", self._gas_cap)), self._gas_cap, gas_left)
        return {**call, "gas": gas}

    def _call(self, params: list[Any]) -> Any:
        budget = self._budget()
        call = _call_object(_param(params, 0))
        with self._chain.lock:  # resolving the block reads the live chain
            block = self._at_block(params, 1)
        if budget.gas <= 0:
            raise RpcError(SERVER_ERROR, f"gas budget of this request ({self._gas_budget}) spent")
        if not self._slots.acquire(timeout=max(budget.remaining_s(), 0)):
            raise RpcError(SERVER_ERROR, "server busy: try again later")
        try:
            with CallView.of(self._chain) as view, deadline(budget.deadline):
                try:
                    return view.tester.call(self._capped(call, budget.gas), block)
                except RevertError as exc:
                    raise _reverted(exc) from exc
                except TransactionFailed as exc:  # out of gas, invalid opcode, …
                    raise RpcError(SERVER_ERROR, str(exc)) from None
                except CallTimeout:
                    message = f"execution aborted (timeout = {budget.time_s:g}s)"
                    raise RpcError(SERVER_ERROR, message) from None
                finally:
                    budget.gas -= max(view.last_gas_used, 1)
        finally:
            self._slots.release()


def _reverted(exc: RevertError) -> RpcError:
    # geth's shape: code 3, "execution reverted[: reason]", data = raw bytes.
    reason = "execution reverted"
    if exc.data[:4] == bytes.fromhex("08c379a0"):
        reason = f"execution reverted: {exc.args[0]}"
    return RpcError(EXECUTION_REVERTED, reason, "0x" + exc.data.hex())


class ChainWriterRpc(ReadOnlyRpc):
    """:class:`ReadOnlyRpc` plus what a signing client needs (gas estimate, fees, raw
    transactions), for the extra worker processes of one deployment (``notary serve
    --workers``), which cannot open the embedded chain themselves (one writer per
    directory). Transactions still arrive signed by their senders' keys; the server
    only adds them to the chain, as a node would."""

    def __init__(self, chain: EmbeddedChain) -> None:
        super().__init__(chain)
        self._handlers.update(
            {
                "eth_estimateGas": self._estimate_gas,
                "eth_gasPrice": lambda _: hex(self._chain.w3.eth.gas_price),
                "eth_maxPriorityFeePerGas": lambda _: hex(self._chain.w3.eth.max_priority_fee),
                "eth_sendRawTransaction": self._send_raw_transaction,
            }
        )

    def _estimate_gas(self, params: list[Any]) -> Any:
        call = self._capped(_call_object(_param(params, 0)), self._gas_cap)
        block = self._at_block(params, 1)
        try:
            return hex(self._chain.tester.estimate_gas(call, block))
        except Exception as exc:
            # The estimate loses the revert data; the same call keeps it, as a node's
            # estimate reports it.
            try:
                self._chain.tester.call({"from": ZERO_ADDRESS, **call}, block)
            except RevertError as reverted:
                raise _reverted(reverted) from exc
            raise RpcError(SERVER_ERROR, f"gas estimation failed: {exc}") from exc

    def _send_raw_transaction(self, params: list[Any]) -> Any:
        raw = _data(_param(params, 0), "signed transaction")
        try:
            return self._chain.tester.send_raw_transaction(raw)
        except RevertError as exc:
            raise _reverted(exc) from exc
        except (TesterValidationError, EthValidationError) as exc:
            # Worded as nodes word it, which is what a sender that lost a nonce race
            # to another process matches on (notary.chain.tx) to read the count again.
            message = str(exc)
            nonce = _NONCE_MISMATCH.search(message)
            if nonce is not None:
                expected, got = int(nonce["expected"]), int(nonce["got"])
                message = f"nonce too {'low' if got < expected else 'high'}: {message}"
            raise RpcError(SERVER_ERROR, message) from exc


def _client_version() -> str:
    try:
        pyevm = version("py-evm")
    except PackageNotFoundError:  # pragma: no cover - py-evm is a hard dependency
        pyevm = "unknown"
    return f"ArchiveNotary-embedded/py-evm-{pyevm}"


def _error_response(request_id: Any, error: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": error.to_json()}


def _dump(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer
    protocol_version = "HTTP/1.1"  # keep-alive: web3's session reuses connections
    # Headers and body go out in separate writes; with Nagle on, each answer
    # waits for the client's delayed ACK (~40 ms).
    disable_nagle_algorithm = True
    # A silent or dribbling client loses its connection (and its thread) after this.
    timeout = SOCKET_TIMEOUT_S

    def do_POST(self) -> None:
        token = self.server.token
        if token is not None and not hmac.compare_digest(
            self.headers.get("Authorization", "").encode(), b"Bearer " + token.encode()
        ):
            self._reply(HTTPStatus.UNAUTHORIZED, b"")
            return
        length = self._content_length()
        if length is None:
            return
        body = self.rfile.read(length)
        if len(body) < length:  # the client went away mid-body
            self.close_connection = True
            return
        limiter = self.server.limiter
        if limiter is not None:
            # After the (≤ 1 MiB) body is read, so the connection stays usable and the
            # client reads its 429 rather than a reset; before any of the work.
            wait = limiter.take(self.client_address[0])
            if wait:
                self._reply(HTTPStatus.TOO_MANY_REQUESTS, b"", {"Retry-After": str(wait)})
                return
        response = self.server.rpc.handle_body(body)
        self._reply(HTTPStatus.OK, response or b"")

    def _content_length(self) -> int | None:
        """The body's declared length, or None after refusing the request: a body must
        be declared with one plain decimal ``Content-Length`` of at most
        :data:`MAX_BODY_BYTES` (no chunked bodies, no signs, no lists)."""
        if self.headers.get("Transfer-Encoding") is not None:
            self._refuse(HTTPStatus.LENGTH_REQUIRED)
            return None
        values = self.headers.get_all("Content-Length") or []
        if len(values) != 1:
            self._refuse(HTTPStatus.LENGTH_REQUIRED)
            return None
        if not _CONTENT_LENGTH.fullmatch(values[0]):
            self._refuse(HTTPStatus.BAD_REQUEST)
            return None
        length = int(values[0])
        if length > MAX_BODY_BYTES:
            self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            return None
        return length

    def _refuse(self, status: HTTPStatus) -> None:
        # The body (if any) is not read: the connection cannot carry another request.
        self.close_connection = True
        self._reply(status, b"")

    def do_GET(self) -> None:
        self._reply(HTTPStatus.METHOD_NOT_ALLOWED, b"")

    def _reply(
        self, status: HTTPStatus, body: bytes, headers: Mapping[str, str] | None = None
    ) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("%s " + format, self.address_string(), *args)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 resets connections when a few clients
    # connect at once (a service's workers, parallel tests); MAX_CONNECTIONS bounds
    # the threads, not the queue.
    request_queue_size = 64

    def __init__(
        self,
        port: int,
        rpc: ReadOnlyRpc,
        token: str | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        super().__init__((LOOPBACK, port), _Handler)
        self.rpc = rpc
        self.token = token
        # Per-client requests (the read-only endpoint): 429 with Retry-After past it.
        self.limiter = limiter
        self._connections = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request: Any, client_address: Any) -> None:
        # One thread per connection, at most MAX_CONNECTIONS of them: beyond, the
        # connection is closed at once instead of a thread more being started.
        if not self._connections.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._connections.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._connections.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out or reset the connection is not a server error.
        _log.debug("JSON-RPC connection from %s ended with an error", client_address, exc_info=True)


class ReadOnlyRpcServer:
    """``http://127.0.0.1:<port>/`` serving :class:`ReadOnlyRpc` from a background thread."""

    def __init__(
        self,
        chain: EmbeddedChain,
        port: int = 0,
        *,
        time_s: float = CALL_TIME_S,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._time_s = time_s
        self._limiter = limiter
        self._http = self._server(chain, port)
        self._thread: threading.Thread | None = None

    def _server(self, chain: EmbeddedChain, port: int) -> _HttpServer:
        rpc = ReadOnlyRpc(chain, time_s=self._time_s)
        return _HttpServer(port, rpc, limiter=self._limiter)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._http.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}/"

    def start(self) -> Self:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._http.serve_forever,
                kwargs={"poll_interval": 0.05},  # how long stop() may wait
                name="notary-rpc",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._http.shutdown()
            self._thread.join()
            self._thread = None
        self._http.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


READ_METHODS = frozenset(
    {
        "web3_clientVersion",
        "net_version",
        "net_listening",
        "eth_chainId",
        "eth_syncing",
        "eth_blockNumber",
        "eth_getBlockByNumber",
        "eth_getBlockByHash",
        "eth_getTransactionByHash",
        "eth_getTransactionReceipt",
        "eth_getBalance",
        "eth_getTransactionCount",
        "eth_getCode",
        "eth_getStorageAt",
        "eth_call",
    }
)


class ChainWriterRpcServer(ReadOnlyRpcServer):
    """:class:`ChainWriterRpc` on ``http://127.0.0.1:<port>/``, answering only requests
    that carry ``Authorization: Bearer <token>`` (401 otherwise): the deployment's own
    worker processes, never third parties (they get the read-only endpoint)."""

    def __init__(self, chain: EmbeddedChain, token: str, port: int = 0) -> None:
        if not token:
            raise ValueError("a chain writer endpoint needs a token")
        self._token = token
        super().__init__(chain, port)

    def _server(self, chain: EmbeddedChain, port: int) -> _HttpServer:
        return _HttpServer(port, ChainWriterRpc(chain), self._token)
