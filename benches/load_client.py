"""The load generator of ``bench_load.py``: a separate process of N concurrent
keep-alive HTTP/1.1 clients — asyncio protocols on uvloop, responses parsed by
httptools (uvicorn's own parser, a dependency already). The client shares this
machine's two cores with the server under test, so its CPU per request counts: aiohttp's
client cost ~0.36 ms of CPU per verify call here (a third of a core at 1,000 req/s),
this one a fraction of that (benches/results/load.md). Requests are encoded once,
up front.

Run: ``python benches/load_client.py --url http://127.0.0.1:8000 --key KEY --mode sm3
--sm3 HEX [HEX ...] --concurrency 300 --seconds 60``; prints one JSON object: requests,
errors (by kind), requests/s, latency percentiles (ms), bytes received, requests retried.

Closed loop (default): each client sends its next request when the last one answers,
so the figures are the saturation throughput, and latency is concurrency / throughput
(Little's law). Open loop (``--rate R``): the N clients' requests are scheduled at R
requests/s in all (R/N per client, evenly staggered) whatever the server does, and
each latency is measured from the request's *scheduled* send time, so a server that
falls behind shows it in the percentiles (no coordinated omission). Requests
scheduled in the ``--warmup`` seconds before the measured window are not counted.

Modes: ``sm3`` = ``POST /v1/verify {"sm3": …}`` (round-robin over the given digests);
``read`` = ``GET /v1/materials/{id}/content`` (verify-on-read, the full body read; the
first good body of each material is checked against its SM3 and kept, every later one
is compared with it byte for byte: the client shares the server's cores, and an SM3 of
every 2 MB body cost it ~9 ms of CPU per read, a memcmp a small fraction); ``chain`` =
``GET /v1/chain`` (no database, no auth: the framework's own ceiling, the baseline).

A request sent on a reused keep-alive connection that the server closed (or reset)
before any byte of the answer is sent once more on a new connection, as browsers do
(the server may close an idle connection just as a request leaves); ``retried``
counts them, and the latency includes the retry. A second loss is an error.
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
from typing import Any, cast
from urllib.parse import quote, urlsplit

import httptools


class IdleClose(ConnectionError):
    """A reused connection closed or reset before any byte of the answer: the request
    is safe to send again (browsers do)."""


BODY_ERROR = "status 200, wrong body"


def same_as_first(digest: str) -> Callable[[bytes], bool]:
    """A body check for one material: the first body whose SM3 is ``digest`` is kept,
    and every later body must equal it byte for byte (a body that differs in any byte
    fails, as one with another SM3 would)."""
    kept: list[bytes] = []

    def check(body: bytes) -> bool:
        if kept:
            return body == kept[0]
        if hashlib.new("sm3", body).hexdigest() != digest:
            return False
        kept.append(body)
        return True

    return check


class Connection(asyncio.Protocol):
    """One keep-alive connection, one request at a time."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.body: list[bytes] = []
        self.answering = False  # a response to the pending request has begun
        self.answered = 0  # responses completed on this connection

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as e:
            self._fail(ConnectionError(f"malformed response: {e}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        how = "reset" if exc is not None else "closed by the server"
        when = "mid-response" if self.answering else "before the response"
        kind = IdleClose if self.answered and not self.answering else ConnectionError
        self._fail(kind(f"connection {how} {when}"))

    # -- httptools callbacks
    def on_message_begin(self) -> None:
        self.answering = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.answering = False
        self.answered += 1
        waiter, self.waiter = self.waiter, None
        body, self.body = b"".join(self.body), []
        if waiter is not None and not waiter.done():
            waiter.set_result((self.parser.get_status_code(), body))

    def _fail(self, exc: Exception) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        if self.transport is not None:
            self.transport.abort()

    async def request(self, raw: bytes, timeout_s: float) -> tuple[int, bytes]:
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        self.waiter = waiter = loop.create_future()
        self.transport.write(raw)
        timer = loop.call_later(timeout_s, self._fail, TimeoutError("no answer in time"))
        try:
            return await waiter
        finally:
            timer.cancel()


class Client:
    """Client ``n``'s connection, opened again when the server closed it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.conn: Connection | None = None

    async def request(self, raw: bytes, timeout_s: float) -> tuple[int, bytes]:
        if self.conn is None or self.conn.transport is None:
            loop = asyncio.get_running_loop()
            _, self.conn = await loop.create_connection(Connection, self.host, self.port)
        return await self.conn.request(raw, timeout_s)


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[i]


class Stats:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}
        self.retried = 0
        self.received = 0
        self.last_answer = 0.0

    def ok(self, latency: float, size: int) -> None:
        self.latencies.append(latency)
        self.received += size
        self.last_answer = time.perf_counter()

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


async def run(args: argparse.Namespace) -> dict[str, Any]:
    url = urlsplit(args.url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    head = f"Host: {host}:{port}\r\nAuthorization: Bearer {args.key}\r\n"

    def get(path: str) -> bytes:
        return f"GET {path} HTTP/1.1\r\n{head}\r\n".encode()

    def post_json(path: str, body: bytes) -> bytes:
        return (
            f"POST {path} HTTP/1.1\r\n{head}Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    # (request bytes, check of the answer's body) for request i % len(requests).
    requests: list[tuple[bytes, Callable[[bytes], bool]]]
    if args.mode == "sm3":
        requests = [
            (post_json("/v1/verify", json.dumps({"sm3": d}).encode()),
             lambda body: json.loads(body)["found"] is True)
            for d in args.sm3
        ]  # fmt: skip
    elif args.mode == "read":
        requests = []
        for target in args.target:
            material, digest = target.split("=", 1)
            path = f"/v1/materials/{material}/content?purpose={quote('load benchmark')}"
            requests.append((get(path), same_as_first(digest)))
    else:
        requests = [(get("/v1/chain"), lambda body: True)]

    async def attempt(client: Client, i: int, start: float, stats: Stats) -> None:
        raw, check = requests[i % len(requests)]
        try:
            try:
                status, body = await client.request(raw, args.timeout)
            except IdleClose:
                stats.retried += 1
                status, body = await client.request(raw, args.timeout)
        except (OSError, TimeoutError) as e:
            stats.error(f"{type(e).__name__}: {e}")
            return
        if status != 200:
            stats.error(f"status {status}")
        elif check(body):
            stats.ok(time.perf_counter() - start, len(body))
        else:
            stats.error(BODY_ERROR)

    async def closed(n: int, client: Client, stop_at: float, stats: Stats) -> None:
        i = n
        while time.perf_counter() < stop_at:
            await attempt(client, i, time.perf_counter(), stats)
            i += args.concurrency

    async def opened(n: int, client: Client, t0: float, stats: Stats) -> None:
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
                client, n + k * args.concurrency, due, stats if due >= window[0] else Stats()
            )
            k += 1

    clients = [Client(host, port) for _ in range(args.concurrency)]
    stats = Stats()
    if args.rate > 0:
        t0 = time.perf_counter() + 0.1
        await asyncio.gather(*(opened(n, c, t0, stats) for n, c in enumerate(clients)))
        # Answered per second: from the window's start to its last answer, which is
        # later than the window's end when the server falls behind the schedule.
        elapsed = max(args.seconds, stats.last_answer - (t0 + args.warmup))
        # Due times in [warmup, warmup + seconds): the requests the window asked for.
        lo, hi = args.warmup * args.rate, (args.warmup + args.seconds) * args.rate
        scheduled = math.ceil(hi) - math.ceil(lo)
    else:
        # Warm-up: open the connections before the clock starts.
        warm = time.perf_counter() + args.warmup
        await asyncio.gather(*(closed(n, c, warm, Stats()) for n, c in enumerate(clients)))
        t0 = time.perf_counter()
        await asyncio.gather(
            *(closed(n, c, t0 + args.seconds, stats) for n, c in enumerate(clients))
        )
        elapsed = time.perf_counter() - t0
        scheduled = None
    for c in clients:
        if c.conn is not None and c.conn.transport is not None:
            c.conn.transport.close()
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
        "retried": stats.retried,
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
