"""Load on a real ``notary serve``: verify-by-SM3 and verify-on-read under 300 clients.

Run: ``python benches/bench_load.py [--seconds 60] [--concurrency 300] [--workers 2]``;
writes ``benches/results/load.md``.

A fresh embedded deployment (SQLite, embedded chain, local store) is seeded through
the API with ``--materials`` 2 MB PDFs and anchored; then a SECOND process
(``benches/load_client.py``, asyncio + aiohttp keep-alive clients) drives it on
127.0.0.1 for ``--seconds`` per run:

- baseline: ``GET /v1/chain`` (no auth, no database): what this server and client
  reach on this machine at all;
- verify-by-SM3: ``POST /v1/verify {"sm3"}`` — goal (issue 5) p99 ≤ 50 ms, ≥ 1,500
  requests/s, 0 errors;
- verify-on-read: ``GET /v1/materials/{id}/content`` of 2 MB materials (CID, SM4-GCM,
  SM3, inclusion and anchor checked, the read logged before the bytes go out) — goal
  (issue 8) 0 errors, latencies recorded.

Client and server share the machine's cores; the figures are for both together.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, header, write

from notary._internal.net import free_port

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

MB = 1 << 20


def material(i: int, size: int = 2 * MB) -> bytes:
    """A 2 MB PDF (a valid header and trailer around incompressible scan-like bytes)."""
    head = f"%PDF-1.4\n% load material {i} {secrets.token_hex(8)}\n".encode()
    tail = b"\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    return head + os.urandom(size - len(head) - len(tail)) + tail


def seed(
    base: str | httpx.Client, admin: str, security: str, count: int
) -> tuple[str, list[tuple[str, str]], float]:
    """A unit, an operator key (issued by the admin, approved by the security
    administrator), a volume and ``count`` anchored materials; and the upload rate in
    MB/s (one client, one upload after another, anchoring not waited). ``base``: the
    server's URL, or a client of it (an in-process ``TestClient``)."""
    client = httpx.Client(base_url=base, timeout=120) if isinstance(base, str) else base
    with contextlib.nullcontext(client) if client is base else client as c:
        h = {"Authorization": f"Bearer {admin}"}
        unit = (
            c.post(
                "/v1/units",
                json={"code": "LOAD", "name": "负载测试单位", "kind": "unit"},
                headers=h,
            )
            .raise_for_status()
            .json()["id"]
        )
        issued = (
            c.post(f"/v1/units/{unit}/keys", json={"role": "operator"}, headers=h)
            .raise_for_status()
            .json()
        )
        c.post(
            f"/v1/units/{unit}/keys/{issued['id']}/approve",
            headers={"Authorization": f"Bearer {security}"},
        ).raise_for_status()
        key = issued["key"]
        h = {"Authorization": f"Bearer {key}"}
        vol = c.post(
            "/v1/volumes", json={"cadre_identifier": "110101198001010011", "kind": "main"},
            headers=h,
        ).raise_for_status().json()["id"]  # fmt: skip
        out: list[tuple[str, str]] = []
        payloads = [material(i) for i in range(count)]
        t0 = time.perf_counter()
        for i, payload in enumerate(payloads):
            r = c.post(
                f"/v1/volumes/{vol}/materials",
                data={"category": "9-1", "seq_no": str(i + 1), "pages": "3",
                      "title": "工资审批表", "formation_date": "2010-03-15"},
                files={"file": (f"m{i}.pdf", payload, "application/pdf")},
                headers=h,
            ).raise_for_status().json()  # fmt: skip
            out.append((r["id"], r["sm3"]))
        upload_mb_s = sum(map(len, payloads)) / (time.perf_counter() - t0) / 1e6
        deadline = time.monotonic() + 120
        for mid, _ in out:
            while c.get(f"/v1/materials/{mid}/receipt", headers=h).status_code != 200:
                if time.monotonic() > deadline:
                    raise TimeoutError("seeded materials were not anchored in 120 s")
                time.sleep(0.2)
        return key, out, upload_mb_s


def wait_for_processes(base: str, count: int, timeout_s: float = 60) -> set[int]:
    """The pids of the serving processes, asked over new connections (the kernel spreads
    them over the processes) until ``count`` have answered: a worker still starting
    would otherwise miss the load clients' connections, all opened at once."""
    seen: set[int] = set()
    deadline = time.monotonic() + timeout_s
    while len(seen) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(seen)} of {count} serving processes answered")
        try:
            health = httpx.get(f"{base}/v1/health", timeout=5).json()
            seen.add(health["checks"]["process"]["detail"]["pid"])
        except httpx.HTTPError:
            time.sleep(0.1)
    return seen


