"""The read-only JSON-RPC endpoint answers like a node and refuses every write."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3
from web3.exceptions import BlockNotFound, ContractCustomError, TransactionNotFound

from notary.chain.node.embedded import EmbeddedChain
from notary.chain.node.rpcserver import READ_METHODS, ReadOnlyRpc, ReadOnlyRpcServer
from tests._support.chain_accounts import TEST_CHAIN_ID, Sender
from tests.notary.chain.node._contract import INIT, REVERT_DATA, RUNTIME, word


@pytest.fixture
def populated(chain: EmbeddedChain, sender: Sender) -> dict[str, Any]:
    """A deploy, a storing call with a log, and a value transfer."""
    deploy = sender.send(data=INIT)
    contract = chain.w3.eth.get_transaction_receipt(deploy)["contractAddress"]
    store = sender.send(to=contract, data=word(42))
    transfer = sender.send(to=sender.account.address, value=5, gas=21_000)
    return {"contract": contract, "hashes": [deploy, store, transfer]}


@pytest.fixture
def server(chain: EmbeddedChain) -> Iterator[ReadOnlyRpcServer]:
    with ReadOnlyRpcServer(chain) as running:
        yield running


@pytest.fixture
def remote(server: ReadOnlyRpcServer) -> Web3:
    """A plain web3 over HTTP: it knows nothing of eth-tester."""
    return Web3(HTTPProvider(server.url))


def _post(url: str, payload: Any) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
    return json.loads(body) if body else None


def test_binds_loopback_only(server: ReadOnlyRpcServer) -> None:
    host, port = server.address
    assert host == "127.0.0.1"
    others = {
        info[4][0]
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
        if info[4][0] != "127.0.0.1"
    }
    for address in others:
        with pytest.raises(OSError), socket.create_connection((address, port), timeout=2):
            pass


def test_identity_methods(remote: Web3) -> None:
    assert remote.eth.chain_id == TEST_CHAIN_ID
    assert remote.net.version == str(TEST_CHAIN_ID)
    assert remote.client_version.startswith("ArchiveNotary-embedded/py-evm-")
    assert remote.is_connected()


def test_reads_match_the_in_process_chain(
    chain: EmbeddedChain, remote: Web3, populated: dict[str, Any], account: LocalAccount
) -> None:
    local = chain.w3
    assert remote.eth.block_number == local.eth.block_number == 3
    for number in range(4):
        over_http = remote.eth.get_block(number, full_transactions=True)
        assert over_http["hash"] == local.eth.get_block(number)["hash"]
        assert remote.eth.get_block(over_http["hash"]) == remote.eth.get_block(number)
    for tx_hash in populated["hashes"]:
        receipt = remote.eth.get_transaction_receipt(tx_hash)
        in_process = local.eth.get_transaction_receipt(tx_hash)
        for field in ("blockHash", "blockNumber", "gasUsed", "status", "contractAddress", "from"):
            assert receipt[field] == in_process[field], field
        tx = remote.eth.get_transaction(tx_hash)
        assert tx["hash"] == tx_hash and tx["blockNumber"] == receipt["blockNumber"]
    contract = populated["contract"]
    assert remote.eth.get_code(contract) == RUNTIME
    assert remote.eth.get_balance(account.address) == local.eth.get_balance(account.address)
    assert remote.eth.get_transaction_count(account.address) == 3
    assert remote.eth.get_storage_at(contract, 0) == word(42)
    assert remote.eth.call({"to": contract}) == word(42)
    # Historical state by block number.
    assert remote.eth.call({"to": contract}, block_identifier=1) == word(0)


def test_encoding_is_a_nodes(server: ReadOnlyRpcServer, populated: dict[str, Any]) -> None:
    deploy, store, _ = (h.to_0x_hex() for h in populated["hashes"])
    assert _post(server.url, {"jsonrpc": "2.0", "id": 7, "method": "eth_blockNumber"}) == {
        "jsonrpc": "2.0",
        "id": 7,
        "result": "0x3",
    }
    receipt = _post(
        server.url,
        {"jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionReceipt", "params": [store]},
    )["result"]
    assert receipt["status"] == "0x1" and receipt["type"] == "0x2"
    assert receipt["logs"][0]["removed"] is False
    assert len(receipt["logsBloom"]) == 2 + 512
    block = _post(
        server.url,
        {"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber", "params": ["0x2", True]},
    )["result"]
    assert block["logsBloom"] == receipt["logsBloom"]  # one transaction per block
    assert block["number"] == "0x2" and block["gasLimit"].startswith("0x")
    assert block["transactions"][0]["input"] == "0x" + word(42).hex()
    creation = _post(
        server.url,
        {"jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionByHash", "params": [deploy]},
    )["result"]
    assert creation["to"] is None
    assert creation["chainId"] == hex(TEST_CHAIN_ID)


def test_unknown_things_are_null(remote: Web3) -> None:
    with pytest.raises(TransactionNotFound):
        remote.eth.get_transaction_receipt("0x" + "00" * 32)
    with pytest.raises(TransactionNotFound):
        remote.eth.get_transaction("0x" + "00" * 32)
    with pytest.raises(BlockNotFound):
        remote.eth.get_block(99)
    with pytest.raises(BlockNotFound):
        remote.eth.get_block("0x" + "11" * 32)


def test_revert_data_reaches_the_caller(remote: Web3, populated: dict[str, Any]) -> None:
    with pytest.raises(ContractCustomError) as raised:
        remote.eth.call({"to": populated["contract"], "data": word(0)})
    assert raised.value.data == "0x" + REVERT_DATA.hex()


@pytest.mark.parametrize(
    "method",
    [
        "eth_sendRawTransaction",
        "eth_sendTransaction",
        "eth_sign",
        "eth_signTransaction",
        "personal_sendTransaction",
        "evm_mine",
        "evm_revert",
        "testing_timeTravel",
        "anvil_setBalance",
        "eth_newFilter",
        "eth_getLogs",
        "debug_traceTransaction",
    ],
)
def test_write_and_unserved_methods_are_refused(
    chain: EmbeddedChain, server: ReadOnlyRpcServer, method: str
) -> None:
    head = chain.head_number()
    response = _post(server.url, {"jsonrpc": "2.0", "id": 1, "method": method, "params": ["0x01"]})
    assert "result" not in response
    assert response["error"]["code"] == -32601
    assert chain.head_number() == head


def test_write_refusal_says_read_only(remote: Web3) -> None:
    with pytest.raises(Exception, match="read-only"):
        remote.eth.send_raw_transaction(b"\x02" + b"\x00" * 10)


def test_only_read_methods_are_served(chain: EmbeddedChain) -> None:
    assert ReadOnlyRpc(chain).methods == READ_METHODS


def test_protocol_errors(server: ReadOnlyRpcServer) -> None:
    request = urllib.request.Request(server.url, data=b"{not json", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.loads(response.read())["error"]["code"] == -32700
    assert _post(server.url, {"jsonrpc": "2.0", "id": 1})["error"]["code"] == -32600
    bad_params = _post(
        server.url,
        {"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": ["0x1234", "latest"]},
    )
    assert bad_params["error"]["code"] == -32602
    # Notifications get no answer; batches get one answer per request.
    assert _post(server.url, {"jsonrpc": "2.0", "method": "eth_chainId"}) is None
    batch = _post(
        server.url,
        [
            {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"},
            {"jsonrpc": "2.0", "id": 2, "method": "net_version"},
        ],
    )
    assert [item["id"] for item in batch] == [1, 2]
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(server.url, timeout=10)
    assert raised.value.code == 405


def test_serves_concurrent_readers_while_the_owner_writes(
    chain: EmbeddedChain, server: ReadOnlyRpcServer, sender: Sender
) -> None:
    import threading

    errors: list[BaseException] = []

    def read() -> None:
        remote = Web3(HTTPProvider(server.url))
        try:
            for _ in range(30):
                number = remote.eth.block_number
                assert remote.eth.get_block(number)["number"] == number
        except BaseException as exc:  # reported below, in the test thread
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for thread in readers:
        thread.start()
    for _ in range(20):
        sender.send(to=sender.account.address, gas=21_000)
    for thread in readers:
        thread.join()
    assert errors == []
    assert chain.head_number() == 20
