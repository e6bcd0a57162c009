"""The fault scenarios, each a plain function with its sizes as arguments: the suite
runs them small (``tests/faults/test_faults.py``), the campaign runs them long
(``python -m tests.faults.campaign``). Each returns a short record of what it did and
raises ``AssertionError`` when an invariant breaks."""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.faults.harness import (
    META,
    Ack,
    Findings,
    Server,
    UploadStream,
    bearer,
    check_invariants,
    free_port,
    health,
    init_embedded_home,
    init_rpc_home,
    pdf,
    setup_operator,
    wait_for,
)

Echo = Callable[[str], None]

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test"


@contextmanager
def pg_database() -> Iterator[tuple[str, str]]:
    """A fresh PostgreSQL database: (name, SQLAlchemy URL); dropped afterwards."""
    name = f"notary_faults_{secrets.token_hex(6)}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield name, f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _no_server_errors(stream: UploadStream, allowed: set[int]) -> None:
    assert not stream.bad_answers, stream.bad_answers[:5]
    unexpected = {s: n for s, n in stream.statuses.items() if s != 201 and s not in allowed}
    assert not unexpected, f"unexpected answers under the fault: {unexpected}"


# --- kill -9 of the server --------------------------------------------------------------


@dataclass
class Trial:
    number: int
    seed: int
    phase: str  # "ingest": killed with uploads in flight; "anchoring": after them
    delay_s: float
    acked: int
    pending_at_kill: int | None
    restart_s: float
    findings: Findings | None = None


@dataclass
class KillReport:
    seed: int
    trials: list[Trial] = field(default_factory=list)
    final: Findings | None = None


def kill9(
    workdir: Path,
    *,
    trials: int,
    seed: int,
    database_url: str = "",
    echo: Echo = print,
) -> KillReport:
    """SIGKILL a real ``notary serve`` at random points, ``trials`` times.

    Every third trial kills shortly after the last acknowledged upload, while its
    checkpoint is being signed and anchored ("anchoring"); the others kill while
    uploads stream in ("ingest"; anchoring runs meanwhile every 0.2 s). Trial ``i``
    draws the number of upload workers and the delays from ``random.Random(seed + i)``.
    After each restart every invariant of ``harness.check_invariants`` must hold for the
    trial's acknowledgements; at the end for all of them.
    """
    home = init_embedded_home(workdir / "home", database_url=database_url)
    server = Server(home, workdir / "server.log", chain_rpc_port=free_port())
    report = KillReport(seed)
    all_acks: list[Ack] = []
    server.start()
    try:
        key, volume = setup_operator(server.base, home.admin_key)
        for i in range(trials):
            rng = random.Random(seed + i)
            # Every third trial kills during anchoring, so that any run covers both.
            phase = "anchoring" if i % 3 == 2 else "ingest"
            workers = rng.choice([1, 2, 4])
            delay = rng.uniform(0.05, 1.5) if phase == "ingest" else rng.uniform(0.0, 1.2)
            stream = UploadStream(server.base, key, volume, workers=workers).start()
            try:
                wait_for(lambda s=stream: s.acks, 30, "a first acknowledged upload", 0.01)
                if phase == "anchoring":
                    time.sleep(rng.uniform(0.1, 0.6))
                    stream.stop()
                    pending = _pending(server.base)
                    time.sleep(delay)
                else:
                    time.sleep(delay)
                    pending = None
                server.kill9()
            finally:
                stream.stop()
            restart = server.start()
            findings = check_invariants(server.base, key, stream.acks, server.rpc_url, home)
            all_acks += stream.acks
            trial = Trial(i, seed + i, phase, delay, len(stream.acks), pending, restart, findings)
            report.trials.append(trial)
            echo(
                f"kill -9 trial {i:3d} seed {seed + i} {phase:9s} workers {workers} "
                f"after {delay:.2f} s: {len(stream.acks)} acknowledged, "
                f"log {findings.log_size}, {findings.anchored_checkpoints} checkpoints "
                f"anchored once each, restart {restart:.1f} s"
            )
        report.final = check_invariants(server.base, key, all_acks, server.rpc_url, home)
        echo(f"kill -9: all {len(all_acks)} acknowledged uploads present; {report.final}")
    finally:
        server.stop()
    return report