@dataclass(slots=True)
class Served:
    base: str
    admin: str
    security: str
    pids: list[int]  # the supervisor's and the serving processes'
    show_log: bool = False  # set when requests failed: the server's side of them


@contextlib.contextmanager
def serving(workers: int) -> Iterator[Served]:
    """A fresh embedded deployment (SQLite, embedded chain, local store) served by
    :func:`serve_home`."""
    from transfer.roles import Role
    from transfer.services.setup import init_home

    with tempfile.TemporaryDirectory(prefix="notary-load-") as tmp:
        home = Path(tmp) / "home"
        keys = init_home(home, origin="load.archive-notary/log", centre_code="LOADC",
                         centre_name="负载测试中心")  # fmt: skip
        admin = next(k.key for k in keys.keys if k.role is Role.ADMIN)
        security = next(k.key for k in keys.keys if k.role is Role.SECURITY)
        with serve_home(home, workers, admin, security) as served:
            yield served


@contextlib.contextmanager
def serve_home(home: Path, workers: int, admin: str, security: str) -> Iterator[Served]:
    """``notary serve --workers N --no-access-log`` of ``home`` on a free loopback port,
    every serving process answering. The server's log is printed when the block raised
    or set ``show_log``."""
    with tempfile.TemporaryDirectory(prefix="notary-serve-") as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log_path = Path(tmp) / "server.log"
        log = log_path.open("wb")
        server = subprocess.Popen(
            # No access log: one log line per request cost ~14 % of a verify call's
            # CPU (load.md); a deployment behind a reverse proxy logs there.
            [str(Path(sys.executable).parent / "notary"), "serve", "--home", str(home),
             "--port", str(port), "--no-access-log", "--workers", str(workers)],
            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        failed = True
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/v1/chain", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("notary serve did not start")
                time.sleep(0.1)
            serving = wait_for_processes(base, workers)
            print(f"{len(serving)} serving processes: {sorted(serving)}", flush=True)
            served = Served(base, admin, security, [server.pid, *sorted(serving)])
            yield served
            failed = served.show_log
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
            log.close()
            if failed:
                tail = log_path.read_text("utf-8", errors="replace")[-20_000:]
                print(f"--- server log (end) ---\n{tail}", file=sys.stderr)


def drive(base: str, key: str, mode: str, extra: list[str], args: argparse.Namespace) -> Any:
    what, _, loop = mode.partition("-")
    rate = ["--rate", str(args.rate)] if loop == "open" else []
    cmd = [sys.executable, str(HERE / "load_client.py"), "--url", base, "--key", key,
           "--mode", what, "--concurrency", str(args.concurrency),
           "--seconds", str(args.seconds), *rate, *extra]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--concurrency", type=int, default=300)
    ap.add_argument("--materials", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2, help="notary serve --workers")
    ap.add_argument(
        "--rate", type=float, default=1500, help="requests/s in all of the open-loop runs"
    )
    ap.add_argument("--modes", nargs="*", default=list(NAMES))
    ap.add_argument("--note", default="", help="a line for the result file (what changed)")
    ap.add_argument("--out", default="load")
    args = ap.parse_args()
    # Taken now: the load average "at start" is the one before the server and clients.
    title = header("Load: verify-by-SM3 and verify-on-read under concurrent clients")

    results: dict[str, Any] = {}
    with serving(args.workers) as served:
        base = served.base
        t0 = time.perf_counter()
        key, mats, upload_mb_s = seed(base, served.admin, served.security, args.materials)
        print(f"seeded {len(mats)} × 2 MB in {time.perf_counter() - t0:.1f} s "
              f"(uploads {upload_mb_s:.1f} MB/s)", flush=True)  # fmt: skip
        for mode in args.modes:
            if mode.startswith("sm3"):
                extra = ["--sm3", *(d for _, d in mats)]
            elif mode == "read":
                extra = ["--target", *(f"{m}={d}" for m, d in mats)]
            else:
                extra = []
            results[mode] = drive(base, key, mode, extra, args)
        served.show_log = any(r["errors"] for r in results.values())
    report(title, results, upload_mb_s, args)


HISTORY = "## History (earlier runs, kept across reruns)"

GOALS = {
    "chain": "baseline (framework + client ceiling)",
    "sm3": "saturation (no goal of its own)",
    "chain-open": "baseline at the goal's rate",
    "sm3-open": "p99 ≤ 50 ms, ≥ 1,500 req/s, 0 errors",
    "read": "0 errors, latencies recorded",
}
NAMES = {
    "chain": "`GET /v1/chain` closed loop (baseline)",
    "sm3": "verify-by-SM3 `POST /v1/verify` closed loop",
    "chain-open": "`GET /v1/chain` open loop (baseline)",
    "sm3-open": "verify-by-SM3 `POST /v1/verify` open loop",
    "read": "verify-on-read 2 MB `GET …/content` closed loop",
}


def pipeline_ingest_mb_s() -> tuple[float, str] | None:
    """The content-pipeline benchmark's ingest rate (benches/results/pipeline.md) and
    the date of that run, when it has one."""
    path = RESULTS / "pipeline.md"
    if not path.exists():
        return None
    text = path.read_text("utf-8")
    rate = re.search(r"^\| ingest: [^|]*\| *([0-9.]+) *\|", text, re.M)
    date = re.search(r"^- date: (.*)$", text, re.M)
    if rate is None:
        return None
    return float(rate.group(1)), date.group(1) if date else "?"


def goal_met(r: dict[str, Any], rate: float) -> str:
    met = (
        rate >= 1500
        and r["errors"] == 0
        and r["requests"] >= (r["scheduled"] or 0)
        and r["p99_ms"] <= 50
    )
    return "**met**" if met else "**not met**"


def report(
    title: str, results: dict[str, Any], upload_mb_s: float, args: argparse.Namespace
) -> None:
    lines = [
        title,
        f"- {args.concurrency} concurrent keep-alive clients in a second process "
        f"(`benches/load_client.py`), {args.seconds:g} s per run, loopback; "
        f"server `notary serve --workers {args.workers} --no-access-log` (uvicorn on "
        f"uvloop + httptools; {args.workers} process(es) on the port), embedded "
        f"deployment (SQLite, embedded chain, local store), {args.materials} anchored "
        f"2 MB materials",
        "- closed loop: each client sends its next request when the last one answers "
        "(saturation throughput; latency = clients / throughput); open loop: the "
        f"{args.concurrency} clients' requests are scheduled at {args.rate:,g} requests/s "
        f"in all ({args.rate / args.concurrency:g}/s each) and each latency is measured "
        "from its scheduled send time (no coordinated omission); its requests/s are "
        "those answered, from the window's start to the last answer (below the rate when "
        "the server falls behind)",
    ]
    if args.note:
        lines.append(f"- {args.note}")
    lines += [
        "",
        "| run | requests/s | p50 ms | p95 ms | p99 ms | max ms | errors | MB/s | goal |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for mode, r in results.items():
        goal = GOALS[mode]
        if mode == "sm3-open":
            goal += f": {goal_met(r, args.rate)}"
            if r["requests"] < r["scheduled"]:
                goal += f" ({r['requests']:,} of {r['scheduled']:,} scheduled answered)"
        lines.append(
            f"| {NAMES[mode]} | {r['rps']:,} | {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} "
            f"| {r['max_ms']} | {r['errors']} | {r['mb_per_s']} | {goal} |"
        )
    lines.append("")
    base = results.get("chain")
    if base and "sm3" in results:
        lines.append(
            f"- closed loop: verify-by-SM3 reaches {results['sm3']['rps'] / base['rps']:.2f}× "
            "the baseline's requests/s in the same run."
        )
    base = results.get("chain-open")
    if base and "sm3-open" in results:
        lines.append(
            f"- open loop at {args.rate:,g} requests/s: verify-by-SM3 p99 "
            f"{results['sm3-open']['p99_ms']} ms against the baseline's "
            f"{base['p99_ms']} ms in the same run."
        )
    pipeline = pipeline_ingest_mb_s()
    versus = (
        f"; the content-pipeline benchmark's ingest (in-process, no HTTP) was "
        f"{pipeline[0]:g} MB/s ({pipeline[1]}), so the API reaches "
        f"{upload_mb_s / pipeline[0]:.2f}× of it"
        if pipeline
        else ""
    )
    lines.append(
        f"- upload through the API (seeding: one client, {args.materials} × 2 MB one after "
        f"another, multipart, sealed, stored with fsync): {upload_mb_s:.1f} MB/s{versus}."
    )
    # Earlier runs worth keeping (before/after a fix) live below this marker and survive
    # a rerun; the table above is always this run's.
    previous = RESULTS / f"{args.out}.md"
    history = ""
    if previous.exists() and HISTORY in previous.read_text("utf-8"):
        history = previous.read_text("utf-8").split(HISTORY, 1)[1]
    text = "\n".join(lines) + "\n"
    if history:
        text += "\n" + HISTORY + history
    path = write(args.out, text)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
