"""The fault scenarios, each a plain function with its sizes as arguments: the suite
runs them small (``tests/faults/test_faults.py``), the campaign runs them long
(``python -m tests.faults.campaign``). Each returns a short record of what it did and
raises ``AssertionError`` when an invariant breaks."""

from __future__ import annotations

import contextlib
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from notary._internal.net import free_port
from tests.faults.harness import (
    META,
    TRANSFER_STEPS,
    Ack,
    Findings,
    Home,
    Server,
    TransferRun,
    UploadStream,
    account_nonce,
    bearer,
    chain_reader,
    check_invariants,
    health,
    init_embedded_home,
    init_rpc_home,
    init_transfer_parties,
    pdf,
    problem,
    setup_operator,
    transfer_agrees,
    wait_all_anchored,
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
    server = Server(home.path, workdir / "server.log", chain_rpc_port=free_port())
    report = KillReport(seed)
    all_acks: list[Ack] = []
    server.start()
    try:
        key, volume = setup_operator(server.base, home.admin_key, home.security_key)
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


# --- kill -9 during a transfer -------------------------------------------------------------

# The order trials go through the steps: every run of 7 trials kills inside each step
# once, the answer both ways.
_TRANSFER_ORDER = (
    ("dispatch", None),
    ("answer", "accept"),
    ("answer", "reject"),
    ("package", None),
    ("deliver", None),
    ("verify", None),
    ("create", None),
)


@dataclass
class TransferTrial:
    number: int
    seed: int
    step: str  # the step whose request was in flight at the kill
    answer: str  # accept | reject
    # "chain": killed the moment the step's transaction showed on chain (between the
    # chain and the database commit); "delay": after a random part of the step's time.
    mode: str
    delay_s: float
    answered: int | None  # the interrupted request's status, if it came back first
    state_at_restart: str | None
    converged_s: float
    # The service's outbox finished the step (it had been left between chain and commit).
    outbox: bool
    retry: int  # the status of the interrupted step retried after the restart
    restart_s: float


@dataclass
class TransferKillReport:
    seed: int
    latency: dict[str, float] = field(default_factory=dict)
    trials: list[TransferTrial] = field(default_factory=list)
    final: Findings | None = None


def _agreed(run: TransferRun, rpc_url: str, home: Home, timeout: float = 30) -> float:
    """Seconds until the transfer's state and the chain agree (the outbox finishes what a
    kill left between the chain and the database)."""
    t0 = time.monotonic()
    reader = chain_reader(rpc_url, home)
    while (diff := transfer_agrees(run, reader)) is not None:
        assert time.monotonic() - t0 < timeout, f"{run.transfer_id} never agreed: {diff}"
        time.sleep(0.1)
    return time.monotonic() - t0


def _chain_moved(run: TransferRun, rpc_url: str, home: Home, step: str, timeout: float) -> float:
    """Poll the chain until the step's transaction is there (or ``timeout``)."""
    from notary.chain.models import CustodyState

    reader = chain_reader(rpc_url, home)
    view = run.view()
    assert view is not None
    (chain_hex,) = view["chain_volumes"].values()
    vid = bytes.fromhex(chain_hex)
    want = CustodyState.IN_TRANSIT if step == "dispatch" else CustodyState.HELD
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        custody = reader.custody_state(vid)
        if custody is not None and custody.state is want:
            break
    return time.monotonic() - t0


def _request(run: TransferRun, step: str, out: list[httpx.Response]) -> None:
    """The step's request, whose answer (if it comes before the kill) lands in ``out``."""
    with contextlib.suppress(httpx.TransportError):
        out.append(run.request(step))


def kill9_transfer(
    workdir: Path,
    *,
    trials: int,
    seed: int,
    database_url: str = "",
    echo: Echo = print,
) -> TransferKillReport:
    """SIGKILL a real ``notary serve`` inside a step of a transfer between two units it
    hosts, ``trials`` times, each trial a fresh volume of two materials.

    Trial ``i`` kills inside step ``_TRANSFER_ORDER[i % 7]``; in the first, third, …
    round of seven, dispatch and answer trials are killed the moment their transaction
    shows on chain (the window between the chain and the database commit); otherwise
    after a delay drawn from ``random.Random(seed + i)`` over the step's measured time.
    After each restart: an acknowledged step is still there; the transfer's state and
    the chain's custody agree (within 30 s); the step retried completes or is refused
    with a problem (409), never a 5xx; finished, the transfer has one dispatch and one
    answer on chain and in its timeline (each hosted account sent exactly its
    transactions); the log and every anchored checkpoint hold (``check_invariants``).
    """
    home = init_embedded_home(workdir / "home", database_url=database_url)
    parties = init_transfer_parties(home)
    server = Server(home.path, workdir / "server.log", chain_rpc_port=free_port())
    report = TransferKillReport(seed)
    acks: list[Ack] = []
    readers: dict[str, str] = {}
    finished = 0
    server.start()
    try:
        # One transfer unkilled first: how long each step takes here, to aim the kills.
        warm = TransferRun(server.base, parties, "accept")
        warm.upload(2)
        for step in TRANSFER_STEPS:
            t0 = time.monotonic()
            warm.perform(step)
            report.latency[step] = time.monotonic() - t0
        _agreed(warm, server.rpc_url, home)
        acks += warm.acks
        readers |= warm.key_for_materials()
        finished += 1
        echo(
            "kill -9 transfer: step times unkilled "
            + ", ".join(f"{k} {v:.2f} s" for k, v in report.latency.items())
        )
        for i in range(trials):
            rng = random.Random(seed + i)
            step, answer = _TRANSFER_ORDER[i % len(_TRANSFER_ORDER)]
            answer = answer or rng.choice(["accept", "accept", "reject"])
            on_chain = step in ("dispatch", "answer") and (i // len(_TRANSFER_ORDER)) % 2 == 0
            mode = "chain" if on_chain else "delay"
            run = TransferRun(server.base, parties, answer)
            run.upload(2)
            index = TRANSFER_STEPS.index(step)
            for before in TRANSFER_STEPS[:index]:
                run.perform(before)
            if step == "package":  # else it answers 503 at once (not anchored yet)
                wait_all_anchored(server.base, max(a.leaf_index for a in run.acks) + 1)
            answered: list[httpx.Response] = []
            thread = threading.Thread(target=_request, args=(run, step, answered), daemon=True)
            thread.start()
            if on_chain:
                delay = _chain_moved(run, server.rpc_url, home, step, 30)
            else:
                delay = rng.uniform(0.0, 1.2 * report.latency[step])
                time.sleep(delay)
            server.kill9()
            thread.join(timeout=60)
            status = answered[0].status_code if answered else None
            if answered and status not in (200, 201):
                assert status != 500 and problem(answered[0]), answered[0].text
            restart = server.start()
            run.base = server.base
            # 1. An acknowledged step is still there.
            progress = run.progress()
            assert progress >= index + (1 if status in (200, 201) else 0), (
                f"step {step} acknowledged ({status}) but the transfer is at {progress}"
            )
            state_at_restart = (run.view() or {}).get("state")
            # 2. The database and the chain agree, or converge.
            converged = _agreed(run, server.rpc_url, home)
            outbox = f"转递 {run.transfer_id}：中断前未完成的" in server.log.read_text(
                "utf-8", errors="replace"
            )
            # 3. The interrupted step retried: done, or refused clearly.
            while True:
                retry = run.request(step)
                if not (step == "package" and retry.status_code == 503):
                    break
                time.sleep(0.2)
            assert retry.status_code in (200, 201) or (
                retry.status_code == 409 and problem(retry)
            ), f"retry of {step}: {retry.status_code} {retry.text[:300]}"
            # 4. Finished: one dispatch, one answer; no second receipt.
            run.finish()
            _agreed(run, server.rpc_url, home)
            again = run.request("answer")
            if answer == "accept":
                assert again.status_code == 200, f"a second receipt: {again.status_code}"
            else:
                assert again.status_code == 409 and problem(again), again.text
            view = run.view()
            assert view is not None
            events = [e["event"] for e in run.timeline()["events"]]
            counts = {e: events.count(e) for e in ("create", "dispatch", "deliver")}
            assert counts == {"create": 1, "dispatch": 1, "deliver": 1}, events
            want = {"accept": int(answer == "accept"), "custody": int(answer == "accept")}
            want["reject"] = int(answer == "reject")
            assert {e: events.count(e) for e in want} == want, events
            reader = chain_reader(server.rpc_url, home)
            (chain_hex,) = view["chain_volumes"].values()
            custody = reader.custody_state(bytes.fromhex(chain_hex))
            assert custody is not None and custody.transfers == 1, custody
            finished += 1
            # Each transfer: the sender registers and dispatches, the receiver answers.
            sent = account_nonce(server.rpc_url, parties.sender_account)
            answers = account_nonce(server.rpc_url, parties.receiver_account)
            assert (sent, answers) == (2 * finished, finished), (
                f"{sent} sender / {answers} receiver transactions for {finished} transfers"
            )
            acks += run.acks
            readers |= run.key_for_materials()
            findings = check_invariants(
                server.base, parties.sender_key, acks, server.rpc_url, home, key_for=readers
            )
            report.trials.append(
                TransferTrial(
                    i, seed + i, step, answer, mode, delay, status, state_at_restart,
                    converged, outbox, retry.status_code, restart,
                )
            )  # fmt: skip
            echo(
                f"kill -9 transfer trial {i:3d} seed {seed + i} {step:8s} ({answer}) "
                f"{mode:5s} after {delay:.2f} s: answered {status or '-'}, "
                f"{state_at_restart or 'absent'} at restart, chain agrees after "
                f"{converged:.1f} s{' (outbox finished it)' if outbox else ''}, "
                f"retry {retry.status_code}, {view['state']} with one "
                f"dispatch and one answer; log {findings.log_size}, "
                f"{findings.anchored_checkpoints} checkpoints anchored once each, "
                f"restart {restart:.1f} s"
            )
        report.final = check_invariants(
            server.base, parties.sender_key, acks, server.rpc_url, home, key_for=readers
        )
        echo(f"kill -9 transfer: {finished} transfers, all consistent; {report.final}")
    finally:
        server.stop()
    return report


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
        server = Server(home.path, workdir / "server.log")
        server.start()
        key, volume = setup_operator(server.base, home.admin_key, home.security_key)
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
        server = Server(home.path, workdir / "server.log", chain_rpc_port=free_port())
        server.start()
        key, volume = setup_operator(server.base, home.admin_key, home.security_key)
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
        server = Server(home.path, workdir / "server.log", chain_rpc_port=free_port())
        server.start()
        terminated = 0
        try:
            key, volume = setup_operator(server.base, home.admin_key, home.security_key)
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


__all__: list[Any] = [
    "chain_down",
    "db_drop",
    "ipfs_down",
    "kill9",
    "kill9_transfer",
    "pg_database",
]
