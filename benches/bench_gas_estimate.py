"""Benchmark of the embedded chain's gas estimate, per anchor (notary.chain.node.embedded).

Before every anchor the centre's client asks the chain for a gas estimate
(``TransactionSender.transact``). py-evm's estimator is a binary search over
many runs of the transaction; the embedded chain's own estimate runs it twice
(geth's fast path). In one run on one machine, on two fresh embedded chains
with ArchiveNotary deployed, the same sequence of anchors is sent through
``ChainClient.anchor_checkpoint``, once with py-evm's search (the old estimate)
and once with the chain's own (the new), alternating in rounds so that load
changes hit both alike. Recorded per anchor: CPU time of the whole anchor
(estimate, sign, send, mine, receipt), CPU time of the estimate alone, and the
gas limit the anchor was sent with.

Usage::

    python benches/bench_gas_estimate.py --anchors 60 --out benches/results/gas_estimate.md
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_tester.backends.pyevm.main import PyEVMBackend
from web3 import Web3

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header

from notary.chain import ChainClient, Role
from notary.chain.node.embedded import DurablePyEVMBackend, EmbeddedChain
from notary.crypto import sm3

CHAIN_ID = 1337_0001
FUNDING = 10**24
ADMIN = Account.from_key(Web3.keccak(text="bench gas estimate: admin"))
CENTRE = Account.from_key(Web3.keccak(text="bench gas estimate: centre"))
LOG_ID = sm3(b"bench gas estimate log")


class Timed:
    """Wraps the backend's ``estimate_gas``: CPU seconds spent in it, per call."""

    def __init__(self, backend: DurablePyEVMBackend, old: bool) -> None:
        self.seconds: list[float] = []
        estimate = (
            (lambda tx, block="latest": PyEVMBackend.estimate_gas(backend, tx, block))
            if old
            else backend.estimate_gas
        )

        def timed(tx: Any, block: Any = "latest") -> int:
            t0 = time.process_time()
            try:
                return int(estimate(tx, block))
            finally:
                self.seconds.append(time.process_time() - t0)

        backend.estimate_gas = timed  # type: ignore[method-assign]


@contextmanager
def deployment(old: bool) -> Iterator[tuple[EmbeddedChain, ChainClient, Timed]]:
    alloc = {ADMIN.address: FUNDING, CENTRE.address: FUNDING}
    with (
        tempfile.TemporaryDirectory(prefix="bench-gas-") as directory,
        EmbeddedChain.open(Path(directory), CHAIN_ID, alloc) as chain,
    ):
        admin = ChainClient.deploy(
            chain.w3, bytes(ADMIN.key), key_fingerprint=sm3(b"a"), unit_id=sm3(b"a")
        )
        admin.add_member(CENTRE.address, Role.ARCHIVE_CENTRE, sm3(b"log key"), sm3(b"c"))
        centre = ChainClient(chain.w3, admin.address, bytes(CENTRE.key))
        yield chain, centre, Timed(chain.backend, old)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--anchors", type=int, default=60, help="anchors per estimator")
    parser.add_argument("--round", type=int, default=10, help="anchors per alternation")
    parser.add_argument("--out", type=Path, help="write the Markdown report here")
    args = parser.parse_args()

    head = header("Gas estimate per anchor on the embedded chain")
    anchor_cpu: dict[str, list[float]] = {"old": [], "new": []}
    gas_limits: dict[str, list[int]] = {"old": [], "new": []}
    gas_used: dict[str, list[int]] = {"old": [], "new": []}
    with deployment(old=True) as old, deployment(old=False) as new:
        runs = {"old": old, "new": new}
        size = 0
        while size < args.anchors:
            for name, (chain, centre, _) in runs.items():
                for i in range(size + 1, min(size + args.round, args.anchors) + 1):
                    t0 = time.process_time()
                    record = centre.anchor_checkpoint(LOG_ID, i, sm3(b"root %d" % i))
                    anchor_cpu[name].append(time.process_time() - t0)
                    tx = chain.w3.eth.get_transaction(record.tx_hash)  # type: ignore[arg-type]
                    receipt = chain.w3.eth.get_transaction_receipt(record.tx_hash)  # type: ignore[arg-type]
                    gas_limits[name].append(int(tx["gas"]))
                    gas_used[name].append(int(receipt["gasUsed"]))
            size = min(size + args.round, args.anchors)
        estimate_cpu = {name: runs[name][2].seconds for name in runs}
    # Same chain state, same calls: the anchors used the same gas either way.
    assert gas_used["old"] == gas_used["new"], "the two chains diverged"

    def ms(values: list[float]) -> float:
        return statistics.median(values) * 1000

    rows = [
        ("CPU per anchor (median, ms)", ms(anchor_cpu["old"]), ms(anchor_cpu["new"]), ".1f"),
        ("CPU per estimate (median, ms)", ms(estimate_cpu["old"]), ms(estimate_cpu["new"]), ".1f"),
        ("gas limit sent, first anchor", gas_limits["old"][0], gas_limits["new"][0], ",d"),
        ("gas limit sent, later anchors (median)", statistics.median(gas_limits["old"][1:]),
         statistics.median(gas_limits["new"][1:]), ",.0f"),
    ]  # fmt: skip
    lines = [
        head,
        f"`python benches/bench_gas_estimate.py --anchors {args.anchors}`: {args.anchors} "
        f"anchors per estimator through `ChainClient.anchor_checkpoint` (gas margin 1.25 "
        f"+ 10,000), alternating rounds of {args.round}; gas used per anchor: first "
        f"{gas_used['new'][0]:,}, later {statistics.median(gas_used['new'][1:]):,.0f} "
        "(the same for both).",
        "",
        "| measure | old: py-evm binary search | new: run + confirm | new / old |",
        "|---|---:|---:|---:|",
    ]
    for label, before, after, fmt in rows:
        lines.append(f"| {label} | {before:{fmt}} | {after:{fmt}} | {after / before:.2f} |")
    lines.append("")
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
