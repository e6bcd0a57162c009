"""The long fault campaign (issue 8): ``python -m tests.faults.campaign --trials 50``.

Runs the kill -9 trials (seeds printed, each trial replayable by its seed) during
ingest and anchoring, then inside the steps of transfers between two hosted units
(``--transfer-trials``), the chain node down for ``--chain-down`` seconds (60 by
default), the IPFS node down and the database connections dropped — the same scenarios
as ``tests/faults/test_faults.py``, at full size. Loopback only; every loop is bounded.
Exits non-zero on the first broken invariant. ``--out FILE`` also appends the printed
lines to a file.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tests.faults import scenarios


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--trials", type=int, default=50, help="kill -9 trials")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--chain-down", type=float, default=60.0, help="seconds anvil stays down")
    ap.add_argument("--ipfs-down", type=float, default=20.0, help="seconds js-ipfs stays down")
    ap.add_argument("--db-drops", type=int, default=20, help="rounds of pg_terminate_backend")
    ap.add_argument(
        "--only", nargs="*", default=["kill9", "kill9-pg", "transfer", "chain", "ipfs", "db"],
        help="scenarios: kill9 (SQLite), kill9-pg (PostgreSQL), transfer, chain, ipfs, db",
    )  # fmt: skip
    ap.add_argument("--pg-trials", type=int, default=10, help="kill -9 trials on PostgreSQL")
    ap.add_argument(
        "--transfer-trials", type=int, default=15, help="kill -9 trials inside transfer steps"
    )
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    out = args.out.open("a", encoding="utf-8") if args.out else None

    def echo(line: str) -> None:
        print(line, flush=True)
        if out is not None:
            out.write(line + "\n")
            out.flush()

    t0 = time.monotonic()
    echo(f"fault campaign: seed {seed}, scenarios {args.only}")
    # Kept when a scenario fails: the server logs are the evidence.
    work = Path(tempfile.mkdtemp(prefix="notary-faults-"))
    echo(f"work directory {work}")
    if "kill9" in args.only:
        (work / "kill9").mkdir()
        scenarios.kill9(work / "kill9", trials=args.trials, seed=seed, echo=echo)
    if "kill9-pg" in args.only:
        (work / "kill9-pg").mkdir()
        with scenarios.pg_database() as (_, url):
            scenarios.kill9(
                work / "kill9-pg", trials=args.pg_trials, seed=seed + 100_000,
                database_url=url, echo=echo,
            )  # fmt: skip
    if "transfer" in args.only:
        (work / "transfer").mkdir()
        scenarios.kill9_transfer(
            work / "transfer", trials=args.transfer_trials, seed=seed + 200_000, echo=echo
        )
    if "chain" in args.only:
        (work / "chain").mkdir()
        scenarios.chain_down(work / "chain", down_s=args.chain_down, echo=echo)
    if "ipfs" in args.only:
        (work / "ipfs").mkdir()
        scenarios.ipfs_down(work / "ipfs", down_s=args.ipfs_down, echo=echo)
    if "db" in args.only:
        (work / "db").mkdir()
        scenarios.db_drop(work / "db", rounds=args.db_drops, echo=echo)
    shutil.rmtree(work, ignore_errors=True)
    echo(f"fault campaign passed in {time.monotonic() - t0:.0f} s (seed {seed})")
    if out is not None:
        out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
