"""Anchoring throughput: entries appended and anchored with a 1 s checkpoint interval,
anchor transactions per second on the embedded chain and on anvil, gas per checkpoint.

Run: ``python benches/bench_anchoring.py [--seconds 10]``; writes
``benches/results/anchoring.md``. The baseline of the entries/s figure is the same
log's append rate with anchoring off, in the same run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header, write
from web3 import Web3

from notary.anchoring import Anchorer, MemoryOutbox
from notary.chain import ChainClient, Role, account_address
from notary.chain.anvil import AnvilProcess, dev_private_keys
from notary.crypto import SM2PrivateKey, sm3
from notary.deployment import init_deployment
from notary.entries import encode_entry, material_registered

ENTRY = encode_entry(
    material_registered(
        material_id="bench", sm3_hex="00" * 32, cid="c", size=1, category="1",
        volume="v", unit="U", version=1, time_ms=1,
    )
)  # fmt: skip


def append_rate(seconds: float) -> float:
    from notary.log import MerkleLog

    log = MerkleLog()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        log.append_many([ENTRY] * 1000)
        n += 1000
    return n / (time.perf_counter() - t0)


def anchored_rate(
    chain: ChainClient, log_key: SM2PrivateKey, seconds: float
) -> tuple[float, float, int]:
    from notary.log import MerkleLog

    log, outbox = MerkleLog(), MemoryOutbox()
    anchorer = Anchorer(
        log, log_key, f"bench-{time.time_ns()}", chain, outbox, interval_s=1.0, max_entries=10**9
    )
    stop = threading.Event()
    worker = threading.Thread(target=anchorer.run, args=(stop,), kwargs={"tick_s": 0.05})
    worker.start()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        log.append_many([ENTRY] * 1000)
        n += 1000
        time.sleep(0)  # let the worker in
    appended_s = time.perf_counter() - t0
    while outbox.pending() or (outbox.latest() and outbox.latest().checkpoint.tree_size < n):  # type: ignore[union-attr]
        time.sleep(0.05)
        if time.perf_counter() - t0 > seconds + 30:
            break
    lag = time.perf_counter() - t0 - appended_s
    stop.set()
    worker.join()
    return n / appended_s, lag, len(outbox.anchored())


def tx_rate(chain: ChainClient, log_key_fp: bytes, count: int) -> tuple[float, int]:
    log_id = sm3(f"tx-bench-{time.time_ns()}".encode())
    gas = 0
    t0 = time.perf_counter()
    for size in range(1, count + 1):
        ref = chain.anchor_checkpoint(log_id, size, sm3(size.to_bytes(8, "big")))
        if size == 2:
            receipt = chain.transaction_receipt(ref.tx_hash)
            gas = int(receipt["gasUsed"]) if receipt else 0
    return count / (time.perf_counter() - t0), gas


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--txs", type=int, default=200)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        dep = init_deployment(Path(d) / "home", origin="bench/log", centre_code="B")
        try:
            base = append_rate(args.seconds / 2)
            rate, lag, cps = anchored_rate(dep.chain, dep.log_key, args.seconds)
            rows.append(
                ("log append, anchoring off (baseline)", f"{base:,.0f} entries/s", "1.00", "")
            )
            rows.append((
                "appended and anchored, 1 s checkpoints, embedded chain",
                f"{rate:,.0f} entries/s ({cps} checkpoints; the last anchored "
                f"{lag:.1f} s after the last append)",
                f"{rate / base:.2f}", "≥ 10,000 entries/s",
            ))  # fmt: skip
            embedded_tps, gas = tx_rate(dep.chain, b"", args.txs)
        finally:
            dep.close()
        keys = dev_private_keys(2)
        with AnvilProcess(state_file=Path(d) / "anvil.json") as node:
            w3 = Web3(Web3.HTTPProvider(node.url))
            admin = ChainClient.deploy(w3, keys[0], key_fingerprint=sm3(b"a"), unit_id=sm3(b"a"))
            key = SM2PrivateKey.generate()
            admin.add_member(
                account_address(keys[1]),
                Role.ARCHIVE_CENTRE,
                key.public_key.fingerprint(),
                sm3(b"c"),
            )
            centre = ChainClient(w3, admin.address, keys[1])
            anvil_tps, anvil_gas = tx_rate(centre, b"", args.txs)
    rows.append(("anchor transactions, embedded durable chain", f"{embedded_tps:.0f} tx/s", "", ""))
    rows.append(
        (
            "anchor transactions, anvil (HTTP JSON-RPC)",
            f"{anvil_tps:.0f} tx/s",
            f"{anvil_tps / embedded_tps:.2f} × embedded",
            "",
        )
    )
    rows.append(
        (
            "gas per checkpoint (after a log's first)",
            f"{gas:,} (embedded), {anvil_gas:,} (anvil)",
            "",
            "",
        )
    )
    text = header("Anchoring") + "\n| measure | result | ratio | goal |\n|---|---|---|---|\n"
    text += "".join(f"| {a} | {b} | {c} | {g} |\n" for a, b, c, g in rows)
    text += "\nReopening the embedded chain does not grow with its length: embedded_chain.md.\n"
    print(text)
    write("anchoring", text)


if __name__ == "__main__":
    main()
