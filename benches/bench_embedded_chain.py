"""Benchmark of the durable embedded chain (notary.chain.node.embedded).

Measures, in one run on one machine:

* throughput (tx/s) of locally signed raw EIP-1559 transactions, each sent and
  its receipt read back as a client does, on the durable chain (sqlite
  ``synchronous=FULL`` and ``NORMAL``) and on stock in-memory eth-tester, with
  the ratio;
* reopen time of a chain holding N blocks (``--blocks``), and the time of the
  first reads after reopening (head block, the receipt of the first transaction);
* bytes on disk per block.

The workload alternates a contract call that writes one storage slot and emits
one log (the shape of an anchoring transaction) with a plain value transfer.

Usage::

    python benches/bench_embedded_chain.py --txs 1000 --blocks 100000 \\
        --out benches/results/embedded_chain.md
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_tester import EthereumTester, PyEVMBackend
from eth_typing import ChecksumAddress
from eth_utils import to_canonical_address
from web3 import Web3
from web3.providers.eth_tester import EthereumTesterProvider

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cpu_model

from notary.chain.node.embedded import EmbeddedChain, SyncMode

CHAIN_ID = 1337_0001
FUNDING = 10**27
RECIPIENT = Web3.to_checksum_address("0x" + "42" * 20)
# The storage contract of tests/notary/chain/node/_contract.py: a 32-byte word
# stores it and emits LOG1; empty calldata reads it back.
INIT = bytes.fromhex(
    "603480600b6000396000f3"
    "36600f5760005460005260206000f35b6000358060245763deadbeef6000526004601cfd"
    "5b80600055600052600160206000a100"
)


class Workload:
    """Signs and sends the alternating workload; nonces are tracked locally."""

    def __init__(self, w3: Web3, account: LocalAccount) -> None:
        self.w3 = w3
        self.account = account
        self.chain_id = w3.eth.chain_id
        self.nonce = w3.eth.get_transaction_count(account.address)
        self.contract: ChecksumAddress | None = None

    def _send(self, **fields: Any) -> Any:
        tx = {
            "type": 2,
            "chainId": self.chain_id,
            "nonce": self.nonce,
            "gas": 100_000,
            "maxFeePerGas": 2 * 10**9,
            "maxPriorityFeePerGas": 1,
            "value": 0,
            **fields,
        }
        tx_hash = self.w3.eth.send_raw_transaction(
            self.account.sign_transaction(tx).raw_transaction
        )
        self.nonce += 1
        receipt = self.w3.eth.get_transaction_receipt(tx_hash)
        assert receipt["status"] == 1
        return tx_hash

    def deploy(self) -> Any:
        tx_hash = self._send(data=INIT, gas=200_000)
        self.contract = self.w3.eth.get_transaction_receipt(tx_hash)["contractAddress"]
        return tx_hash

    def step(self) -> Any:
        if self.nonce % 2 == 0:
            assert self.contract is not None
            return self._send(to=self.contract, data=self.nonce.to_bytes(32, "big"))
        return self._send(to=RECIPIENT, value=1, gas=21_000)


def _rate(workload: Workload, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        workload.step()
    return count / (time.perf_counter() - started)


def bench_in_memory(account: LocalAccount, count: int) -> float:
    state = {
        to_canonical_address(account.address): {
            "balance": FUNDING,
            "nonce": 0,
            "code": b"",
            "storage": {},
        }
    }
    backend = PyEVMBackend(genesis_state=state)
    w3 = Web3(EthereumTesterProvider(EthereumTester(backend)))
    workload = Workload(w3, account)
    workload.deploy()
    return _rate(workload, count)


def bench_durable(account: LocalAccount, count: int, sync: SyncMode) -> float:
    with (
        tempfile.TemporaryDirectory(prefix="bench-chain-") as directory,
        EmbeddedChain.open(
            Path(directory), CHAIN_ID, {account.address: FUNDING}, sync=sync
        ) as chain,
    ):
        workload = Workload(chain.w3, account)
        workload.deploy()
        return _rate(workload, count)


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def bench_reopen(account: LocalAccount, blocks: int, directory: Path) -> dict[str, Any]:
    alloc = {account.address: FUNDING}
    started = time.perf_counter()
    with EmbeddedChain.open(directory, CHAIN_ID, alloc, sync=SyncMode.NORMAL) as chain:
        workload = Workload(chain.w3, account)
        first = workload.deploy()
        while chain.head_number() < blocks:
            workload.step()
            if chain.head_number() % 10_000 == 0:
                elapsed = time.perf_counter() - started
                print(f"  built {chain.head_number():,} blocks in {elapsed:.0f} s", flush=True)
    build_seconds = time.perf_counter() - started
    size = sum(f.stat().st_size for f in directory.iterdir() if f.name.startswith("chain.sqlite"))

    opens, heads, receipts = [], [], []
    for _ in range(5):
        seconds, chain = _timed(lambda: EmbeddedChain.open(directory, CHAIN_ID, alloc))
        opens.append(seconds)
        seconds, head = _timed(lambda: chain.w3.eth.get_block("latest"))  # noqa: B023
        heads.append(seconds)
        seconds, _ = _timed(lambda: chain.w3.eth.get_transaction_receipt(first))  # noqa: B023
        receipts.append(seconds)
        assert head["number"] == blocks
        chain.close()
    return {
        "blocks": blocks,
        "build_seconds": build_seconds,
        "bytes": size,
        "open": statistics.median(opens),
        "head": statistics.median(heads),
        "old_receipt": statistics.median(receipts),
    }


def render(results: dict[str, Any], args: argparse.Namespace) -> str:
    memory = results["in_memory"]
    reopen = results["reopen"]
    lines = [
        "# Embedded chain benchmark",
        "",
        f"Recorded {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} by "
        "`benches/bench_embedded_chain.py "
        f"--txs {args.txs} --blocks {args.blocks}`.",
        "",
        f"Machine: {cpu_model()}, {os.cpu_count()} CPUs, {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}, py-evm "
        f"{version('py-evm')}, eth-tester {version('eth-tester')}, web3 {version('web3')}, "
        f"SQLite {sqlite3.sqlite_version}.",
        "",
        "Workload: locally signed EIP-1559 raw transactions, each sent and its receipt read",
        "back; alternating a storage write + LOG1 contract call and a value transfer;",
        "one transaction per block (auto-mining).",
        "",
        "## Throughput",
        "",
        f"| chain | tx/s ({args.txs} txs) | vs in-memory |",
        "|---|---:|---:|",
        f"| eth-tester in memory (stock) | {memory:.0f} | 1.00 |",
    ]
    for sync in (SyncMode.NORMAL, SyncMode.FULL):
        rate = results[f"durable_{sync.value}"]
        lines.append(
            f"| durable, sqlite WAL synchronous={sync.value} | {rate:.0f} | {rate / memory:.2f} |"
        )
    lines += [
        "",
        "## Reopen and size",
        "",
        f"Chain of {reopen['blocks']:,} blocks (one transaction each), built in "
        f"{reopen['build_seconds']:.0f} s with synchronous=NORMAL.",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| `EmbeddedChain.open` (median of 5) | {reopen['open'] * 1000:.1f} ms |",
        f"| first `get_block('latest')` after open | {reopen['head'] * 1000:.1f} ms |",
        f"| receipt of the first transaction (block 1) | {reopen['old_receipt'] * 1000:.1f} ms |",
        f"| bytes on disk | {reopen['bytes']:,} |",
        f"| bytes per block | {reopen['bytes'] / reopen['blocks']:,.0f} |",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--txs", type=int, default=1000, help="transactions per throughput run")
    parser.add_argument("--blocks", type=int, default=10_000, help="chain length for reopen")
    parser.add_argument("--out", type=Path, help="write the Markdown report here")
    args = parser.parse_args()

    account = Account.from_key(Web3.keccak(text="archive-notary bench key"))
    results: dict[str, Any] = {}
    print("in-memory eth-tester ...", flush=True)
    results["in_memory"] = bench_in_memory(account, args.txs)
    for sync in (SyncMode.NORMAL, SyncMode.FULL):
        print(f"durable, synchronous={sync.value} ...", flush=True)
        results[f"durable_{sync.value}"] = bench_durable(account, args.txs, sync)
    print(f"reopen with {args.blocks:,} blocks ...", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-reopen-") as directory:
        results["reopen"] = bench_reopen(account, args.blocks, Path(directory))
    report = render(results, args)
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report)


if __name__ == "__main__":
    main()
