"""Helpers of the backup and replica tests: a served home, distinct uploads."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from clients.demo import sample_pdf
from clients.sdk import NotaryClient
from notary._internal.net import free_port


def upload(c: NotaryClient, vol: str, file: Path, seq: int) -> dict[str, Any]:
    up = c.upload_material(
        vol, file, category="1", seq_no=seq, pages=1, title=f"材料{seq}",
        formation_date="2001-02-03",
    )  # fmt: skip
    return {**up.material, "sm3": up.sm3}


def scan(directory: Path, i: int) -> Path:
    """A distinct small PDF per upload."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"m{i}.pdf"
    path.write_bytes(sample_pdf(f"material {i}"))
    return path


@contextlib.contextmanager
def serving(home: Path, env: dict[str, str] | None = None) -> Iterator[tuple[str, str]]:
    """``notary serve`` on an existing home (url, chain RPC url) until the block ends."""
    port, rpc_port = free_port(), free_port()
    env = {**os.environ, **(env or {}), "NOTARY_CHAIN_RPC_PORT": str(rpc_port)}
    log = home.parent / f"{home.name}-serve.log"
    with open(log, "wb") as logf:
        proc = subprocess.Popen(
            [sys.executable, "-m", "clients.cli", "serve", "--home", str(home),
             "--port", str(port)],
            env=env, stdout=logf, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/docs", timeout=2).status_code == 200:  # started
                    break
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield url, f"http://127.0.0.1:{rpc_port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def new_volume_at(c: NotaryClient) -> str:
    return str(c.create_volume("110101199001019999", "main")["id"])
