"""Full vs incremental backup, and restore, of a served embedded deployment.

Run: ``python benches/bench_backup.py [--materials 200 --size-kb 512 --daily 10]``
(from the repository root, with it on PYTHONPATH);
writes ``benches/results/backup.md``.

A real ``notary serve`` (SQLite, embedded chain, local blockstore) takes ``--materials``
uploads of ``--size-kb`` each through the SDK; then a full backup is taken while it
serves, ``--daily`` more materials arrive (a day's intake, scaled), and an incremental
backup on top of the full one is taken. Last, the incremental backup is restored into
a new home (verify every file, rebuild, prove against the chain, 四性 audit).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _common import header, write

from clients.sdk import NotaryClient
from transfer.backup.take import take_backup

NOTARY = [sys.executable, "-m", "clients.cli"]


def _run(*args: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    done = subprocess.run([*NOTARY, *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"notary {args[0]} failed:\n{done.stdout}\n{done.stderr}")
    return time.perf_counter() - t0, done.stdout


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _serving(home: Path) -> Iterator[str]:
    port = _free_port()
    log = open(home.parent / "serve.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [*NOTARY, "serve", "--home", str(home), "--port", str(port), "--no-access-log"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/v1/health", timeout=2).status_code == 200:
                    break
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _dir_size(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def _upload(c: NotaryClient, vol: str, scratch: Path, i: int, size: int) -> None:
    path = scratch / f"m{i}.pdf"
    path.write_bytes(b"%PDF-1.4\n" + os.urandom(size) + b"\n%%EOF\n")
    c.upload_material(
        vol, path, category="1", seq_no=i + 1, pages=1, title=f"材料{i}",
        formation_date="2000-01-01",
    )  # fmt: skip
    path.unlink()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--materials", type=int, default=200)
    ap.add_argument("--size-kb", type=int, default=512)
    ap.add_argument("--daily", type=int, default=10)
    args = ap.parse_args()
    size = args.size_kb * 1024
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        home, scratch = root / "home", root / "scratch"
        scratch.mkdir()
        _, text = _run("init", "--home", str(home))
        _, text = _run("unit", "add", "--home", str(home), "UNIT-A", "甲单位")
        key = re.findall(r"an_\S+", text)[-1]
        with _serving(home) as url, NotaryClient(url, key) as c:
            vol = str(c.create_volume("110101198001010011", "main")["id"])
            t0 = time.perf_counter()
            for i in range(args.materials):
                _upload(c, vol, scratch, i, size)
            t_ingest = time.perf_counter() - t0
            time.sleep(2)  # the last checkpoint anchored
            t_full = take_backup(home, root / "b" / "full").seconds
            for i in range(args.materials, args.materials + args.daily):
                _upload(c, vol, scratch, i, size)
            time.sleep(2)
            t_inc = take_backup(home, root / "b" / "inc", base=root / "b" / "full").seconds
        passphrase = str(home / "keys" / "passphrase")
        t_restore, _ = _run(
            "restore", "--from", str(root / "b" / "inc"), "--home", str(root / "restored"),
            "--passphrase-file", passphrase,
        )  # fmt: skip
        full_n, full_b = _dir_size(root / "b" / "full")
        inc_n, inc_b = _dir_size(root / "b" / "inc")
        db_b = (root / "b" / "inc" / "db" / "notary.db").stat().st_size
        chain_b = (root / "b" / "inc" / "chain" / "chain.sqlite").stat().st_size

    mb = 1 << 20
    total = args.materials + args.daily
    text = header("Backup and restore") + (
        f"- data: {args.materials} materials of {args.size_kb} KiB uploaded through a real "
        f"`notary serve` (SQLite, embedded chain, local blockstore), then {args.daily} more "
        f"before the incremental backup ({args.materials / t_ingest:.1f} uploads/s)\n\n"
        "| step | time | files | size |\n|---|---|---|---|\n"
        f"| full backup ({args.materials} materials) | {t_full:.1f} s | {full_n} | "
        f"{full_b / mb:.1f} MiB |\n"
        f"| incremental backup (+{args.daily} materials) | {t_inc:.1f} s | {inc_n} | "
        f"{inc_b / mb:.1f} MiB |\n"
        f"| of which database / embedded chain (copied whole every time) | | 2 | "
        f"{db_b / mb:.1f} / {chain_b / mb:.1f} MiB |\n"
        f"| restore of the incremental + its base ({total} materials: verify, rebuild, "
        f"prove, 四性 audit) | {t_restore:.1f} s | | |\n\n"
        "Backups are timed in process (`take_backup`, what `notary backup` runs, without "
        "the ~1.5 s of imports a `notary` process starts with) while the service serves; "
        "the restore is one `notary restore` process, start-up included. "
        "The incremental backup copies only the new content blocks and pins; the database and "
        "the embedded chain are copied whole (SQLite online backup), so their size is "
        "the floor of a daily backup.\n"
    )
    print(text)
    print(f"written to {write('backup', text)}")


if __name__ == "__main__":
    main()
