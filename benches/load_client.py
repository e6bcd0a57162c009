"""The load generator of ``bench_load.py``: a separate process of N concurrent
keep-alive clients (asyncio + aiohttp, which web3 already brings in; its client costs
less CPU per request than httpx's, and the client shares this machine's cores with the
server under test).

Run: ``python benches/load_client.py --url http://127.0.0.1:8000 --key KEY --mode sm3
--sm3 HEX [HEX ...] --concurrency 300 --seconds 60``; prints one JSON object: requests,
errors (by kind), requests/s, latency percentiles (ms), bytes received.

Modes: ``sm3`` = ``POST /v1/verify {"sm3": …}`` (round-robin over the given digests);
``read`` = ``GET /v1/materials/{id}/content`` (verify-on-read, the full body read and its
SM3 compared with the expected one); ``chain`` = ``GET /v1/chain`` (no database, no
auth: the framework's own ceiling, the baseline).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import time
from typing import Any

import aiohttp


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[i]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {args.key}"}
    latencies: list[float] = []
    errors: dict[str, int] = {}
    received = 0
    targets = [(t.split("=", 1)[0], t.split("=", 1)[1]) for t in args.target]
    stop_at = 0.0

    def error(kind: str) -> None:
        errors[kind] = errors.get(kind, 0) + 1

    async def worker(n: int, session: aiohttp.ClientSession) -> None:
        nonlocal received
        i = n
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            try:
                if args.mode == "sm3":
                    digest = args.sm3[i % len(args.sm3)]
                    async with session.post(
                        "/v1/verify", json={"sm3": digest}, headers=headers
                    ) as r:
                        body = await r.read()
                        ok = r.status == 200 and json.loads(body)["found"] is True
                elif args.mode == "read":
                    material, digest = targets[i % len(targets)]
                    async with session.get(
                        f"/v1/materials/{material}/content",
                        params={"purpose": "load benchmark"},
                        headers=headers,
                    ) as r:
                        body = await r.read()
                        ok = r.status == 200 and hashlib.new("sm3", body).hexdigest() == digest
                else:
                    async with session.get("/v1/chain") as r:
                        body = await r.read()
                        ok = r.status == 200
            except (aiohttp.ClientError, TimeoutError) as e:
                error(type(e).__name__)
                continue
            latency = time.perf_counter() - t0
            if ok:
                latencies.append(latency)
                received += len(body)
            else:
                error(f"status {r.status}")
            i += args.concurrency

    connector = aiohttp.TCPConnector(limit=args.concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    async with aiohttp.ClientSession(args.url, connector=connector, timeout=timeout) as session:
        # Warm-up: open the connections before the clock starts.
        stop_at = time.perf_counter() + args.warmup
        await asyncio.gather(*(worker(n, session) for n in range(args.concurrency)))
        latencies.clear()
        errors.clear()
        received = 0
        t0 = time.perf_counter()
        stop_at = t0 + args.seconds
        await asyncio.gather(*(worker(n, session) for n in range(args.concurrency)))
        elapsed = time.perf_counter() - t0
    latencies.sort()
    ms = [x * 1000 for x in latencies]
    return {
        "mode": args.mode,
        "concurrency": args.concurrency,
        "seconds": round(elapsed, 2),
        "requests": len(latencies),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(ms, 0.50), 2),
        "p95_ms": round(percentile(ms, 0.95), 2),
        "p99_ms": round(percentile(ms, 0.99), 2),
        "max_ms": round(ms[-1], 2) if ms else None,
        "mb_per_s": round(received / elapsed / 1e6, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--url", required=True)
    ap.add_argument("--key", default="")
    ap.add_argument("--mode", choices=["sm3", "read", "chain"], required=True)
    ap.add_argument("--sm3", nargs="*", default=[])
    ap.add_argument("--target", nargs="*", default=[], help="material_id=sm3 (read mode)")
    ap.add_argument("--concurrency", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--timeout", type=float, default=120)
    print(json.dumps(asyncio.run(run(ap.parse_args()))))


if __name__ == "__main__":
    main()
