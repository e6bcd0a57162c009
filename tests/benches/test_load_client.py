"""benches/load_client.py, the load generator of the read and verify benchmarks: a read's
body is checked against its material's SM3 once, and every later body of the same
material byte for byte; a body that differs is an error, never a counted read."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BODY = b"%PDF-1.4\n" + os.urandom(200_000)
DIGEST = hashlib.new("sm3", BODY).hexdigest()


@pytest.fixture(scope="module")
def load_client() -> ModuleType:
    # A script, not a package module: loaded from its file.
    spec = importlib.util.spec_from_file_location("load_client", ROOT / "benches/load_client.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["load_client"] = module
    spec.loader.exec_module(module)
    return module


def changed(body: bytes, at: int) -> bytes:
    damaged = bytearray(body)
    damaged[at] ^= 0x01
    return bytes(damaged)


def test_the_first_body_is_checked_by_its_sm3_and_later_ones_byte_for_byte(
    load_client: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[int] = []
    real = hashlib.new

    def counting(name: str, *args: Any, **kwargs: Any) -> Any:
        hashed.append(1)
        return real(name, *args, **kwargs)

    check: Callable[[bytes], bool] = load_client.same_as_first(DIGEST)
    monkeypatch.setattr(hashlib, "new", counting)
    assert check(changed(BODY, 5)) is False  # a wrong first body is not kept
    assert check(BODY) is True
    assert all(check(BODY) for _ in range(10))
    assert len(hashed) == 2  # the two first bodies; none of the later ones
    assert check(changed(BODY, len(BODY) // 2)) is False
    assert check(changed(BODY, len(BODY) - 1)) is False
    assert check(BODY[:-1]) is False
    assert check(BODY + b"\n") is False
    assert check(BODY) is True


class Server:
    """A keep-alive HTTP/1.1 server that answers every GET with BODY, except that the
    answers numbered in ``changed_at`` carry a body with one bit flipped."""

    def __init__(self, changed_at: set[int]) -> None:
        self.changed_at = changed_at
        self.good = self.bad = 0
        self.answered = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                body = BODY
                if self.answered in self.changed_at:
                    body = changed(BODY, self.answered * 997 % len(BODY))
                    self.bad += 1
                else:
                    self.good += 1
                self.answered += 1
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/pdf\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(body) + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def test_a_changed_body_is_counted_as_an_error(load_client: ModuleType) -> None:
    server = Server(changed_at={3, 4, 10, 25})

    async def scenario() -> dict[str, Any]:
        listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        port = listening.sockets[0].getsockname()[1]
        args = argparse.Namespace(
            url=f"http://127.0.0.1:{port}", key="k", mode="read", sm3=[],
            target=[f"m1={DIGEST}"], concurrency=2, seconds=0.5, rate=0, warmup=0,
            timeout=10,
        )  # fmt: skip
        async with listening:
            result: dict[str, Any] = await load_client.run(args)
        return result

    result = asyncio.run(scenario())
    assert server.answered > 25  # every changed body was sent
    # No warm-up: every answer is counted, each as a read or as an error.
    assert result["requests"] == server.good
    assert result["errors"] == server.bad == 4
    assert result["error_kinds"] == {load_client.BODY_ERROR: 4}
