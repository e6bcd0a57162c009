"""A served world: ``notary init`` + ``notary unit add`` in a temp home, then ``notary
serve`` as a subprocess on 127.0.0.1 (free port), with the embedded chain's read-only
JSON-RPC on another free port (:func:`running_service`); and ``notary`` run in process
(the ``cli`` fixture of tests/_support/plugin.py runs :func:`run_cli`)."""

from __future__ import annotations

import contextlib
import io
import os
import re
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

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


@contextlib.contextmanager
def running_service(home: Path, *, workers: int = 1) -> Iterator[Service]:
    """init + two units + ``notary serve [--workers N]`` until the block ends (then the
    service stops)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("NOTARY_URL", None)
    env.pop("NOTARY_API_KEY", None)
    base = [sys.executable, "-c", "from clients.cli import main; main()"]

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
    port, rpc_port = free_port(), free_port()
    log = home.parent / "serve.log"
    serve_env = {**env, "NOTARY_CHAIN_RPC_PORT": str(rpc_port)}
    with open(log, "wb") as logf:
        proc = subprocess.Popen(
            [*base, "serve", "--home", str(home), "--port", str(port), "--workers", str(workers)],
            env=serve_env,
            stdout=logf,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/v1/health", timeout=2).status_code < 600:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("service did not start:\n" + log.read_text(errors="replace"))
            time.sleep(0.1)
        chain = httpx.get(
            f"{url}/v1/chain", headers={"Authorization": f"Bearer {keys['UNIT-A:operator']}"}
        ).json()
        yield Service(
            pid=proc.pid,
            home=home,
            url=url,
            rpc_url=chain["rpc_url"],
            keys={"UNIT-A": keys["UNIT-A:operator"], "UNIT-B": keys["UNIT-B:operator"]},
            audit_key=keys["CENTRE:audit"],
            log=log,
            admin_key=keys.get("CENTRE:admin", ""),
            security_key=keys.get("CENTRE:security", ""),
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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
