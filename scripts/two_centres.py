"""Two archive centres on one chain, on this machine (127.0.0.1 only), the way an
operator sets them up (docs/federation.md walks through the same commands):

- one chain node (anvil) standing in for the network's Besu validators;
- the network admin (组织部): ``notary network create``, then ``notary network admit``;
- centre A (SQLite) and centre B (PostgreSQL), each with its own home, keys, database
  and js-ipfs node: ``notary init --join``, ``notary unit add``, ``notary serve``;
- each centre trusts the other through the chain: ``notary peer add``.

    .venv/bin/python scripts/two_centres.py up WORKDIR     # runs until Ctrl-C / SIGTERM

Once everything answers it writes WORKDIR/env.sh (URLs, API keys) and prints the next
commands; Ctrl-C stops every process it started.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from notary._internal.net import free_port  # noqa: E402
from notary.chain.anvil import AnvilProcess, dev_private_keys  # noqa: E402
from notary.store.jsipfs import JsIpfsNode  # noqa: E402

NOTARY = str(Path(sys.executable).with_name("notary"))
PG = os.environ.get("NOTARY_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")


def run(*args: str, log: Path) -> str:
    """One documented command; its output is kept in the walkthrough log."""
    cmd = [NOTARY, *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    with log.open("a", encoding="utf-8") as fh:
        fh.write(f"$ notary {shlex.join(args)}\n{done.stdout}{done.stderr}\n")
    if done.returncode != 0:
        raise SystemExit(f"notary {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return done.stdout


def _pg_database(name: str, *, create: bool) -> str:
    """Create (or drop) centre B's database. Its name carries this process id, so
    that two walkthroughs on one PostgreSQL server never share or drop each other's."""
    import psycopg

    with psycopg.connect(
        "host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')
    return f"{PG}/{name}"


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the service at {url} exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/v1/health", timeout=15).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the service at {url} did not answer within {timeout:g} s")


def up(work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    log = work / "walkthrough.log"
    log.write_text("", "utf-8")
    stop: list[object] = []
    services: list[subprocess.Popen[bytes]] = []
    pg_name = f"notary_centre_b_{os.getpid()}"
    try:
        chain = AnvilProcess(state_file=work / "chain-state.json").start()
        stop.append(chain)
        nodes = {}
        for c in ("a", "b"):
            node = JsIpfsNode(work / f"ipfs-{c}", api_port=free_port(), swarm_port=free_port())
            nodes[c] = node.start()
            stop.append(node)

        # The network admin: its funded account on this dev chain is anvil's first key.
        key_file = work / "admin-account.key"
        key_file.write_text(dev_private_keys(1)[0].hex(), "ascii")
        key_file.chmod(0o600)
        run("network", "create", "--home", str(work / "admin"), "--chain", chain.url,
            "--admin-key-file", str(key_file), log=log)  # fmt: skip
        network = str(work / "admin" / "network.json")

        env: dict[str, str] = {"NETWORK": network, "ADMIN_HOME": str(work / "admin")}
        databases = {"a": "", "b": _pg_database(pg_name, create=True)}
        names = {"a": "甲市干部档案中心", "b": "乙市干部档案中心"}
        for c in ("a", "b"):
            code = f"C{c.upper()}"
            home = work / c
            init = json.loads(
                run(
                    "init",
                    "--home",
                    str(home),
                    "--join",
                    network,
                    "--centre-code",
                    code,
                    "--centre-name",
                    names[c],
                    "--store",
                    nodes[c].api_url,
                    "--database-url",
                    databases[c],
                    "--json",
                    log=log,
                )
            )
            env[f"{c.upper()}_ADMIN_KEY"] = next(
                k["key"] for k in init["keys"] if k["role"] == "admin"
            )
            unit = json.loads(
                run(
                    "unit",
                    "add",
                    "--home",
                    str(home),
                    f"U{c.upper()}",
                    f"{names[c]}档案室",
                    "--json",
                    log=log,
                )
            )
            env[f"{c.upper()}_OPERATOR_KEY"] = unit["operator_key"]
            run("network", "admit", "--home", str(work / "admin"), init["join_request"], log=log)
            run("network", "admit", "--home", str(work / "admin"), unit["join_request"], log=log)
        for c in ("a", "b"):
            port = free_port()
            with (work / f"serve-{c}.log").open("ab") as out:
                proc = subprocess.Popen(
                    [NOTARY, "serve", "--home", str(work / c), "--port", str(port)],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            services.append(proc)
            env[f"{c.upper()}_URL"] = f"http://127.0.0.1:{port}"
        for c, proc in zip(("a", "b"), services, strict=True):
            _wait_healthy(env[f"{c.upper()}_URL"], proc)
        run("peer", "add", "CB", env["B_URL"], "--url", env["A_URL"], "--key", env["A_ADMIN_KEY"],
            log=log)  # fmt: skip
        run("peer", "add", "CA", env["A_URL"], "--url", env["B_URL"], "--key", env["B_ADMIN_KEY"],
            log=log)  # fmt: skip
        env["CHAIN_RPC"] = chain.url
        for c in ("a", "b"):
            env[f"IPFS_{c.upper()}"] = nodes[c].api_url
            env[f"IPFS_{c.upper()}_SWARM_PORT"] = str(nodes[c].swarm_port)
        # Process ids, for the fault tests (tests/federation/test_faults.py) and for
        # an operator who wants to stop one part.
        env["CHAIN_PID"] = str(chain.pid)
        for c, proc in zip(("a", "b"), services, strict=True):
            env[f"SERVE_{c.upper()}_PID"] = str(proc.pid)
            env[f"IPFS_{c.upper()}_PID"] = str(nodes[c].pid)
        lines = [f"export {k}={shlex.quote(v)}" for k, v in sorted(env.items())]
        tmp = work / "env.sh.tmp"
        tmp.write_text("\n".join(lines) + "\n", "utf-8")
        os.replace(tmp, work / "env.sh")
        print(f"两个档案中心已就绪。环境变量：source {work / 'env.sh'}")
        print(
            "下一步（docs/federation.md 第 3 节）："
            "在 A 建卷、上传材料、创建转递并发出；B 收件、核验、回执"
        )
        print("按 Ctrl-C 停止全部进程。", flush=True)
        done = False

        def _stop(*_: object) -> None:
            nonlocal done
            done = True

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        while not done:
            time.sleep(0.2)
    finally:
        for proc in services:
            proc.terminate()
        for proc in services:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        for thing in reversed(stop):
            thing.stop()  # type: ignore[attr-defined]
        with contextlib.suppress(Exception):  # PostgreSQL down: nothing left to drop
            _pg_database(pg_name, create=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up"])
    parser.add_argument("workdir", type=Path)
    args = parser.parse_args()
    up(args.workdir.resolve())


if __name__ == "__main__":
    main()
