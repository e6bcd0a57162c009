"""Content-store throughput: CID computation vs raw sha256, local store, js-ipfs.

    python benches/bench_store.py [--no-node] [--out benches/results/store.md]

Numbers are MB/s (10^6 bytes per second), best of a few rounds, so that one
slow round (a page-cache miss, a GC pause) does not define the result.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import hashlib
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cpu_model

from notary.store import KuboStore, LocalStore, compute_cid
from notary.store.jsipfs import JsIpfsNode

MB = 1_000_000
OBJECT = 2 * 1024 * 1024  # the brief's object size: a scanned material, encrypted


def _data(n: int, label: bytes) -> bytes:
    return hashlib.shake_256(label).digest(n)


def _best(rounds: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_cid(size: int) -> list[tuple[str, float]]:
    data = _data(size, b"bench cid")
    rows = [
        ("hashlib sha256 (one pass, reference)", _best(3, lambda: hashlib.sha256(data).digest())),
        ("compute_cid (UnixFS DAG, this project)", _best(3, lambda: compute_cid(data))),
    ]
    try:
        import aleph_cid

        def rust() -> str:
            hasher = aleph_cid.CidHasher.for_ipfs_v1_raw_leaves()
            hasher.update(data)
            return str(hasher.finalize())

        assert rust() == compute_cid(data)
        rows.append(("aleph-cid (Rust, for comparison)", _best(3, rust)))
    except ImportError:
        pass
    return [(name, size / t / MB) for name, t in rows]


def _get_all(store: LocalStore, cids: list[str]) -> list[bytes]:
    return [store.get(c) for c in cids]


def bench_local(count: int) -> list[tuple[str, float]]:
    objects = [_data(OBJECT, b"local %d" % i) for i in range(count)]
    total = OBJECT * count
    puts = []
    for _ in range(3):  # a fresh store each round: a second put of the same blocks is a no-op
        with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
            store = LocalStore(tmp)
            start = time.perf_counter()
            cids = [store.put(o) for o in objects]
            puts.append(time.perf_counter() - start)
            get = _best(3, functools.partial(_get_all, store, cids))
    return [
        (f"LocalStore.put, {count} x 2 MiB (fsync per block), best of 3", total / min(puts) / MB),
        (
            f"LocalStore.put, {count} x 2 MiB, worst of 3 (fsync latency varies)",
            total / max(puts) / MB,
        ),
        (f"LocalStore.get, {count} x 2 MiB (every block re-hashed)", total / get / MB),
    ]


def bench_node(count: int) -> list[tuple[str, float]]:
    objects = [_data(OBJECT, b"node %d" % i) for i in range(count)]
    total = OBJECT * count
    with JsIpfsNode() as node, KuboStore(node.api_url, timeout=60) as store:
        start = time.perf_counter()
        cids = [store.put(o) for o in objects]
        add = time.perf_counter() - start
        cat = _best(3, lambda: [store.cat(c) for c in cids])
        walk = _best(3, lambda: [store.get(c) for c in cids])
    return [
        (f"js-ipfs add via KuboStore.put, {count} x 2 MiB (CID checked)", total / add / MB),
        (f"js-ipfs cat via KuboStore.cat, {count} x 2 MiB (CID recomputed)", total / cat / MB),
        (f"js-ipfs block/get walk via KuboStore.get, {count} x 2 MiB", total / walk / MB),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-node", action="store_true", help="skip the js-ipfs rows")
    parser.add_argument("--cid-mib", type=int, default=256, help="input size of the CID rows")
    parser.add_argument("--objects", type=int, default=25, help="2 MiB objects per store row")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "store.md")
    args = parser.parse_args()

    sections = [(f"CID computation, {args.cid_mib} MiB in memory", bench_cid(args.cid_mib << 20))]
    sections.append(("Local blockstore", bench_local(args.objects)))
    if not args.no_node:
        sections.append(("js-ipfs 0.66.1 (reference only, not production)", bench_node(20)))

    lines = [
        "# Content store benchmark",
        "",
        f"- date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {cpu_model()}, {os.cpu_count()} cores, "
        f"{platform.system()} {platform.release()}",
        f"- python: {sys.version.split()[0]}; command: `python benches/bench_store.py`",
        "",
    ]
    for title, rows in sections:
        lines += [f"## {title}", "", "| operation | MB/s |", "|---|---:|"]
        lines += [f"| {name} | {rate:,.0f} |" for name, rate in rows]
        lines.append("")
    cid_rows = dict(sections[0][1])
    ratio = (
        cid_rows["compute_cid (UnixFS DAG, this project)"]
        / cid_rows["hashlib sha256 (one pass, reference)"]
    )
    lines += [f"compute_cid runs at {ratio:.0%} of a bare sha256 pass over the same bytes.", ""]
    text = "\n".join(lines)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
