"""Two independent archive centres on one chain, brought up by
``scripts/two_centres.py up`` with the operator's commands (docs/federation.md), used
through the public CLI and HTTP only (:func:`two_centres`), and the means to stop and
kill their processes."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from clients.demo import sample_pdf

REPO = Path(__file__).resolve().parents[2]
NOTARY = str(Path(sys.executable).with_name("notary"))


class World:
    def __init__(self, env: dict[str, str], work: Path) -> None:
        self.env = env
        self.work = work
        self.owned: list[Any] = []  # processes a fault test restarted: stopped at the end

    def notary(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [NOTARY, *args], capture_output=True, text=True, timeout=300, check=False
        )
        if ok:
            # stdout too: a 四性 report names the check that failed; and what the two
            # services logged (a failed verification by check id, anchoring trouble).
            assert done.returncode == 0, (
                f"notary {shlex.join(args)}: {done.stderr}{done.stdout}{self.service_logs()}"
            )
        return done

    def service_logs(self, lines: int = 15) -> str:
        """The last lines each service wrote that are not request lines."""
        out = []
        for c in ("a", "b"):
            path = self.work / f"serve-{c}.log"
            text = path.read_text("utf-8", errors="replace") if path.exists() else ""
            kept = [ln for ln in text.splitlines() if '" 2' not in ln and '" 3' not in ln]
            out.append(f"\n--- serve-{c}.log ---\n" + "\n".join(kept[-lines:]))
        return "".join(out)

    def api(self, centre: str, method: str, path: str, **kw: Any) -> httpx.Response:
        key = self.env[f"{centre}_OPERATOR_KEY"]
        return httpx.request(
            method,
            self.env[f"{centre}_URL"] + path,
            headers={"Authorization": f"Bearer {key}"},
            timeout=180,
            **kw,
        )

    def as_(self, centre: str) -> list[str]:
        return ["--url", self.env[f"{centre}_URL"], "--key", self.env[f"{centre}_OPERATOR_KEY"]]

    def peers(self, centre: str) -> dict[str, Any]:
        r = httpx.get(
            self.env[f"{centre}_URL"] + "/v1/transfers/peers",
            headers={"Authorization": f"Bearer {self.env[centre + '_ADMIN_KEY']}"},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        return {p["code"]: p for p in r.json()}

    # --- a transfer from UA (centre A) to UB (centre B) -------------------------------

    def volume(self, cadre: str) -> str:
        r = self.api("A", "POST", "/v1/volumes", json={"cadre_identifier": cadre, "kind": "main"})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def ingest(self, tmp: Path, volume: str, tag: str) -> None:
        files = tmp / f"materials-{tag}"
        files.mkdir()
        rows = ["file,category,title,formation_date,pages,seq_no"]
        for i, (cat, title) in enumerate([("1", "干部履历表"), ("9-1", "工资审批表")], start=1):
            (files / f"{i}.pdf").write_bytes(sample_pdf(f"{tag} {i}"))
            rows.append(f"{i}.pdf,{cat},{title},2001-0{i}-01,1,{i}")
        (files / "list.csv").write_text("\n".join(rows) + "\n", "utf-8")
        self.notary("ingest", str(files), "--volume", volume, "--manifest",
                    str(files / "list.csv"), *self.as_("A"))  # fmt: skip

    def create(self, volume: str, transfer_id: str) -> None:
        self.notary("transfer", "create", "--to", "UB", "--volume", volume, "--reason",
                    "工作调动", "--no", f"组转字〔2026〕{transfer_id}号", "--id", transfer_id,
                    *self.as_("A"))  # fmt: skip

    def until_ok(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        """Packaging waits for anchoring (503 meanwhile): ask again, as an operator would."""
        deadline = time.monotonic() + timeout
        while True:
            done = self.notary(*args, ok=False)
            if done.returncode == 0 or time.monotonic() > deadline:
                break
            assert "503" in done.stderr or "锚定" in done.stderr, done.stderr
            time.sleep(1)
        assert done.returncode == 0, done.stderr
        return done

    def sent(self, tmp: Path, transfer_id: str) -> str:
        volume = self.volume(f"cadre-{transfer_id}")
        self.ingest(tmp, volume, transfer_id)
        self.create(volume, transfer_id)
        self.until_ok("transfer", "send", transfer_id, *self.as_("A"))
        return volume

    def wait_state(self, centre: str, transfer_id: str, state: str, timeout: float = 60) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            r = self.api(centre, "GET", f"/v1/transfers/{transfer_id}")
            t = r.json() if r.status_code == 200 else {}
            if t.get("state") == state or time.monotonic() > deadline:
                return t
            time.sleep(0.5)


def read_env(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text("utf-8").splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = shlex.split(value)[0]
    return env


@contextlib.contextmanager
def two_centres(work: Path) -> Iterator[World]:
    """``scripts/two_centres.py up`` in ``work`` until the block ends (then its
    services, and what a fault test restarted, stop)."""
    log = work.parent / "two-centres.out"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(REPO / "scripts" / "two_centres.py"), "up", str(work)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    w: World | None = None
    try:
        deadline = time.monotonic() + 600
        while not (work / "env.sh").exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"two_centres.py did not come up:\n{log.read_text()[-4000:]}")
            time.sleep(0.5)
        w = World(read_env(work / "env.sh"), work)
        yield w
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
        for thing in [] if w is None else w.owned:
            if isinstance(thing, subprocess.Popen):
                thing.terminate()
                thing.wait(timeout=30)
            else:
                thing.stop()


def stop(pid: int | str, timeout: float = 30) -> None:
    """SIGTERM, and wait until the process is gone (or a zombie its parent has not
    reaped yet): a node stopped, its repository lock released."""
    kill(pid, signal.SIGTERM)
    status = Path(f"/proc/{int(pid)}/status")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if "\nState:\tZ" in status.read_text():
                return
        except FileNotFoundError:
            return
        time.sleep(0.2)
    kill(pid)


def kill(pid: int | str, sig: signal.Signals = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(int(pid), sig)
