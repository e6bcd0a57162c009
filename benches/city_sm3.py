"""SM3 digests as 32 bytes (``0011_digest_bytes``) against 64 hex characters, at city scale.

Run: ``python benches/city_sm3.py --base /tmp/sm3bytes-base [--sizes 160000 1600000]``
where ``--base`` is a checkout of the code before the change (``git worktree add
/tmp/sm3bytes-base 5869156``); writes ``benches/results/city-sm3bytes.md``. Takes
~15 min at 1.6 M on 2 idle cores; hold ``flock /tmp/heavy.lock`` on a shared machine.

Same session, two PostgreSQL databases: each side (the base code, then this code) runs
in a child process whose imports come from its own tree, initialises a deployment, and
fills it with ``benches/city.py``'s ``Filler`` (COPY, synthetic volumes of 100 entries)
to each size. At each size, with the service's app running and its backlog anchored:
the sizes of ``ix_materials_sm3``, of the ``material_keys`` unique index
(material, unit, fingerprint) and of ``ix_material_keys_material_id``, database bytes
per material, and verify-by-SM3 latency (``verify_sm3_many``, the verify route's
function, server side, p50 / p99 over ``--samples`` random registered digests). Then the
base side's database, still at ``0010``, is migrated by this code to ``0011`` and back
(timed, service stopped), and measured once more after the upgrade.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PG = "host=127.0.0.1 port=5432 user=postgres"
INDEXES = {
    "ix_materials_sm3": "ix_materials_sm3",
    "material_keys unique (material_id, unit_id, key_fingerprint)": (
        "uq_material_keys_material_id_unit_id_key_fingerprint"
    ),
    "ix_material_keys_material_id": "ix_material_keys_material_id",
}


def sizes_of(dsn: str) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(dsn) as conn:

        def one(sql: str, *args: Any) -> Any:
            row = conn.execute(sql, args).fetchone()
            assert row is not None
            return row[0]

        out: dict[str, Any] = {
            name: one("SELECT coalesce(pg_relation_size(to_regclass(%s)), 0)", ix)
            for name, ix in INDEXES.items()
        }
        out["materials"] = one("SELECT count(*) FROM materials")
        out["db_bytes"] = one("SELECT pg_database_size(current_database())")
        out["materials_total"] = one("SELECT pg_total_relation_size('materials')")
        out["material_keys_total"] = one("SELECT pg_total_relation_size('material_keys')")
        out["revision"] = one("SELECT version_num FROM alembic_version")
    return out


def side(code: Path, dsn: str, database: str, sizes: list[int], samples: int) -> None:
    """One side in this process: imports from ``code`` (set up by the parent through
    PYTHONPATH); prints one JSON line per size."""
    sys.path.insert(0, str(code / "benches"))
    from bench_load import seed
    from city import Filler, running, wait_anchored
    from sqlalchemy import select

    import transfer
    from transfer.db.models import Material
    from transfer.roles import Role
    from transfer.services.setup import init_home
    from transfer.services.verify import verify_sm3_many

    assert Path(transfer.__file__).resolve().is_relative_to(code.resolve()), transfer.__file__
    rng = random.Random(19)
    with tempfile.TemporaryDirectory(prefix="notary-sm3b-") as tmp:
        home = Path(tmp) / "home"
        keys = init_home(
            home, origin="city.archive-notary/log", centre_code="CITY", centre_name="城市档案中心",
            database_url=f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}",
        )  # fmt: skip
        admin = next(k.key for k in keys.keys if k.role is Role.ADMIN)
        security = next(k.key for k in keys.keys if k.role is Role.SECURITY)
        with running(home) as (_app, client):
            client.timeout = 120
            seed(client, admin, security, 2)
        filler = Filler(dsn, home, "LOAD", 10_000)
        for size in sizes:
            t0 = time.perf_counter()
            filler.grow_to(size, lambda n: None)
            fill_s = time.perf_counter() - t0
            with running(home) as (app, _client):
                wait_anchored(app)
                state = app.state.notary
                with state.sessions() as s:
                    top = s.scalar(select(Material.leaf_index).order_by(Material.leaf_index.desc()))
                    picks = list(
                        s.scalars(
                            select(Material.sm3).where(
                                Material.leaf_index.in_(
                                    [rng.randrange(top or 1) for _ in range(samples * 2)]
                                )
                            )
                        )
                    )[:samples]
                digests = [bytes.fromhex(d) for d in picks]
                verify_sm3_many(state, state.notary, digests[:20])  # warm the code path
                times = []
                for d in digests:
                    t = time.perf_counter()
                    answer = verify_sm3_many(state, state.notary, [d])[0]
                    times.append(time.perf_counter() - t)
                    assert isinstance(answer, dict) and answer["found"], answer
            ms = sorted(x * 1000 for x in times)
            got = {
                "size": size, "fill_s": fill_s, "verify_p50_ms": ms[len(ms) // 2],
                "verify_p99_ms": ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))],
                "samples": len(ms), **sizes_of(dsn),
            }  # fmt: skip
            print(json.dumps(got), flush=True)


def run_side(label: str, code: Path, database: str, args: argparse.Namespace) -> list[Any]:
    import psycopg

    with psycopg.connect(f"{PG} dbname=test", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{database}"')
    dsn = f"{PG} dbname={database}"
    print(f"{label}: {code}", flush=True)
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--side", str(code), "--dsn", dsn,
         "--database", database, "--samples", str(args.samples),
         "--sizes", *map(str, args.sizes)],
        capture_output=True, text=True, cwd=code,
        env={**os.environ, "PYTHONPATH": str(code)},
    )  # fmt: skip
    if done.returncode != 0:
        print(done.stdout[-2000:], done.stderr[-5000:], file=sys.stderr)
        raise SystemExit(f"{label} side failed")
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    for r in rows:
        print(label, r, flush=True)
    return rows


def migrate_timed(database: str) -> dict[str, Any]:
    """This code's migration of the base side's database (at 0010): up, measured, down."""
    from transfer.db.migrate import current_revision, downgrade, upgrade

    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
    dsn = f"{PG} dbname={database}"
    assert current_revision(url) == "0010_log_subjects"
    t0 = time.perf_counter()
    upgrade(url)
    up_s = time.perf_counter() - t0
    after = sizes_of(dsn)
    t0 = time.perf_counter()
    downgrade(url, "0010_log_subjects")
    down_s = time.perf_counter() - t0
    return {"upgrade_s": up_s, "downgrade_s": down_s, "after_upgrade": after,
            "after_downgrade": sizes_of(dsn)}  # fmt: skip


def report(title: str, old: list[Any], new: list[Any], mig: dict[str, Any], args: Any) -> str:
    mb = 1024 * 1024
    lines = [
        title,
        "- PostgreSQL 127.0.0.1:5432 (default settings, `shared_buffers` 128 MB); "
        f"base code {args.base_commit} (digests as 64 hex characters, revision 0010) "
        "against this code (32 bytes, 0011), same session, each filled from empty by "
        "`benches/city.py`'s Filler (COPY); verify-by-SM3 server side "
        f"(`verify_sm3_many`), {args.samples} random registered digests, after the "
        "backlog was anchored",
        "",
        "| measure | " + " | ".join(f"{o['size']:,}: hex → bytes" for o in old) + " |",
        "|---|" + "---:|" * len(old),
    ]

    def row(name: str, fmt: Any) -> None:
        cells = [fmt(o, n) for o, n in zip(old, new, strict=True)]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")

    def per(r: dict[str, Any]) -> float:
        return float(r["db_bytes"]) / r["materials"]

    def rate(r: dict[str, Any]) -> float:
        return float(r["size"]) / r["fill_s"]

    for name in INDEXES:
        row(
            f"`{name}`, MB",
            lambda o, n, k=name: f"{o[k] / mb:,.1f} → {n[k] / mb:,.1f} ({n[k] / o[k]:.2f}×)",
        )
    row("materials", lambda o, n: f"{o['materials']:,} / {n['materials']:,}")
    row(
        "database bytes per material",
        lambda o, n: f"{per(o):,.0f} → {per(n):,.0f} ({per(n) / per(o):.2f}×)",
    )
    row(
        "`materials` + `material_keys` with their indexes, MB",
        lambda o, n: (
            f"{(o['materials_total'] + o['material_keys_total']) / mb:,.0f} → "
            f"{(n['materials_total'] + n['material_keys_total']) / mb:,.0f}"
        ),
    )
    row(
        "verify-by-SM3 p50 / p99 ms",
        lambda o, n: (
            f"{o['verify_p50_ms']:.2f} / {o['verify_p99_ms']:.2f} → "
            f"{n['verify_p50_ms']:.2f} / {n['verify_p99_ms']:.2f}"
        ),
    )
    row("fill, entries/s", lambda o, n: f"{rate(o):,.0f} → {rate(n):,.0f}")
    if mig:
        a = mig["after_upgrade"]
        big = old[-1]
        lines += [
            "",
            f"Migration of the base side's database at {big['size']:,} entries "
            f"({big['materials']:,} materials), this code, service stopped:",
            "",
            "| step | seconds |",
            "|---|---:|",
            f"| upgrade 0010 → 0011 | {mig['upgrade_s']:.1f} |",
            f"| downgrade 0011 → 0010 | {mig['downgrade_s']:.1f} |",
            "",
            "After the upgrade (indexes rebuilt by the table rewrite, so packed tighter "
            "than those grown by inserts): "
            + ", ".join(f"`{k}` {a[k] / mb:,.1f} MB" for k in INDEXES)
            + f", {a['db_bytes'] / a['materials']:,.0f} database bytes per material.",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[160_000, 1_600_000])
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--base", type=Path, help="checkout of the code before the change")
    ap.add_argument("--keep", action="store_true", help="keep both databases")
    ap.add_argument("--out", default="city-sm3bytes")
    ap.add_argument("--side", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--dsn", help=argparse.SUPPRESS)
    ap.add_argument("--database", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side is not None:
        side(args.side, args.dsn, args.database, args.sizes, args.samples)
        return
    if args.base is None:
        ap.error("--base is required")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import psycopg
    from _common import header, write

    args.base_commit = subprocess.run(
        ["git", "-C", str(args.base), "rev-parse", "--short", "HEAD"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    title = header("SM3 digests as 32 bytes at city scale (0011_digest_bytes)")
    t0 = time.perf_counter()
    try:
        old = run_side("hex", args.base, "sm3b_hex", args)
        new = run_side("bytes", ROOT, "sm3b_bytes", args)
        mig = migrate_timed("sm3b_hex")
        print(mig, flush=True)
    finally:
        if not args.keep:
            with psycopg.connect(f"{PG} dbname=test", autocommit=True) as admin:
                for db in ("sm3b_hex", "sm3b_bytes"):
                    admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    text = report(title, old, new, mig, args)
    text += f"\n- whole run: {(time.perf_counter() - t0) / 60:.0f} min\n"
    print(write(args.out, text).read_text())


if __name__ == "__main__":
    main()