def _pending(base: str) -> int | None:
    a = health(base).get("checks", {}).get("anchoring", {}).get("detail", {})
    # Entries not yet covered by an anchored checkpoint: the anchoring work in flight.
    return None if not a else int(a["log_size"]) - int(a["anchored_tree_size"])


# --- the chain node down -----------------------------------------------------------------


@dataclass
class OutageReport:
    down_s: float
    acked_during: int
    health_503: int
    health_polls: int
    statuses: dict[int, int]
    recovery_s: float
    findings: Findings


def chain_down(workdir: Path, *, down_s: float, echo: Echo = print) -> OutageReport:
    """anvil stopped for ``down_s`` under a stream of uploads, then restarted from its
    ``--state`` file: uploads stay acknowledged, health says the chain is down (503),
    nothing answers 500, and afterwards every checkpoint is anchored exactly once."""
    from notary.chain.anvil import AnvilProcess, dev_private_keys

    anvil = AnvilProcess(state_file=workdir / "anvil-state.json", log_file=workdir / "anvil.log")
    anvil.start()
    server: Server | None = None
    try:
        admin_key, centre_key = dev_private_keys(2)
        home = init_rpc_home(workdir / "home", anvil.url, admin_key, centre_key)
        server = Server(home, workdir / "server.log")
        server.start()
        key, volume = setup_operator(server.base, home.admin_key)
        with UploadStream(server.base, key, volume, workers=2) as stream:
            wait_for(lambda: len(stream.acks) >= 5, 30, "uploads before the outage")
            anvil.stop()
            echo(f"chain down: anvil stopped for {down_s:.0f} s")
            t0 = time.monotonic()
            before = len(stream.acks)
            polls = down = 0
            while time.monotonic() - t0 < down_s:
                r = httpx.get(f"{server.base}/v1/health", timeout=30)
                polls += 1
                if r.status_code == 503 and r.json()["checks"]["chain"]["status"] == "down":
                    down += 1
                time.sleep(0.5)
            acked_during = len(stream.acks) - before
            anvil.start()
            t1 = time.monotonic()
            time.sleep(1.0)
        _no_server_errors(stream, allowed=set())
        assert acked_during > 0, "no upload was acknowledged while the chain was down"
        assert down >= polls - 2, f"health said 503/chain down in only {down} of {polls} polls"
        findings = check_invariants(server.base, key, stream.acks, anvil.url, home, timeout=90)
        recovery = time.monotonic() - t1
        report = OutageReport(
            down_s, acked_during, down, polls, dict(stream.statuses), recovery, findings
        )
        echo(
            f"chain down {down_s:.0f} s: {acked_during} uploads acknowledged during the outage, "
            f"health 503 in {down}/{polls} polls, answers {stream.statuses}; "
            f"all anchored exactly once {recovery:.1f} s after restart: {findings}"
        )
        return report
    finally:
        if server is not None:
            server.stop()
        anvil.stop()


# --- the IPFS node down ------------------------------------------------------------------


@dataclass
class StoreOutageReport:
    down_answers: dict[str, int]
    findings: Findings


def _problem(r: httpx.Response) -> bool:
    return r.headers.get("content-type", "").startswith("application/problem+json")


