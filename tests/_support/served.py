"""Served deployments, the one builder of each kind:

- :class:`ServeProcess`: ``notary serve`` on an existing home as a child process on
  127.0.0.1 (free port), the embedded chain's read-only JSON-RPC on another free port
  (the fault harness's ``Server`` is one, with a short checkpoint interval);
- :func:`serving_app`: an app built in this process, served by uvicorn in a thread;
- :func:`running_service`: ``notary init`` + ``notary unit add`` in a temp home, then a
  :class:`ServeProcess` on it;

and ``notary`` run in process (the ``cli`` fixture of tests/_support/plugin.py runs
:func:`run_cli`)."""

from __future__ import annotations

import contextlib
import io
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn

from clients.cli import run
from clients.demo import sample_pdf, sample_png
from clients.sdk import NotaryClient
from notary._internal.net import free_port


@dataclass(frozen=True)
class Service:
    pid: int  # of notary serve (with --workers, the supervisor, which serves no requests)
    home: Path
    url: str
    rpc_url: str
    keys: dict[str, str]  # unit code -> operator key
    audit_key: str
    log: Path
    # The deployment's system and security administrators (server-console keys).
    admin_key: str = ""
    security_key: str = ""

    def client(self, unit: str = "UNIT-A", **kw: object) -> NotaryClient:
        return NotaryClient(self.url, self.keys[unit], **kw)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


def run_cli(
    capsys: pytest.CaptureFixture[str], *args: str, env: dict[str, str] | None = None
) -> Result:
    """Run ``notary`` in process (the real entry point, errors mapped as for users)."""
    capsys.readouterr()
    old = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        code = run([str(a) for a in args])
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def _keys(text: str) -> dict[str, str]:
    return {
        m[1] + ":" + m[2]: m[3] for m in re.finditer(r"^\s+(\S+)\s+(\w+)\s+(an_\S+)", text, re.M)
    }


ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"


class PortTaken(RuntimeError):
    """The server could not bind its port (another process holds it now)."""


@dataclass
class ServeProcess:
    """``notary serve`` on an existing home as a child process (uvicorn, 127.0.0.1);
    :meth:`start` and :meth:`stop`, or a ``with`` block. Its output goes to ``log_path``
    (by default ``<home>-serve.log`` beside the home), each start marked."""

    home: Path
    log_path: Path | None = None
    port: int = field(default_factory=free_port)
    chain_rpc_port: int = field(default_factory=free_port)
    workers: int = 1  # notary serve --workers
    args: tuple[str, ...] = ()  # more options of notary serve
    extra_env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def __post_init__(self) -> None:
        if self.log_path is None:
            self.log_path = self.home.parent / f"{self.home.name}-serve.log"

    @property
    def log(self) -> Path:
        assert self.log_path is not None
        return self.log_path

    @property
    def base(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    url = base

    @property
    def rpc_url(self) -> str:
        return f"http://{LOOPBACK}:{self.chain_rpc_port}/"

    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "NOTARY_CHAIN_RPC_PORT": str(self.chain_rpc_port),
            **self.extra_env,
        }
        # The service is configured by its home and these, not by a client's settings.
        env.pop("NOTARY_URL", None)
        env.pop("NOTARY_API_KEY", None)
        return env

    def start(self, timeout: float = 60) -> float:
        """Start and wait until the app answers; returns the start-up seconds.

        Ports come from the ephemeral range, so while the server is down another
        process's outgoing connection may take one (this machine runs other test
        suites). That is the harness's problem, not the service's: pick new ports and
        start again (at most twice), saying so in the log.
        """
        for attempt in range(3):
            try:
                return self._start_once(timeout)
            except PortTaken:
                if attempt == 2:
                    raise
                with self.log.open("a", encoding="utf-8") as log:
                    log.write(f"--- port {self.port}/{self.chain_rpc_port} taken: new ports ---\n")
                self.port = free_port()
                if self.chain_rpc_port:
                    self.chain_rpc_port = free_port()
        raise AssertionError("unreachable")

    def _start_once(self, timeout: float) -> float:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        t0 = time.monotonic()
        with self.log.open("ab") as log:
            log.write(f"\n--- start {self.starts} ---\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "clients.cli", "serve", "--home", str(self.home),
                 "--port", str(self.port), "--workers", str(self.workers), *self.args],
                stdout=log, stderr=subprocess.STDOUT, env=self.env(), cwd=ROOT,
            )  # fmt: skip
        self.starts += 1
        while True:
            if self.proc.poll() is not None:
                tail = self.log.read_text("utf-8", errors="replace")[-4000:]
                if "address already in use" in tail.split("--- start")[-1].lower():
                    raise PortTaken(tail)
                raise RuntimeError(
                    f"notary serve exited with {self.proc.returncode} ({self.log}):\n{tail}"
                )
            try:
                # Not /v1/health: its checks wait on the dependencies (a js-ipfs
                # node answers "absent" only when its timeout expires).
                if httpx.get(f"{self.base}/v1/chain", timeout=5).status_code == 200:
                    return time.monotonic() - t0
            except httpx.TransportError:
                pass
            if time.monotonic() - t0 > timeout:
                self.kill9()
                raise TimeoutError(f"notary serve did not answer within {timeout} s ({self.log})")
            time.sleep(0.05)

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        """A clean stop (SIGTERM: uvicorn runs the lifespan's shutdown)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill9()

    def __enter__(self) -> ServeProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def serving_app(app: Any) -> Iterator[int]:
    """``app`` served by uvicorn (lifespan on) in a thread of this process, on a socket
    bound to a free port of 127.0.0.1 before the server starts; yields the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, 0))
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, host=LOOPBACK, port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped while starting"
            assert time.monotonic() < deadline, "uvicorn did not start in 30 s"
            time.sleep(0.02)
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


