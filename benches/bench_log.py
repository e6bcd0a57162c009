"""Benchmark of the Merkle log (notary/log, RFC 9162 §2.1 with SM3), in memory.

Run: ``python benches/bench_log.py [--leaves N] [--out FILE]``. Prints a Markdown
table and writes it to ``benches/results/log.md``. The baseline is the minimum
hashing an append needs (one leaf hash and, amortised, one node hash: two raw
``sm3`` calls), so ``append / baseline`` is the log's overhead over pure hashing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import resource
import time
from collections.abc import Callable
from pathlib import Path

from notary.crypto.sm3 import sm3
from notary.log import MerkleLog, verify_consistency, verify_inclusion

ROOT = Path(__file__).resolve().parents[1]


def rate(count: int, fn: Callable[[], None]) -> float:
    """Operations per second of ``fn`` doing ``count`` operations (best of 3)."""
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return count / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--leaves", type=int, default=1_000_000)
    ap.add_argument("--samples", type=int, default=20_000)
    ap.add_argument("--out", type=Path, default=ROOT / "benches" / "results" / "log.md")
    args = ap.parse_args()
    n, k = args.leaves, args.samples
    rnd = random.Random(9162)
    entries = [i.to_bytes(8, "big") * 4 for i in range(n)]  # 32-byte entries

    node_input = b"\x01" + bytes(64)
    leaf_input = b"\x00" + entries[0]

    def baseline() -> None:
        for _ in range(k):
            sm3(leaf_input)
            sm3(node_input)

    rows: list[tuple[str, float]] = []
    base = rate(k, baseline)
    rows.append(("baseline: 2 raw `sm3` calls (the minimum hashing of an append)", base))

    # Appends are timed once over the full build (it is the thing being measured).
    log = MerkleLog()
    t0 = time.perf_counter()
    for e in entries:
        log.append(e)
    append_rate = n / (time.perf_counter() - t0)
    rows.append((f"`append` x {n:,} (one by one)", append_rate))

    batch_log = MerkleLog()
    t0 = time.perf_counter()
    for i in range(0, n, 1000):
        batch_log.append_many(entries[i : i + 1000])
    batch_rate = n / (time.perf_counter() - t0)
    rows.append((f"`append_many` x {n:,} (batches of 1,000)", batch_rate))
    assert batch_log.root() == log.root()
    del batch_log

    size = log.size
    root = log.root()
    idx = [rnd.randrange(size) for _ in range(k)]
    proofs = [log.inclusion_proof(i, size) for i in idx]
    leaves = [log.leaf_hash(i) for i in idx]

    def gen_incl() -> None:
        for i in idx:
            log.inclusion_proof(i, size)

    def ver_incl() -> None:
        for i, leaf, p in zip(idx, leaves, proofs, strict=True):
            verify_inclusion(sm3, i, size, leaf, p, root)

    rows.append((f"inclusion proof generation at {size:,}", rate(k, gen_incl)))
    rows.append((f"inclusion proof verification at {size:,}", rate(k, ver_incl)))

    # Consistency from a random older size to a random newer size below the head:
    # both ends off the perfect-subtree grid, the general (slowest) case.
    pairs = []
    for _ in range(k):
        a, b = sorted(rnd.sample(range(1, size + 1), 2))
        pairs.append((a, b))
    roots = {s: log.root(s) for pair in pairs for s in pair}
    cproofs = [log.consistency_proof(a, b) for a, b in pairs]

    def gen_cons() -> None:
        for a, b in pairs:
            log.consistency_proof(a, b)

    def ver_cons() -> None:
        for (a, b), p in zip(pairs, cproofs, strict=True):
            verify_consistency(sm3, a, b, roots[a], roots[b], p)

    def root_any() -> None:
        for a, _ in pairs:
            log.root(a)

    rows.append((f"consistency proof generation at {size:,}", rate(k, gen_cons)))
    rows.append((f"consistency proof verification at {size:,}", rate(k, ver_cons)))
    rows.append(("`root(size)` for a random past size", rate(k, root_any)))

    mean_incl = sum(map(len, proofs)) / len(proofs)
    mean_cons = sum(map(len, cproofs)) / len(cproofs)
    lines = [
        "# Merkle log benchmark (`python benches/bench_log.py`)",
        "",
        f"- date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs; Python {platform.python_version()}",
        f"- storage: `MemoryTreeStorage`, {size:,} leaves of 32 bytes, hash SM3",
        f"- peak RSS of the process (two logs built): "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB",
        f"- mean proof length: inclusion {mean_incl:.1f}, consistency {mean_cons:.1f} hashes",
        f"- rates: best of 3 runs of {k:,} operations (appends: one run);"
        " vs baseline = ops/s divided by the baseline's",
        "",
        "| operation | ops/s | µs/op | vs baseline |",
        "|---|---:|---:|---:|",
        *(f"| {name} | {ops:,.0f} | {1e6 / ops:.2f} | {ops / base:.2f} |" for name, ops in rows),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
