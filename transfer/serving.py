"""How ``notary serve`` and ``notary demo`` run uvicorn, in one process or several.

uvicorn's pure-Python stack (asyncio's own loop, the h11 parser) cost a large share
of a small request's CPU under load (benches/results/load.md); uvloop and httptools
are dependencies of the project, so they are named here explicitly rather than left
to uvicorn's "auto" guess. Where a platform has no wheel for one of them (uvloop has
none for Windows) the pure-Python part stands in.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.util import find_spec
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from fastapi import FastAPI

    from transfer.settings import Settings

logger = logging.getLogger(__name__)


class Stack(TypedDict):
    loop: str
    http: str
    timeout_keep_alive: int


def server_stack(settings: Settings) -> Stack:
    """uvicorn's ``loop`` and ``http`` settings (the fast ones when importable) and the
    deployment's keep-alive (``keep_alive_s``: uvicorn's own 5 s closed the connections
    of readers idle between pages, and lost the requests sent as they closed)."""
    return {
        "loop": "uvloop" if find_spec("uvloop") is not None else "asyncio",
        "http": "httptools" if find_spec("httptools") is not None else "h11",
        "timeout_keep_alive": settings.keep_alive_s,
    }


def listening_socket(host: str, port: int, *, shared: bool) -> socket.socket:
    """A bound, listening TCP socket. ``shared``: with SO_REUSEPORT, so that the
    processes of ``notary serve --workers N`` each accept on the same port and the
    kernel spreads new connections over them."""
    if shared and not hasattr(socket, "SO_REUSEPORT"):
        raise OSError("several worker processes need SO_REUSEPORT, which this OS lacks")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if shared:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except BaseException:
        sock.close()
        raise
    return sock


@dataclass
class _Slot:
    proc: subprocess.Popen[bytes]
    started: float
    quick_exits: int = 0  # in a row, each within ``healthy_after_s`` of its start
    restart_at: float | None = None


class Workers:
    """The serving processes of ``notary serve --workers N``: started again when one
    dies, stopped by :meth:`stop`.

    A worker that dies after serving a while is replaced at once. One that dies soon
    after its start (a bad setting, a database that refuses it) would die again: it is
    restarted after a delay that doubles with each such exit, from ``backoff_s`` up to
    ``max_backoff_s``, so a broken deployment logs a failure now and then instead of
    starting an interpreter every second."""

    def __init__(
        self,
        command: Sequence[str],
        env: Mapping[str, str],
        count: int,
        *,
        poll_s: float = 1.0,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        healthy_after_s: float = 30.0,
    ) -> None:
        self._command = list(command)
        self._env = dict(env)
        self._count = count
        self._poll_s = poll_s
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._healthy_after_s = healthy_after_s
        self._slots: list[_Slot] = []
        self._spawned = 0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def spawned(self) -> int:
        """Processes started so far (the first ones and every restart)."""
        return self._spawned

    def start(self) -> None:
        self._slots = [_Slot(self._spawn(), time.monotonic()) for _ in range(self._count)]
        self._thread = threading.Thread(target=self._watch, name="notary-workers", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stopping.wait(self._poll_s):
            now = time.monotonic()
            for slot in self._slots:
                if slot.restart_at is None and slot.proc.poll() is not None:
                    self._schedule(slot, now)
                if slot.restart_at is not None and now >= slot.restart_at:
                    slot.proc, slot.started, slot.restart_at = self._spawn(), now, None

    def _schedule(self, slot: _Slot, now: float) -> None:
        code = slot.proc.returncode
        if now - slot.started < self._healthy_after_s:
            slot.quick_exits += 1
            delay = min(self._max_backoff_s, self._backoff_s * 2 ** (slot.quick_exits - 1))
            logger.error(
                "工作进程 %d 启动后 %.1f 秒即退出（%s，连续第 %d 次），%.0f 秒后重新启动",
                slot.proc.pid, now - slot.started, code, slot.quick_exits, delay,
            )  # fmt: skip
        else:
            slot.quick_exits, delay = 0, 0.0
            logger.warning("工作进程 %d 已退出（%s），重新启动", slot.proc.pid, code)
        slot.restart_at = now + delay

    def _spawn(self) -> subprocess.Popen[bytes]:
        self._spawned += 1
        # A session of its own: a Ctrl-C at the terminal reaches the supervisor only,
        # which then stops the workers itself (not one that a restart races).
        return subprocess.Popen(self._command, env=self._env, start_new_session=True)

    def stop(self, timeout_s: float = 15.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
        procs = [slot.proc for slot in self._slots]
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for proc in procs:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def supervise(app: FastAPI, workers: Workers) -> None:
    """Run ``app``'s lifespan here — the deployment's background duties and chain
    endpoints — while ``workers`` serve its API, until SIGINT or SIGTERM. The
    supervisor serves no requests itself: sharing the port with the workers, it was
    their slowest member (a larger heap, the anchoring and chain threads)."""

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with app.router.lifespan_context(app):
            workers.start()
            try:
                await stop.wait()
            finally:
                await asyncio.to_thread(workers.stop)

    asyncio.run(run())


def exit_with_parent(parent_pid: int) -> None:
    """Stop this worker (gracefully, as on SIGTERM) when the process that started it is
    gone — even killed with -9: a worker left alone would go on accepting connections
    on the port with nothing anchoring behind it."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        logger.warning("主进程 %d 已退出：工作进程停止", parent_pid)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="notary-parent-watch", daemon=True).start()