@contextlib.contextmanager
def running_service(home: Path, *, workers: int = 1) -> Iterator[Service]:
    """init + two units + ``notary serve [--workers N]`` until the block ends (then the
    service stops)."""

    def notary(*args: str) -> str:
        """``notary init`` / ``unit add`` in this process (the service is not running yet)."""
        buf, errbuf = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(errbuf):
            code = run(list(args))
        assert code == 0, errbuf.getvalue()
        return buf.getvalue()

    keys = _keys(notary("init", "--home", str(home), "--centre-code", "CENTRE"))
    for code, name in (("UNIT-A", "甲市委组织部档案室"), ("UNIT-B", "乙县人社局档案室")):
        keys.update(_keys(notary("unit", "add", "--home", str(home), code, name)))
    log = home.parent / "serve.log"
    with ServeProcess(home, log, workers=workers) as served:
        assert served.proc is not None
        chain = httpx.get(
            f"{served.url}/v1/chain",
            headers={"Authorization": f"Bearer {keys['UNIT-A:operator']}"},
        ).json()
        yield Service(
            pid=served.proc.pid,
            home=home,
            url=served.url,
            rpc_url=chain["rpc_url"],
            keys={"UNIT-A": keys["UNIT-A:operator"], "UNIT-B": keys["UNIT-B:operator"]},
            audit_key=keys["CENTRE:audit"],
            log=log,
            admin_key=keys.get("CENTRE:admin", ""),
            security_key=keys.get("CENTRE:security", ""),
        )


_volume_seq = iter(range(1, 10_000))


def new_volume(service: Service, unit: str = "UNIT-A") -> str:
    """A fresh main volume (正本) for a made-up cadre."""
    ident = f"1101011980{next(_volume_seq):08d}"
    with service.client(unit) as c:
        return str(c.create_volume(ident, "main")["id"])


def write_materials(directory: Path, n: int, *, prefix: str = "m") -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(n):
        if i % 2:
            name, data = f"{prefix}{i}.png", sample_png(width=8, height=8, seed=i)
        else:
            name, data = f"{prefix}{i}.pdf", sample_pdf(f"material {prefix}{i}")
        (directory / name).write_bytes(data)
        names.append(name)
    return names


class RawConnection:
    """One HTTP/1.1 keep-alive connection on a plain socket, so that a request is sent
    on *this* connection (httpx would open another one, unseen, after a close)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host = f"{parts.hostname}:{parts.port}"
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
        self._buf = b""

    def closed_by_server(self) -> bool:
        """The server has closed its end (an EOF is waiting); the socket is not read."""
        readable, _, _ = select.select([self.sock], [], [], 0)
        return bool(readable) and self.sock.recv(1, socket.MSG_PEEK) == b""

    def get(self, path: str, key: str = "") -> tuple[int, bytes]:
        auth = f"Authorization: Bearer {key}\r\n" if key else ""
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n{auth}\r\n".encode())
        while b"\r\n\r\n" not in self._buf:
            self._buf += self._recv()
        head, _, self._buf = self._buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        fields = dict(line.lower().split(": ", 1) for line in lines[1:])
        size = int(fields["content-length"])  # the API's JSON answers are not chunked
        while len(self._buf) < size:
            self._buf += self._recv()
        body, self._buf = self._buf[:size], self._buf[size:]
        return int(lines[0].split()[1]), body

    def _recv(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("connection closed by the server before the response")
        return data

    def close(self) -> None:
        self.sock.close()
