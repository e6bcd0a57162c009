"""The load generator of ``bench_load.py``: a separate process of N concurrent
keep-alive clients (asyncio + aiohttp, which web3 already brings in; its client costs
less CPU per request than httpx's, and the client shares this machine's cores with the
server under test).

Run: ``python benches/load_client.py --url http://127.0.0.1:8000 --key KEY --mode sm3
--sm3 HEX [HEX ...] --concurrency 300 --seconds 60``; prints one JSON object: requests,
errors (by kind), requests/s, latency percentiles (ms), bytes received.

Closed loop (default): each client sends its next request when the last one answers,
so the figures are the saturation throughput, and latency is concurrency / throughput
(Little's law). Open loop (``--rate R``): the N clients' requests are scheduled at R
requests/s in all (R/N per client, evenly staggered) whatever the server does, and
each latency is measured from the request's *scheduled* send time, so a server that
falls behind shows it in the percentiles (no coordinated omission). Requests
scheduled in the ``--warmup`` seconds before the measured window are not counted.

Modes: ``sm3`` = ``POST /v1/verify {"sm3": …}`` (round-robin over the given digests);
``read`` = ``GET /v1/materials/{id}/content`` (verify-on-read, the full body read and its
SM3 compared with the expected one); ``chain`` = ``GET /v1/chain`` (no database, no
auth: the framework's own ceiling, the baseline).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import math
import time
from collections.abc import Callable
from typing import Any

import aiohttp


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[i]


class Stats:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}
        self.received = 0
        self.last_answer = 0.0

    def ok(self, latency: float, size: int) -> None:
        self.latencies.append(latency)
        self.received += size
        self.last_answer = time.perf_counter()

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


async def run(args: argparse.Namespace) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {args.key}"}
    targets = [(t.split("=", 1)[0], t.split("=", 1)[1]) for t in args.target]

    async def one(session: aiohttp.ClientSession, i: int) -> tuple[bool, int, str]:
        """Request number ``i``: (ok, bytes received, what went wrong)."""
        if args.mode == "sm3":
            digest = args.sm3[i % len(args.sm3)]
            async with session.post("/v1/verify", json={"sm3": digest}, headers=headers) as r:
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
        return ok, len(body), f"status {r.status}"

    async def attempt(session: aiohttp.ClientSession, i: int, start: float, stats: Stats) -> None:
        try:
            ok, size, problem = await one(session, i)
        except (aiohttp.ClientError, TimeoutError) as e:
            stats.error(type(e).__name__)
            return
        if ok:
            stats.ok(time.perf_counter() - start, size)
        else:
            stats.error(problem)

    async def closed(n: int, session: aiohttp.ClientSession, stop_at: float, stats: Stats) -> None:
        i = n
        while time.perf_counter() < stop_at:
            await attempt(session, i, time.perf_counter(), stats)
            i += args.concurrency

    async def opened(n: int, session: aiohttp.ClientSession, t0: float, stats: Stats) -> None:
        # Client n sends at t0 + (n + k·N) / R: the N clients together make R requests/s.
        window = (t0 + args.warmup, t0 + args.warmup + args.seconds)
        k = 0
        while (due := t0 + (n + k * args.concurrency) / args.rate) < window[1]:
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            # Measured from ``due``, not from now: a request sent late because this
            # client's previous one was slow is late by that much.
            await attempt(
                session, n + k * args.concurrency, due, stats if due >= window[0] else Stats()
            )
            k += 1

    connector = aiohttp.TCPConnector(limit=args.concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    stats = Stats()
    async with aiohttp.ClientSession(args.url, connector=connector, timeout=timeout) as session:
        if args.rate > 0:
            t0 = time.perf_counter() + 0.1
            await asyncio.gather(*(opened(n, session, t0, stats) for n in range(args.concurrency)))
            # Answered per second: from the window's start to its last answer, which is
            # later than the window's end when the server falls behind the schedule.
            elapsed = max(args.seconds, stats.last_answer - (t0 + args.warmup))
            # Due times in [warmup, warmup + seconds): the requests the window asked for.
            lo, hi = args.warmup * args.rate, (args.warmup + args.seconds) * args.rate
            scheduled = math.ceil(hi) - math.ceil(lo)
        else:
            # Warm-up: open the connections before the clock starts.
            warm = time.perf_counter() + args.warmup
            await asyncio.gather(
                *(closed(n, session, warm, Stats()) for n in range(args.concurrency))
            )
            t0 = time.perf_counter()
            await asyncio.gather(
                *(closed(n, session, t0 + args.seconds, stats) for n in range(args.concurrency))
            )
            elapsed = time.perf_counter() - t0
            scheduled = None
    latencies = sorted(stats.latencies)
    ms = [x * 1000 for x in latencies]
    return {
        "mode": args.mode,
        "loop": "open" if args.rate > 0 else "closed",
        "target_rps": args.rate if args.rate > 0 else None,
        "concurrency": args.concurrency,
        "seconds": round(elapsed, 2),
        "scheduled": scheduled,
        "requests": len(latencies),
        "errors": sum(stats.errors.values()),
        "error_kinds": stats.errors,
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(ms, 0.50), 2),
        "p95_ms": round(percentile(ms, 0.95), 2),
        "p99_ms": round(percentile(ms, 0.99), 2),
        "max_ms": round(ms[-1], 2) if ms else None,
        "mb_per_s": round(stats.received / elapsed / 1e6, 2),
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
    ap.add_argument(
        "--rate", type=float, default=0, help="open loop: requests/s in all (0: closed loop)"
    )
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--timeout", type=float, default=120)
    # uvloop when installed (a dependency of the server): the client shares this
    # machine's two cores with the server under test, so its CPU per request counts.
    loop_factory: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop
    with contextlib.suppress(ImportError):
        import uvloop

        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        print(json.dumps(runner.run(run(ap.parse_args()))))


if __name__ == "__main__":
    main()