def ipfs_down(workdir: Path, *, down_s: float, echo: Echo = print) -> StoreOutageReport:
    """The content store is a js-ipfs node (Kubo RPC API): stopped, uploads and content
    reads answer 503 problem+json (never 500, never other bytes); verify-by-SM3 (database
    and chain only) still answers; after a restart everything reads back intact."""
    from notary.store.jsipfs import JsIpfsNode

    node = JsIpfsNode(workdir / "ipfs", api_port=free_port())
    node.start()
    server: Server | None = None
    try:
        home = init_embedded_home(workdir / "home", store=node.api_url)
        server = Server(home, workdir / "server.log", chain_rpc_port=free_port())
        server.start()
        key, volume = setup_operator(server.base, home.admin_key)
        c = httpx.Client(base_url=server.base, timeout=60, headers=bearer(key))
        contents: dict[str, bytes] = {}
        acks: list[Ack] = []

        def upload(i: int) -> httpx.Response:
            content = pdf(f"ipfs outage {i} {secrets.token_hex(8)}")
            r = c.post(
                f"/v1/volumes/{volume}/materials",
                data=META,
                files={"file": ("m.pdf", content, "application/pdf")},
            )
            if r.status_code == 201:
                body = r.json()
                contents[body["id"]] = content
                acks.append(Ack(body["id"], body["leaf_index"], body["sm3"]))
            return r

        for i in range(3):
            assert upload(i).status_code == 201
        node.stop()
        answers: dict[str, int] = {}
        t0 = time.monotonic()
        i = 100
        while time.monotonic() - t0 < down_s:
            up = upload(i)
            i += 1
            mid = next(iter(contents))
            read = c.get(f"/v1/materials/{mid}/content", params={"purpose": "故障测试"})
            digest = acks[0].sm3
            ver = c.post("/v1/verify", json={"sm3": digest})
            hz = httpx.get(f"{server.base}/v1/health", timeout=30)
            for name, r, want in (("upload", up, 503), ("read", read, 503), ("health", hz, 503)):
                answers[f"{name} {r.status_code}"] = answers.get(f"{name} {r.status_code}", 0) + 1
                assert r.status_code == want, f"{name} with IPFS down: {r.status_code} {r.text}"
                if name != "health":
                    assert _problem(r), r.headers
            assert ver.status_code == 200 and ver.json()["found"], ver.text
            assert hz.json()["checks"]["store"]["status"] == "down"
            time.sleep(0.5)
        node.start()
        for i in range(3):
            assert upload(200 + i).status_code == 201
        for mid, content in contents.items():
            r = c.get(f"/v1/materials/{mid}/content", params={"purpose": "故障测试"})
            assert r.status_code == 200 and r.content == content, r.status_code
        c.close()
        findings = check_invariants(server.base, key, acks, server.rpc_url, home)
        echo(
            f"IPFS down {down_s:.0f} s: answers {answers}; after restart all read back; {findings}"
        )
        return StoreOutageReport(answers, findings)
    finally:
        if server is not None:
            server.stop()
        node.stop()


# --- the database connection dropped -----------------------------------------------------


@dataclass
class DbDropReport:
    rounds: int
    terminated: int
    statuses: dict[int, int]
    findings: Findings


def db_drop(workdir: Path, *, rounds: int, echo: Echo = print) -> DbDropReport:
    """PostgreSQL terminates every backend of the service, ``rounds`` times, under a
    stream of uploads: requests fail cleanly (503 problem+json) or succeed, nothing
    acknowledged is lost, anchoring resumes and anchors each checkpoint once."""
    with pg_database() as (name, url):
        home = init_embedded_home(workdir / "home", database_url=url)
        server = Server(home, workdir / "server.log", chain_rpc_port=free_port())
        server.start()
        terminated = 0
        try:
            key, volume = setup_operator(server.base, home.admin_key)
            with (
                psycopg.connect(PG_ADMIN, autocommit=True) as admin,
                UploadStream(server.base, key, volume, workers=4) as stream,
            ):
                for _ in range(rounds):
                    time.sleep(random.uniform(0.3, 1.0))
                    terminated += sum(
                        1
                        for (ok,) in admin.execute(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = %s AND pid <> pg_backend_pid()",
                            (name,),
                        )
                        if ok
                    )
                time.sleep(1.0)
            _no_server_errors(stream, allowed={503})
            findings = check_invariants(server.base, key, stream.acks, server.rpc_url, home)
        finally:
            server.stop()
    echo(
        f"database dropped {rounds} times ({terminated} backends terminated): "
        f"answers {stream.statuses}; {findings}"
    )
    return DbDropReport(rounds, terminated, dict(stream.statuses), findings)


__all__: list[Any] = ["chain_down", "db_drop", "ipfs_down", "kill9", "pg_database"]
