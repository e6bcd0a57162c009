"""Launch a private, offline js-ipfs node (npm ``ipfs@0.66.1``) for tests and development.

Kubo is the production node, but no Kubo binary installs from the package
registries this project may use; js-ipfs does (from npm) and speaks the same RPC
API. The node is kept strictly local:

* ``init --empty-repo --profile test``: a plain init looks up public preload hosts;
* before start: Bootstrap, Addresses.Swarm and Addresses.Delegates empty, MDNS
  and webRTCStar off, Routing none, API/Gateway/gRPC on 127.0.0.1 only (the gRPC
  default is a fixed port 5003, which two nodes would fight over);
* ``daemon --offline --enable-preload=false``;
* or, for a centre whose node exchanges blocks with its peers' nodes (``swarm_port``):
  a swarm address on 127.0.0.1 TCP, no NAT port mapping, and the daemon *without*
  ``--offline`` (offline disables bitswap). With routing off it finds no one by itself:
  it talks only to the nodes it is told to connect to (``swarm/connect``);
* Node 20 lacks ``Promise.withResolvers``, which a js-ipfs dependency calls, so
  node runs with ``--require polyfill.js``.

It answers a few seconds after start (2-9 s by machine load): start one per test
session, not one per test.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Self

import httpx

from notary._internal.net import free_port
from notary.store.base import StoreUnavailable

POLYFILL = Path(__file__).with_name("polyfill.js")
_CLI = Path("node_modules") / "ipfs" / "src" / "cli.js"


class JsIpfsLaunchError(StoreUnavailable):
    """js-ipfs is not installed, or its daemon did not come up."""


def find_cli(start: Path | None = None) -> Path:
    """Locate ``node_modules/ipfs/src/cli.js``: $NOTARY_JSIPFS_CLI, else up from ``start``/cwd."""
    override = os.environ.get("NOTARY_JSIPFS_CLI")
    if override:
        return Path(override)
    bases = [start or Path.cwd(), Path(__file__).resolve()]
    for base in bases:
        for directory in [base, *base.parents]:
            candidate = directory / _CLI
            if candidate.is_file():
                return candidate
    raise JsIpfsLaunchError(
        f"js-ipfs not found ({_CLI} above {bases[0]} or {bases[1]}): run `npm ci` at the repo root"
    )


class JsIpfsNode:
    """One js-ipfs daemon in its own (by default temporary) repo; ``stop`` kills it."""

    def __init__(
        self,
        repo: str | os.PathLike[str] | None = None,
        *,
        api_port: int | None = None,
        swarm_port: int | None = None,
        cli: Path | None = None,
        node: str | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        self._own_dir = repo is None
        self._dir = Path(tempfile.mkdtemp(prefix="jsipfs-")) if repo is None else Path(repo)
        self.repo = self._dir / "repo" if repo is None else self._dir
        # Beside the repo, not in it: js-ipfs owns the repo's layout.
        self.log_path = self.repo.with_name(self.repo.name + ".daemon.log")
        self.api_port = api_port
        self.swarm_port = swarm_port
        self._cli = cli
        self._node = node or os.environ.get("NOTARY_NODE") or shutil.which("node") or "node"
        self.start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise JsIpfsLaunchError("js-ipfs node has not been started")
        return self._proc.pid

    @property
    def api_url(self) -> str:
        if self.api_port is None:
            raise JsIpfsLaunchError("js-ipfs node has not been started")
        return f"http://127.0.0.1:{self.api_port}"

    def _run_cli(self, *args: str, timeout: float = 60.0) -> None:
        cmd = [self._node, "--require", str(POLYFILL), str(self._cli), *args]
        env = {**os.environ, "IPFS_PATH": str(self.repo)}
        try:
            done = subprocess.run(cmd, env=env, capture_output=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise JsIpfsLaunchError(f"jsipfs {' '.join(args)} failed: {exc}") from exc
        if done.returncode != 0:
            raise JsIpfsLaunchError(
                f"jsipfs {' '.join(args)} exited {done.returncode}: "
                f"{done.stderr.decode(errors='replace')[-2000:]}"
            )

    def _configure(self, port: int) -> None:
        path = self.repo / "config"
        config: dict[str, Any] = json.loads(path.read_text())
        addresses = config.setdefault("Addresses", {})
        addresses.update(
            Swarm=[] if self.swarm_port is None else [f"/ip4/127.0.0.1/tcp/{self.swarm_port}"],
            NoAnnounce=[],
            Delegates=[],
            Announce=[],
            API=f"/ip4/127.0.0.1/tcp/{port}",
            Gateway="/ip4/127.0.0.1/tcp/0",
            RPC="/ip4/127.0.0.1/tcp/0",
        )
        config["Bootstrap"] = []
        config["Discovery"] = {"MDNS": {"Enabled": False}, "webRTCStar": {"Enabled": False}}
        config["Routing"] = {"Type": "none"}
        config.setdefault("Swarm", {})["DisableNatPortMap"] = True
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(config, indent=2))
        os.replace(tmp, path)

    def start(self) -> Self:
        if self._proc is not None:
            return self
        if self._cli is None:
            self._cli = find_cli()
        if not (self.repo / "config").is_file():
            self._run_cli("init", "--empty-repo", "--profile", "test")
        last: JsIpfsLaunchError | None = None
        # A free port can be taken between our probe and the daemon's bind; retry.
        for _ in range(3):
            port = self.api_port or free_port()
            self._configure(port)
            try:
                self._launch(port)
                return self
            except JsIpfsLaunchError as exc:
                last = exc
                if self.api_port is not None:
                    break
        assert last is not None
        raise last

    def _launch(self, port: int) -> None:
        cmd = [self._node, "--require", str(POLYFILL), str(self._cli)]
        cmd += ["daemon", "--enable-preload=false"]
        if self.swarm_port is None:
            cmd.append("--offline")
        env = {**os.environ, "IPFS_PATH": str(self.repo)}
        with open(self.log_path, "ab") as log:
            proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        self._proc = proc
        atexit.register(self.stop)
        deadline = time.monotonic() + self.start_timeout
        url = f"http://127.0.0.1:{port}/api/v0/version"
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self._proc = None
                raise JsIpfsLaunchError(
                    f"js-ipfs daemon exited with {proc.returncode}: {self._log_tail()}"
                )
            try:
                if httpx.post(url, timeout=1.0).is_success:
                    self.api_port = port
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self._terminate()
        raise JsIpfsLaunchError(
            f"js-ipfs API on 127.0.0.1:{port} did not answer within {self.start_timeout:g} s: "
            f"{self._log_tail()}"
        )

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"

    def _terminate(self) -> None:
        """SIGTERM our daemon (by its own pid), SIGKILL it after 10 s."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        atexit.unregister(self.stop)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def stop(self) -> None:
        """Terminate the daemon and remove a temporary repo."""
        self._terminate()
        if self._own_dir:
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
