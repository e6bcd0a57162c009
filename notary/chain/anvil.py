"""Start and stop a local `anvil` node (the npm-pinned foundry binary) on 127.0.0.1.

Used by the chain tests and by ``chain-dev/``. Anvil is a development node: one
process, automining, no permissioning. With a state file it must also get
``--prune-history``, or it keeps every historical state under ``~/.foundry``
(gigabytes after a long run).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from notary._internal.net import free_port
from notary.chain.errors import ChainUnavailable

REPO_ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
DEFAULT_CHAIN_ID = 31337
# Anvil's own default; named here so the funded keys can be derived without
# parsing its banner (see dev_private_keys).
DEV_MNEMONIC = "test test test test test test test test test test test junk"


class AnvilNotFound(FileNotFoundError):
    """No anvil binary at the pinned npm location nor on PATH."""


def find_anvil() -> Path:
    pinned = REPO_ROOT / "node_modules" / ".bin" / "anvil"
    if pinned.exists():
        return pinned
    on_path = shutil.which("anvil")
    if on_path:
        return Path(on_path)
    raise AnvilNotFound(f"anvil not found at {pinned} nor on PATH (run `npm ci`)")


def dev_private_keys(count: int, mnemonic: str = DEV_MNEMONIC) -> list[bytes]:
    """The keys anvil funds at start: BIP-44 m/44'/60'/0'/0/i of its mnemonic."""
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    return [
        bytes(Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{i}").key)
        for i in range(count)
    ]


def _rpc_chain_id(url: str, timeout: float) -> int:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
    req = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return int(json.loads(resp.read())["result"], 16)


@dataclass
class AnvilProcess:
    """One anvil node. Use as a context manager, or call start()/stop()."""

    port: int = 0
    chain_id: int = DEFAULT_CHAIN_ID
    state_file: Path | None = None
    accounts: int = 10
    block_time: float | None = None  # None: mine one block per transaction
    binary: Path | None = None
    log_file: Path | None = None
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def command(self) -> list[str]:
        cmd = [
            str(self.binary or find_anvil()),
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--chain-id",
            str(self.chain_id),
            "--accounts",
            str(self.accounts),
            "--mnemonic",
            DEV_MNEMONIC,
        ]
        if self.block_time is not None:
            cmd += ["--block-time", str(self.block_time)]
        if self.state_file is not None:
            cmd += ["--state", str(self.state_file), "--prune-history"]
        if self.log_file is None:
            cmd.append("--silent")
        return cmd

    def start(self, timeout: float = 20.0) -> AnvilProcess:
        if self._proc is not None:
            raise RuntimeError(f"anvil already running on port {self.port}")
        if self.port == 0:
            self.port = free_port()
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        try:
            self._proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                # Own process group: a Ctrl-C in the parent's terminal does not
                # kill the node before stop() can save its state.
                start_new_session=True,
                env={**os.environ, "NO_COLOR": "1"},
            )
        finally:
            if self.log_file:
                out.close()  # type: ignore[union-attr]
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._proc = None
                raise ChainUnavailable(f"anvil exited with code {code} before answering")
            try:
                chain_id = _rpc_chain_id(self.url, timeout=1.0)
            except (OSError, urllib.error.URLError, ValueError, KeyError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise ChainUnavailable(
                        f"anvil did not answer eth_chainId at {self.url} within {timeout} s"
                    ) from None
                time.sleep(0.05)
                continue
            if chain_id != self.chain_id:
                self.stop()
                raise ChainUnavailable(f"anvil at {self.url} has chain id {chain_id}")
            return

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (anvil writes its --state file on exit), then SIGKILL if it hangs."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise ChainUnavailable("anvil is not running")
        return self._proc.pid

    def __enter__(self) -> AnvilProcess:
        return self.start() if self._proc is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
