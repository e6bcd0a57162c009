"""``notary serve --workers N``: N processes serve the API on one port; their supervisor
holds the embedded chain, anchors and runs the outbox, and the workers reach the chain
through it."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from clients.demo import sample_pdf
from clients.sdk import NotaryClient
from notary.crypto import sm3
from tests._support.served import RawConnection, Service, running_service
from transfer.serving import Workers

pytestmark = pytest.mark.slow  # worker processes of notary serve, killed and replaced

VOLUMES = iter(range(1, 1000))


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with running_service(tmp_path_factory.mktemp("workers") / "home", workers=3) as svc:
        yield svc


def processes(url: str, count: int, timeout_s: float = 60) -> dict[int, bool]:
    """pid → background_duties of the serving processes, asked over new connections
    (the kernel spreads them over the processes) until ``count`` have answered."""
    seen: dict[int, bool] = {}
    deadline = time.monotonic() + timeout_s
    while len(seen) < count:
        assert time.monotonic() < deadline, f"only {seen} answered"
        try:
            detail = httpx.get(f"{url}/v1/health", timeout=5).json()["checks"]["process"]
        except httpx.HTTPError:
            time.sleep(0.1)
            continue
        seen[detail["detail"]["pid"]] = detail["detail"]["background_duties"]
    return seen


def pinned(url: str, key: str, pid: int) -> NotaryClient:
    """A client whose keep-alive connection is served by process ``pid``."""
    for _ in range(500):
        client = NotaryClient(url, key)
        if client.health()["checks"]["process"]["detail"]["pid"] == pid:
            return client
        client.close()
    raise AssertionError(f"no connection reached process {pid}")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_workers_serve_and_their_supervisor_has_the_background_duties(service: Service) -> None:
    procs = processes(service.url, 3)
    assert len(procs) == 3 and service.pid not in procs
    assert not any(procs.values())
    for pid in procs:  # every worker names the supervisor's chain endpoint for third parties
        with pinned(service.url, service.keys["UNIT-A"], pid) as c:
            assert c.chain_info()["rpc_url"] == service.rpc_url is not None


def test_every_worker_keeps_an_idle_connection_open_past_5_s(service: Service) -> None:
    """``keep_alive_s`` reaches each worker's uvicorn (they read the supervisor's
    settings), not only a single-process ``notary serve``."""
    conns: dict[int, RawConnection] = {}
    deadline = time.monotonic() + 60
    try:
        while len(conns) < 3:
            assert time.monotonic() < deadline, f"only {list(conns)} answered"
            conn = RawConnection(service.url)
            status, body = conn.get("/v1/health")
            pid = json.loads(body)["checks"]["process"]["detail"]["pid"]
            if pid in conns:
                conn.close()
            else:
                conns[pid] = conn
        time.sleep(6.5)  # longer than uvicorn's default keep-alive of 5 s
        for pid, conn in conns.items():
            assert not conn.closed_by_server(), pid
            status, body = conn.get("/v1/health")
            assert status == 200, (pid, body)
            assert json.loads(body)["checks"]["process"]["detail"]["pid"] == pid
    finally:
        for conn in conns.values():
            conn.close()


def test_uploads_through_any_process_are_anchored_and_verified_by_all(
    service: Service, tmp_path: Path
) -> None:
    workers = list(processes(service.url, 3))
    with service.client("UNIT-A") as c:
        vol = str(c.create_volume(f"1101011980{next(VOLUMES):08d}", "main")["id"])
    digests = []
    for i, pid in enumerate(workers * 2):
        path = tmp_path / f"m{i}.pdf"
        path.write_bytes(sample_pdf(f"worker {pid} material {i}"))
        with pinned(service.url, service.keys["UNIT-A"], pid) as c:
            up = c.upload_material(
                vol,
                path,
                category="1",
                seq_no=i + 1,
                pages=1,
                title="履历",
                formation_date="1999-01-01",
            )
            c.receipt(str(up.material["id"]), wait=30)  # anchored by the supervisor
        digests.append(sm3(path.read_bytes()).hex())
    for pid in processes(service.url, 3):
        with pinned(service.url, service.keys["UNIT-A"], pid) as c:
            for digest in digests:
                answer = c.verify_sm3(digest)
                assert answer["found"] and answer["anchored"], (pid, answer)


def test_a_transfer_through_worker_processes_moves_custody_on_chain(
    service: Service, tmp_path: Path
) -> None:
    worker = next(iter(processes(service.url, 3)))
    path = tmp_path / "m.pdf"
    path.write_bytes(sample_pdf("转递"))
    with pinned(service.url, service.keys["UNIT-A"], worker) as a:
        vol = str(a.create_volume(f"1101011980{next(VOLUMES):08d}", "main")["id"])
        up = a.upload_material(
            vol, path, category="1", seq_no=1, pages=1, title="履历", formation_date="1999-01-01"
        )
        a.receipt(str(up.material["id"]), wait=30)
        t = a.create_transfer(
            transfer_no="组转字〔2026〕7号", volume_ids=[vol], receiver="UNIT-B", reason="干部调动"
        )
        tid = str(t["transfer_id"])
        a.transfer_action(tid, "package")
        # registerVolume + dispatchVolume, signed in the worker, sent through the supervisor
        assert a.transfer_action(tid, "dispatch")["state"] == "dispatched"
        assert a.health()["checks"]["process"]["detail"]["pid"] == worker
    with pinned(service.url, service.keys["UNIT-B"], worker) as b:
        b.transfer_action(tid, "deliver")
        b.transfer_action(tid, "verify")
        assert b.transfer_action(tid, "receipt")["state"] == "received"  # receiveVolume
        items = b.volume_provenance(vol)["items"]
        custody = [i for i in items if i["kind"].startswith("custody.")]
        assert len(custody) >= 3 and all(i["verification"]["ok"] for i in custody), custody
        assert b.health()["checks"]["process"]["detail"]["pid"] == worker


def test_a_killed_worker_is_replaced_and_workers_stop_with_their_supervisor(
    tmp_path: Path,
) -> None:
    with running_service(tmp_path / "home", workers=2) as svc:
        killed, _ = processes(svc.url, 2)
        os.kill(killed, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while killed in (procs := processes(svc.url, 2)) or len(procs) < 2:
            assert time.monotonic() < deadline, "the killed worker was not replaced"
            time.sleep(0.5)
        os.kill(svc.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while any(alive(pid) for pid in procs):
            assert time.monotonic() < deadline, "a worker outlived its supervisor"
            time.sleep(0.2)


@pytest.mark.node
def test_workers_on_a_json_rpc_chain_read_the_node_and_every_upload_is_anchored_once(
    tmp_path: Path,
) -> None:
    from notary.chain.anvil import AnvilNotFound, AnvilProcess, dev_private_keys
    from tests.faults.harness import (
        Server,
        UploadStream,
        check_invariants,
        init_rpc_home,
        setup_operator,
        wait_for,
    )

    try:
        anvil = AnvilProcess(log_file=tmp_path / "anvil.log").start()
    except AnvilNotFound as exc:
        pytest.skip(str(exc))
    try:
        home = init_rpc_home(tmp_path / "home", anvil.url, *dev_private_keys(2))
        with Server(home.path, tmp_path / "serve.log", workers=2) as server:
            workers = processes(server.base, 2)
            assert server.proc is not None and server.proc.pid not in workers
            assert not any(workers.values())  # the supervisor anchors, on the node
            key, volume = setup_operator(server.base, home.admin_key, home.security_key)
            with UploadStream(server.base, key, volume, workers=4) as stream:
                wait_for(lambda: len(stream.acks) >= 30, 120, "30 uploads")
            assert set(stream.statuses) == {201}, stream.statuses
            findings = check_invariants(server.base, key, stream.acks, anvil.url, home)
            assert findings.acknowledged == len(stream.acks) and findings.anchor_txs >= 1
            for pid in workers:  # every worker reads the node's anchors itself
                with pinned(server.base, key, pid) as c:
                    for ack in stream.acks[:5]:
                        answer = c.verify_sm3(ack.sm3)
                        assert answer["found"] and answer["anchored"], (pid, answer)
    finally:
        anvil.stop()


def _starts(code: str, seconds: float, **timing: float) -> int:
    """Processes started in ``seconds`` for one worker slot that runs ``code``."""
    workers = Workers([sys.executable, "-c", code], os.environ, 1, poll_s=0.02, **timing)
    workers.start()
    try:
        time.sleep(seconds)
    finally:
        workers.stop()
    return workers.spawned


def test_a_worker_failing_at_start_is_restarted_ever_more_slowly() -> None:
    starts = _starts("raise SystemExit(3)", 2.0, backoff_s=0.1, max_backoff_s=0.4)
    # Restarted after 0.1, 0.2, 0.4, 0.4, … s: about six starts in 2 s, where restarting
    # at every poll would have started ~40 interpreters.
    assert 3 <= starts <= 8, starts


def test_a_worker_that_served_a_while_is_replaced_at_once() -> None:
    starts = _starts("import time; time.sleep(0.3)", 1.5, backoff_s=30, healthy_after_s=0.2)
    assert starts >= 3  # no 30 s back-off for a worker that had been up


def test_stopping_during_a_back_off_starts_nothing_more() -> None:
    workers = Workers(
        [sys.executable, "-c", "raise SystemExit(3)"], os.environ, 2,
        poll_s=0.02, backoff_s=30, healthy_after_s=60,
    )  # fmt: skip
    workers.start()
    time.sleep(0.5)
    began = time.monotonic()
    workers.stop()
    assert time.monotonic() - began < 1 and workers.spawned == 2
