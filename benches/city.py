"""City scale: a PostgreSQL deployment filled with synthetic entries, measured as it grows.

Run: ``python benches/city.py [--sizes 160000 1600000] [--keep]``; writes
``benches/results/city.md``. Old and new code on the same data: ``--fill-only --home H
--database D`` fills (and anchors) a deployment and keeps it; ``--audit-only --home H``
then times the whole-log audit's materials step of it with whichever checkout's
interpreter runs this file (``benches/results/city-audit-whole.md``).
``--sizes ... 16000000`` is the 16 M run (the result file of a smaller run states how
long it would take at the rates measured).

A fresh database (``--database``, default ``notary_city`` on 127.0.0.1:5432, trust
auth as the ``postgres`` user) gets a deployment (``notary init``'s ``init_home``:
embedded chain, local store). A sample volume of ``--sample`` 2 MB materials goes in
through the API (real ingest, content in the store). Then, for each size in turn, the
log grows to it with synthetic volumes of 100 entries each (the volume's 登记 custody
event and 99 材料登记), written through the project's tables and tree hashing:

- each entry is the real entry (``material_registered``, ``custody_entry``), encoded
  canonically; leaf and tree nodes come from ``notary.log.MerkleLog`` over a tree
  storage that hands its nodes to PostgreSQL's COPY instead of INSERTs;
- the rows (volumes, custody_events, materials, material_keys, log_leaves, log_nodes)
  carry what the service would write; data keys are random bytes (no content exists
  for synthetic materials, only their CID);
- a checkpoint every ``--checkpoint-every`` entries, signed with the deployment's log
  key and left pending: the service's anchoring worker anchors them on the embedded
  chain when it starts, as it would a backlog.

At each size, with the service's app running (in process, its anchoring worker on):
append + anchor rate (one entry per transaction, as a read or an ingest appends),
inclusion and consistency proofs (the ``/v1/log`` routes' functions), evidence
receipts, provenance of a volume, verify-by-SM3 lookups (the verify route's batch
function); then with the app stopped: ``notary audit --volume`` (the CLI, a
subprocess), the whole-log audit's per-material step on a prefix (entries/s, and the
extrapolation to the whole log), and database bytes per material. Latencies are
server-side (no HTTP), p50 / p99 over ``--samples`` random targets, except
verify-by-SM3 under load: ``notary serve --workers 2`` of the deployment and
``--clients`` keep-alive clients (``benches/load_client.py``, closed loop, then open
loop at ``--verify-rate``) over the sampled materials' digests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header, write
from bench_load import drive, seed, serve_home

from notary.checkpoint import sign_checkpoint
from notary.crypto import sm3
from notary.entries import CATEGORIES, blind_id, encode_entry, material_read, material_registered
from notary.log import MerkleLog
from notary.log.storage import Node, NodeKey
from notary.store.cid import binary_cid, cid_str

ROOT = Path(__file__).resolve().parent.parent
PG = "host=127.0.0.1 port=5432 user=postgres"
PER_VOLUME = 100  # entries per synthetic volume: its custody event and 99 materials
RAW = 0x55


class CopyStorage:
    """A :class:`notary.log.storage.TreeStorage` for one bulk writer: nodes go to a
    buffer that :meth:`flush` COPYs into ``log_nodes``; the frontier of an existing
    tree is read from the table once, when the ``MerkleLog`` is built."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        row = conn.execute("SELECT max(idx) FROM log_nodes WHERE level = 0").fetchone()
        self._size = 0 if row is None or row[0] is None else row[0] + 1
        self.buffer: list[Node] = []

    def size(self) -> int:
        return self._size

    def get_nodes(self, keys: Sequence[NodeKey]) -> list[bytes]:
        found = {
            (lv, ix): bytes(h)
            for lv, ix, h in self.conn.execute(
                "SELECT level, idx, hash FROM log_nodes WHERE (level, idx) IN "
                "(SELECT * FROM unnest(%s::smallint[], %s::bigint[]))",
                ([k[0] for k in keys], [k[1] for k in keys]),
            )
        }
        return [found[k] for k in keys]

    def put_nodes(self, nodes: Iterable[Node]) -> None:
        batch = list(nodes)
        self.buffer.extend(batch)
        self._size += sum(1 for lv, _, _ in batch if lv == 0)

    def flush(self, cur: psycopg.Cursor[Any]) -> None:
        with cur.copy("COPY log_nodes (level, idx, hash) FROM STDIN") as copy:
            for row in self.buffer:
                copy.write_row(row)
        self.buffer.clear()


class Filler:
    """Grows the deployment's log with synthetic volumes (see the module docstring)."""

    def __init__(self, dsn: str, home: Path, unit_code: str, checkpoint_every: int) -> None:
        from notary.deployment import open_deployment
        from transfer.security import blinding_secret
        from transfer.services.setup import settings_for

        self.dsn = dsn
        dep = open_deployment(home)
        self.signer, self.origin = dep.log_key, dep.origin
        dep.close()
        self.secret = blinding_secret(settings_for(home))
        self.unit_code = unit_code
        self.every = checkpoint_every
        with psycopg.connect(dsn) as conn:
            row = conn.execute(
                "SELECT u.id, k.key_fingerprint FROM units u JOIN material_keys k "
                "ON k.unit_id = u.id WHERE u.code = %s LIMIT 1",
                (unit_code,),
            ).fetchone()
            assert row is not None, "the sample volume's unit has no material keys"
            self.unit_id, self.fingerprint = row
            self.volumes = conn.execute("SELECT count(*) FROM volumes").fetchone()[0]  # type: ignore[index]

    def grow_to(self, target: int, progress: Callable[[int], None]) -> None:
        """Append synthetic volumes until the log holds at least ``target`` entries;
        one transaction per ``--checkpoint-every`` entries (a checkpoint each)."""
        from transfer.db.models import CustodyEvent, CustodyEventKind
        from transfer.db.treestore import entry_subjects
        from transfer.services.custody import custody_entry
        from transfer.services.ingest import volume_ref

        with psycopg.connect(self.dsn) as conn:
            storage = CopyStorage(conn)
            log = MerkleLog(storage)
            while log.size < target:
                now = dt.datetime.now(dt.UTC)
                now_ms = int(now.timestamp() * 1000)
                volumes: list[tuple[Any, ...]] = []
                events: list[tuple[Any, ...]] = []
                materials: list[tuple[Any, ...]] = []
                keys: list[tuple[Any, ...]] = []
                leaves: list[tuple[Any, ...]] = []
                subjects: list[tuple[Any, ...]] = []
                chunk_end = min(target, (log.size // self.every + 1) * self.every)
                while log.size + PER_VOLUME <= chunk_end or (not volumes and log.size < target):
                    self.volumes += 1
                    vid = uuid.uuid4()
                    blinded = blind_id(self.secret, f"city-cadre-{self.volumes}")
                    volumes.append((vid, blinded, "main", self.unit_id, "held", now))
                    row = CustodyEvent(
                        volume_id=vid,
                        kind=CustodyEventKind.REGISTERED,
                        to_unit_id=self.unit_id,
                        detail={"kind": "main"},
                        created_at=now,
                    )
                    entry = custody_entry(row, self.secret, {self.unit_id: self.unit_code}.get)  # type: ignore[arg-type]
                    encoded = [encode_entry(entry)]
                    events.append(
                        (uuid.uuid4(), vid, "registered", None, self.unit_id,
                         '{"kind": "main"}', log.size, None, now)
                    )  # fmt: skip
                    vref = volume_ref(self.secret, vid)
                    first_leaf = log.size + 1
                    for i in range(PER_VOLUME - 1):
                        mid = uuid.uuid4()
                        digest = os.urandom(32)  # materials.sm3 is BYTEA (0011)
                        cid = cid_str(binary_cid(RAW, os.urandom(16)))
                        category = CATEGORIES[i % len(CATEGORIES)]
                        encoded.append(
                            encode_entry(
                                material_registered(
                                    material_id=str(mid), sm3_hex=digest.hex(), cid=cid,
                                    size=2_097_152, category=category, volume=vref,
                                    unit=self.unit_code, version=1, time_ms=now_ms,
                                )
                            )
                        )  # fmt: skip
                        materials.append(
                            (mid, vid, mid, 1, category, i + 1, 3, "工资审批表",
                             dt.date(2010, 3, 15), digest, 2_097_152, "application/pdf",
                             cid, 2_097_185, self.unit_id, first_leaf + i, now)
                        )  # fmt: skip
                        keys.append(
                            (mid, self.unit_id, self.fingerprint, os.urandom(113), True, now)
                        )
                    indices = log.append_many(encoded)
                    leaves.extend(
                        (indices.start + j, e, sm3(b"\x00" + e), now) for j, e in enumerate(encoded)
                    )
                    # The log's subject index, as DbTreeStorage.put_entries writes it.
                    subjects.extend(
                        (r["kind"], r["subject"], r["leaf_index"])
                        for r in entry_subjects(indices.start, encoded)
                    )
                self._write(
                    conn, storage, log, volumes, events, materials, keys, leaves, subjects, now_ms
                )
                progress(log.size)

    def _write(
        self,
        conn: psycopg.Connection[Any],
        storage: CopyStorage,
        log: MerkleLog,
        *rows: Any,
    ) -> None:
        volumes, events, materials, keys, leaves, subjects, now_ms = rows
        tables = (
            ("volumes (id, cadre_blind_id, kind, custodian_unit_id, status, created_at)", volumes),
            ("custody_events (id, volume_id, kind, from_unit_id, to_unit_id, detail, "
             "leaf_index, tx_hash, created_at)", events),
            ("materials (id, volume_id, lineage_id, version, category, seq_no, pages, title, "
             "formation_date, sm3, size, media_type, cid, sealed_size, registered_by_unit_id, "
             "leaf_index, created_at)", materials),
            ("material_keys (material_id, unit_id, key_fingerprint, wrapped, active, "
             "created_at)", keys),
            ("log_leaves (idx, entry, leaf_hash, created_at)", leaves),
            ("log_subjects (kind, subject, leaf_index)", subjects),
        )  # fmt: skip
        cp = sign_checkpoint(self.signer, self.origin, log.size, log.root(), now_ms)
        with conn.transaction(), conn.cursor() as cur:
            for table, data in tables:
                with cur.copy(f"COPY {table} FROM STDIN") as copy:
                    for r in data:
                        copy.write_row(r)
            storage.flush(cur)
            cur.execute(
                "INSERT INTO checkpoints (tree_size, root, timestamp_ms, signature, body, "
                "status, attempts, created_at) VALUES (%s, %s, %s, %s, %s, 'pending', 0, now())",
                (cp.checkpoint.tree_size, cp.checkpoint.root, cp.checkpoint.timestamp_ms,
                 cp.signature, json.dumps(cp.to_json())),
            )  # fmt: skip


def pct(values: list[float]) -> tuple[float, float]:
    """p50 and p99 in ms."""
    ms = sorted(v * 1000 for v in values)
    return statistics.median(ms), ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]


def timed(fn: Callable[[], object], n: int) -> tuple[float, float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return pct(out)


@contextmanager
def running(home: Path) -> Any:
    """The service's app in this process, lifespan entered (its anchoring worker runs)."""
    from fastapi.testclient import TestClient

    from transfer.api.app import create_app
    from transfer.services.setup import settings_for

    app = create_app(settings_for(home))
    with TestClient(app) as client:
        yield app, client


def wait_anchored(app: Any, timeout_s: float = 3600) -> float:
    """Seconds until no checkpoint is pending (the anchoring worker's backlog)."""
    from sqlalchemy import func, select

    from transfer.db.models import Checkpoint, CheckpointStatus

    state = app.state.notary
    t0 = time.perf_counter()
    while True:
        with state.sessions() as s:
            left = s.scalar(
                select(func.count()).where(Checkpoint.status == CheckpointStatus.PENDING)
            )
        if not left:
            return time.perf_counter() - t0
        if time.perf_counter() - t0 > timeout_s:
            raise TimeoutError(f"{left} checkpoints still pending")
        time.sleep(0.2)


def measure_live(app: Any, seconds: float, samples: int, rng: random.Random) -> dict[str, Any]:
    """What is measured with the app running (see the module docstring)."""
    from sqlalchemy import func, select

    from notary.crypto import sm3 as sm3_fn
    from notary.log.merkle import consistency_proof, inclusion_proof, root_at
    from transfer.db.models import Checkpoint, CheckpointStatus, Material, Volume
    from transfer.db.treestore import DbTreeStorage
    from transfer.services.logwriter import append_entries
    from transfer.services.provenance import Keys, volume_timeline
    from transfer.services.receipts import receipt_state
    from transfer.services.verify import verify_sm3_many

    state = app.state.notary
    ctx = state.notary
    out: dict[str, Any] = {}
    # Append + anchor: one entry per transaction for ``seconds``, then until anchored.
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        with state.write_sessions() as s:
            entry = material_read(
                material_id=str(uuid.uuid4()), unit="LOAD", purpose="city benchmark",
                time_ms=int(time.time() * 1000),
            )  # fmt: skip
            last = append_entries(s, [entry]).stop
            s.commit()
        n += 1
    appended = time.perf_counter() - t0
    while True:
        with state.sessions() as s:
            top = s.scalar(
                select(func.max(Checkpoint.tree_size)).where(
                    Checkpoint.status == CheckpointStatus.ANCHORED
                )
            )
        if top is not None and top >= last:
            break
        time.sleep(0.05)
    out["append_per_s"] = n / appended
    out["anchor_lag_s"] = time.perf_counter() - t0 - appended

    with state.sessions() as s:
        size = DbTreeStorage(s).size()
        leaves = [rng.randrange(size) for _ in range(samples)]
        material_count = s.scalar(select(func.count()).select_from(Material)) or 0
        # Random materials by offset in the primary-key order is slow at scale; sample
        # by leaf instead (every synthetic volume's leaves 1..99 are materials).
        picks = list(
            s.execute(
                select(Material.leaf_index, Material.sm3, Material.volume_id).where(
                    Material.leaf_index.in_([rng.randrange(size) for _ in range(samples * 3)])
                )
            )
        )[:samples]
        volume_ids = list({p.volume_id for p in picks})[: max(5, samples // 10)]
        sample_volume = s.scalar(select(Volume.id).order_by(Volume.created_at).limit(1))

    def one(fn: Callable[[Any], object]) -> Callable[[], object]:
        def call() -> object:
            with state.sessions() as s:
                return fn(s)

        return call

    it = iter(leaves * 2)

    def incl(s: Any) -> object:
        leaf = next(it)
        storage = DbTreeStorage(s)
        return (
            storage.get_nodes([(0, leaf)]),
            root_at(sm3_fn, storage, size),
            inclusion_proof(sm3_fn, storage, leaf, size),
        )

    out["inclusion_ms"] = timed(one(incl), samples)

    def cons(s: Any) -> object:
        first = rng.randrange(1, size)
        storage = DbTreeStorage(s)
        return (
            root_at(sm3_fn, storage, first),
            root_at(sm3_fn, storage, size),
            consistency_proof(sm3_fn, storage, first, size),
        )

    out["consistency_ms"] = timed(one(cons), samples)
    pit = iter(picks * 2)
    out["receipt_ms"] = timed(
        one(lambda s: receipt_state(s, next(pit).leaf_index, ctx.log_public_key)), len(picks)
    )
    vit = iter(volume_ids * 2)
    keys = Keys(state.blinding_secret, ctx.log_public_key)
    out["provenance_ms"] = timed(
        one(lambda s: volume_timeline(s, next(vit), keys)), len(volume_ids)
    )
    with state.sessions() as s:
        out["provenance_items"] = len(volume_timeline(s, volume_ids[0], keys))
    dit = iter(picks * 2)
    out["verify_ms"] = timed(
        lambda: verify_sm3_many(state, ctx, [bytes.fromhex(next(dit).sm3)]), len(picks)
    )
    out["size"] = size
    out["materials"] = material_count
    out["sample_volume"] = str(sample_volume)
    out["synthetic_volume"] = str(volume_ids[0])
    out["sm3s"] = [p.sm3 for p in picks]
    return out


def cli_volume_audit(home: Path, volume: str) -> tuple[float, bool]:
    """Seconds of ``notary audit --volume`` (the CLI, a subprocess) and whether it ran
    to a report (exit 0 or 1: synthetic materials have no content, a finding)."""
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        done = subprocess.run(
            [str(Path(sys.executable).parent / "notary"), "audit", "--home", str(home),
             "--out", d, "--volume", volume, "--json"],
            capture_output=True, text=True, cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        elapsed = time.perf_counter() - t0
        if done.returncode not in (0, 1):
            print(done.stderr[-3000:], file=sys.stderr)
        return elapsed, done.returncode in (0, 1)


def measure_verify_load(
    home: Path, admin: str, security: str, key: str, sm3s: list[str], args: argparse.Namespace
) -> dict[str, Any]:
    """verify-by-SM3 over HTTP at ``--clients`` concurrent clients: ``notary serve
    --workers 2`` of this deployment and ``benches/load_client.py`` (closed loop, then
    open loop at ``--verify-rate``), each round-robin over the sampled digests."""
    out: dict[str, Any] = {}
    load = argparse.Namespace(
        concurrency=args.clients, seconds=args.load_seconds, rate=args.verify_rate
    )
    with serve_home(home, 2, admin, security) as served:
        for mode in ("sm3", "sm3-open"):
            r = drive(served.base, key, mode, ["--sm3", *sm3s], load)
            out[f"load_{mode}"] = r
            served.show_log = served.show_log or bool(r["errors"])
    return out


def measure_volume_lookup(home: Path, volume: str) -> dict[str, Any]:
    """What a one-volume audit spends finding the volume's logged entries, in process:
    through the log's subject index (what ``notary audit --volume`` does now) against the
    two scans of the whole log it did before (``logged_custody`` and the read/transfer
    scan, still the whole-log audit's way), same run, same volume; and how many anchored
    checkpoints its other log-wide step, the log monitor, goes through."""
    from sqlalchemy import select

    from notary.entries import SUBJECT_CUSTODY, SUBJECT_READ
    from transfer.db.models import Checkpoint, CheckpointStatus, Material
    from transfer.db.session import make_engine, read_sessionmaker
    from transfer.security import blinding_secret
    from transfer.services.audit_scope import open_sources
    from transfer.services.custody_audit import indexed_leaves, logged_custody, volume_custody
    from transfer.services.ingest import volume_ref
    from transfer.services.record_audit import _logged, logged_records
    from transfer.services.setup import settings_for

    settings = settings_for(home)
    secret = blinding_secret(settings)
    vid = uuid.UUID(volume)
    ref = volume_ref(secret, vid)
    out: dict[str, Any] = {}
    engine = make_engine(settings.database_url_resolved)
    try:
        with open_sources(home, settings.store, None) as src, read_sessionmaker(engine)() as s:
            mids = {str(m) for m in s.scalars(select(Material.id).where(Material.volume_id == vid))}
            t0 = time.perf_counter()
            custody = logged_custody(s, {ref: vid})
            _logged(s)
            out["lookup_scan_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            indexed = indexed_leaves(s, SUBJECT_CUSTODY, [ref])
            indexed_leaves(s, SUBJECT_READ, mids)
            out["lookup_index_s"] = time.perf_counter() - t0
            assert indexed[ref] == custody[vid], (indexed, custody)
            t0 = time.perf_counter()
            list(
                volume_custody(
                    s, [vid], secret=secret, log_key=src.log_key,
                    centre_account=src.centre_account,
                )
            )  # fmt: skip
            list(logged_records(s, [vid], log_key=src.log_key))
            out["gather_s"] = time.perf_counter() - t0
            cp_rows = s.scalars(
                select(Checkpoint)
                .where(Checkpoint.status == CheckpointStatus.ANCHORED)
                .order_by(Checkpoint.tree_size)
            ).all()
            out["checkpoints"] = len(cp_rows)
    finally:
        engine.dispose()
    return out


def measure_audit(
    home: Path,
    volume: str,
    synthetic: str,
    prefix: int,
    baseline: Path | None = None,
    workers: int = 2,
    serial_max: int = 10**9,
) -> dict[str, Any]:
    """``notary audit --volume`` through the CLI (the sample volume, and a synthetic one
    of 99 materials), what it spends finding the volume's entries against the old scan,
    and the whole-log audit's steps (the CLI's own functions): the materials step over
    every material and on a prefix, then the other steps."""
    out: dict[str, Any] = {}
    out["volume_audit_s"], out["volume_audit_ok"] = cli_volume_audit(home, volume)
    out["volume_audit_s_100"], out["volume_audit_100_ok"] = cli_volume_audit(home, synthetic)
    out.update(measure_volume_lookup(home, synthetic))

    # The whole log's materials step as ``notary audit`` runs it (one snapshot, the
    # stored tree checked once, every material), timed from the first query.
    n, seconds, found_parallel = materials_step(home, workers=workers)
    out["whole_per_s"], out["whole_s"], out["whole_materials"] = n / seconds, seconds, n
    out["whole_findings"], out["workers"] = found_parallel, workers
    if n <= serial_max:
        n, seconds, found = materials_step(home)
        out["serial_per_s"], out["serial_s"] = n / seconds, seconds
        # The processes' report is the one process's, row for row.
        out["parallel_same"] = found_parallel == found
    # The same step on a prefix, each material's proof assembled and checked (no tree
    # pass): batched, and one material at a time (the older baseline).
    for label, batch_size in (("_one_by_one", 1), ("", 256)):
        n, seconds, _ = materials_step(home, prefix=prefix, tree=False, batch_size=batch_size)
        out[f"prefix_per_s{label}"] = n / seconds
    out["prefix"] = n
    out.update(other_steps(home))
    if baseline is not None:  # the code before this work, same data, same run
        done = subprocess.run(
            [sys.executable, "-c", BASELINE_STEP, str(home), str(prefix)],
            capture_output=True, text=True, cwd=baseline,
            env={**os.environ, "PYTHONPATH": str(baseline)},
        )  # fmt: skip
        if done.returncode != 0:
            print(done.stderr[-3000:], file=sys.stderr)
        else:
            got = json.loads(done.stdout.strip().splitlines()[-1])
            out["prefix_per_s_baseline"] = got["n"] / got["s"]
    return out


def other_steps(home: Path) -> dict[str, float]:
    """The whole-log audit's steps after the materials, timed as the CLI runs them (same
    functions): custody of every volume, the logged records (access log, reads,
    transfers), the log monitor over every anchored checkpoint."""
    from sqlalchemy import select

    from notary.audit import audit_checkpoints, audit_custody, audit_records, new_report
    from notary.checkpoint import parse_signed_checkpoint
    from notary.crypto import sm3 as sm3_fn
    from notary.log.merkle import consistency_proof
    from transfer.db.models import Checkpoint, CheckpointStatus
    from transfer.db.session import make_engine, read_sessionmaker
    from transfer.db.treestore import DbTreeStorage
    from transfer.security import blinding_secret
    from transfer.services.audit_scope import open_sources, snapshot
    from transfer.services.custody_audit import volume_custody
    from transfer.services.record_audit import logged_records
    from transfer.services.setup import settings_for

    settings = settings_for(home)
    engine = make_engine(settings.database_url_resolved)
    out: dict[str, float] = {}
    try:
        with open_sources(home, settings.store, None) as src, read_sessionmaker(engine)() as s:
            snapshot(s)
            report = new_report("city")
            t0 = time.perf_counter()
            audit_custody(
                volume_custody(
                    s, None, secret=blinding_secret(settings), log_key=src.log_key,
                    centre_account=src.centre_account,
                ),
                log_keys=[src.log_key], chain=src.chain, report=report,
            )  # fmt: skip
            out["custody_s"], t0 = time.perf_counter() - t0, time.perf_counter()
            audit_records(
                logged_records(s, None, log_key=src.log_key),
                log_keys=[src.log_key], chain=src.chain, report=report,
            )  # fmt: skip
            out["records_s"], t0 = time.perf_counter() - t0, time.perf_counter()
            rows = s.scalars(
                select(Checkpoint)
                .where(Checkpoint.status == CheckpointStatus.ANCHORED)
                .order_by(Checkpoint.tree_size)
            ).all()
            storage, chain = DbTreeStorage(s), src.chain

            def chain_root(cp: Any) -> bytes | None:
                a = chain.get_anchor(cp.checkpoint.log_id, cp.checkpoint.tree_size)
                return None if a is None else bytes(a.root)

            audit_checkpoints(
                [parse_signed_checkpoint(r.body) for r in rows],
                lambda a, b: consistency_proof(sm3_fn, storage, a, b),
                log_key=src.log_key, chain_root=chain_root, report=report,
            )  # fmt: skip
            out["monitor_s"] = time.perf_counter() - t0
            out["volumes"] = report.volumes
            out["other_problems"] = len(report.problems)
    finally:
        engine.dispose()
    return out


# The materials step of the code before the whole-log audit's rework (commit 12d92e1:
# ORM rows, per-material proofs), run by ``--baseline DIR`` (that commit's tree) in a
# subprocess over the same prefix: the same-run baseline.
BASELINE_STEP = """
import json, sys, time
from pathlib import Path
from sqlalchemy import select
from notary.audit import audit_materials, new_report
from transfer.db.models import Material, Unit, Volume
from transfer.db.session import make_engine, read_sessionmaker
from transfer.services.audit_scope import audit_items, open_sources
from transfer.services.setup import settings_for
home, prefix = Path(sys.argv[1]), int(sys.argv[2])
settings = settings_for(home)
engine = make_engine(settings.database_url_resolved)
with open_sources(home, settings.store, None) as src, read_sessionmaker(engine)() as s:
    t0 = time.perf_counter()
    rows = s.execute(
        select(Material, Volume, Unit).join(Volume, Material.volume_id == Volume.id)
        .join(Unit, Volume.custodian_unit_id == Unit.id).order_by(Material.leaf_index)
        .limit(prefix)
    ).all()
    codes = {}
    def items():
        for item, code in audit_items(s, rows, src):
            codes[item.record.material_id] = code
            yield item
    report = audit_materials(
        items(), store=src.store, holder=lambda r: src.unit_key(codes[r.material_id]),
        log_keys=[src.log_key], chain=src.chain, report=new_report("baseline"),
    )
    print(json.dumps({"n": report.materials, "s": time.perf_counter() - t0}))
"""


def materials_step(
    home: Path,
    *,
    prefix: int | None = None,
    tree: bool = True,
    batch_size: int = 256,
    workers: int = 1,
) -> tuple[int, float, dict[str, Any]]:
    """``notary audit``'s materials step (its functions, without the report files):
    every material in the CLI's order, or the first ``prefix`` by leaf; ``tree``: the
    whole-log tree pass (the CLI's whole-log audit) instead of each material's proof;
    ``workers`` > 1: in that many processes (``audit_materials_parallel``, the CLI's
    whole-log audit on PostgreSQL). Returns the materials audited, the seconds from
    the first query, and the findings by check with an SM3 over every report row and
    finding (``digest``: equal reports, equal digests)."""
    import hashlib
    from collections import Counter

    from notary.audit import audit_materials, new_report
    from transfer.db.models import Material
    from transfer.db.session import make_engine, read_sessionmaker
    from transfer.services.audit_scope import (
        audit_items,
        audit_materials_parallel,
        material_columns,
        open_sources,
        scope_materials,
        snapshot,
        whole_log_tree,
    )
    from transfer.services.setup import settings_for

    settings = settings_for(home)
    engine = make_engine(settings.database_url_resolved)
    try:
        with open_sources(home, settings.store, None) as src, read_sessionmaker(engine)() as s:
            t0 = time.perf_counter()
            snapshot(s)
            rows: Any
            if prefix is None:
                _scope, rows, _volumes = scope_materials(s, None, None)
            else:
                rows = s.execute(material_columns().order_by(Material.leaf_index).limit(prefix))
            if workers > 1:  # the tree checked by the workers, in ranges
                report = audit_materials_parallel(
                    s, src, new_report("city"), home=home, store=settings.store, rpc=None,
                    database_url=settings.database_url_resolved, workers=workers,
                    batch_size=batch_size,
                )  # fmt: skip
            else:
                checked = whole_log_tree(s) if tree else None
                codes: dict[str, str] = {}

                def items() -> Any:
                    for item, code in audit_items(
                        s, rows, src, batch_size=batch_size, tree=checked
                    ):
                        codes[item.record.material_id] = code
                        yield item

                report = audit_materials(
                    items(),
                    store=src.store,
                    holder=lambda r: src.holder_key(codes[r.material_id]),
                    log_keys=[src.log_key],
                    chain=src.chain,
                    report=new_report("city"),
                )
            seconds = time.perf_counter() - t0
    finally:
        engine.dispose()
    digest = hashlib.sha256()
    for row in report.material_rows:
        digest.update(json.dumps(row, sort_keys=True, default=str).encode())
    for p in report.problems:
        digest.update(repr(p).encode())
    found: dict[str, Any] = dict(Counter(p.check for p in report.problems))
    found["digest"] = digest.hexdigest()[:16]
    return report.materials, seconds, found


def profile_audit(home: Path, path: Path) -> None:
    """``NOTARY_CITY_PROFILE=<file>``: the whole-log audit's materials step (every
    material, the CLI's scope and functions) under cProfile; the stats go to ``<file>``
    (``python -m pstats <file>``) and the top functions by own and cumulative time to
    ``<file>.txt``, so the next person sees where the audit's time goes."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    n, seconds, _ = profiler.runcall(materials_step, home)
    profiler.dump_stats(path)
    text = io.StringIO()
    text.write(
        f"whole-log audit, materials step under cProfile: {n:,} materials "
        f"in {seconds:.1f} s ({n / seconds:,.0f}/s with the profiler on)\n"
    )
    stats = pstats.Stats(str(path), stream=text)
    stats.sort_stats("tottime").print_stats(40)
    stats.sort_stats("cumulative").print_stats(60)
    Path(f"{path}.txt").write_text(text.getvalue(), encoding="utf-8")
    print(f"profile: {path} and {path}.txt", flush=True)


def db_bytes(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])  # type: ignore[index]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[160_000, 1_600_000])
    ap.add_argument("--database", default="notary_city")
    ap.add_argument("--sample", type=int, default=5, help="2 MB materials with content")
    ap.add_argument("--checkpoint-every", type=int, default=10_000)
    ap.add_argument("--seconds", type=float, default=10, help="append + anchor run")
    ap.add_argument("--samples", type=int, default=200, help="targets per latency")
    ap.add_argument("--audit-prefix", type=int, default=2_000)
    ap.add_argument("--keep", action="store_true", help="keep the database afterwards")
    ap.add_argument("--clients", type=int, default=300, help="verify-by-SM3 over HTTP")
    ap.add_argument("--load-seconds", type=float, default=30, help="each verify-by-SM3 run")
    ap.add_argument(
        "--verify-rate", type=float, default=1000, help="verify-by-SM3 open loop, requests/s"
    )
    ap.add_argument(
        "--home", type=Path, help="the deployment's home here (kept), not in a temporary directory"
    )
    ap.add_argument("--out", default="city")
    ap.add_argument("--workers", type=int, default=2, help="processes of the whole-log audit")
    ap.add_argument(
        "--serial-max",
        type=int,
        default=10**9,
        help="run the one-process whole-log audit too up to this many materials",
    )
    ap.add_argument(
        "--baseline",
        type=Path,
        help="a checkout of the code before the audit's rework (commit 12d92e1): its "
        "materials step on the same prefix, in the same run",
    )
    ap.add_argument(
        "--fill-only",
        action="store_true",
        help="fill to each of --sizes and anchor, keep the database and --home, measure "
        "nothing (then --audit-only, with this code or another checkout's)",
    )
    ap.add_argument(
        "--audit-only",
        action="store_true",
        help="only the whole-log audit's materials step of the deployment already filled at "
        "--home (--fill-only's): --workers processes, then one process; prints one JSON line "
        "(and with NOTARY_CITY_PROFILE=<file>, the one-process step under cProfile)",
    )
    args = ap.parse_args()
    if (args.fill_only or args.audit_only) and args.home is None:
        ap.error("--fill-only and --audit-only need --home")
    if args.audit_only:
        audit_only(args.home, args.workers, args.serial_max)
        return
    title = header("City scale: a PostgreSQL deployment at growing log sizes")
    rng = random.Random(19)
    from transfer.roles import Role
    from transfer.services.setup import init_home

    with psycopg.connect(f"{PG} dbname=test", autocommit=True) as admin_conn:
        admin_conn.execute(f'DROP DATABASE IF EXISTS "{args.database}"')
        admin_conn.execute(f'CREATE DATABASE "{args.database}"')
    dsn = f"{PG} dbname={args.database}"
    results: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="notary-city-") as tmp:
            home = args.home or Path(tmp) / "home"
            keys = init_home(
                home, origin="city.archive-notary/log", centre_code="CITY",
                centre_name="城市档案中心",
                database_url=f"postgresql+psycopg://postgres@127.0.0.1:5432/{args.database}",
            )  # fmt: skip
            admin = next(k.key for k in keys.keys if k.role is Role.ADMIN)
            security = next(k.key for k in keys.keys if k.role is Role.SECURITY)
            with running(home) as (_app, client):
                client.timeout = 120
                key, _ = seed(client, admin, security, args.sample)[:2]
            filler = Filler(dsn, home, "LOAD", args.checkpoint_every)
            t_fill = 0.0
            for size in args.sizes:
                t0 = time.perf_counter()
                filler.grow_to(size, lambda n: print(f"  {n:,} entries", flush=True))
                t_fill += time.perf_counter() - t0
                filled_s = time.perf_counter() - t0
                print(f"filled to {size:,} in {filled_s:.0f} s", flush=True)
                if args.fill_only:
                    with running(home) as (app, _client):
                        backlog = wait_anchored(app)
                    print(f"anchored in {backlog:.0f} s: {home}, database {args.database}")
                    continue
                with running(home) as (app, _client):
                    backlog = wait_anchored(app)
                    live = measure_live(app, args.seconds, args.samples, rng)
                sm3s = live.pop("sm3s")
                print(live, flush=True)
                live.update(measure_verify_load(home, admin, security, key, sm3s, args))
                print({k: v for k, v in live.items() if k.startswith("load_")}, flush=True)
                audit = measure_audit(
                    home, live["sample_volume"], live["synthetic_volume"], args.audit_prefix,
                    args.baseline, args.workers, args.serial_max,
                )  # fmt: skip
                print(audit, flush=True)
                if os.environ.get("NOTARY_CITY_PROFILE"):
                    profile_audit(home, Path(os.environ["NOTARY_CITY_PROFILE"]))
                checkpoints = (
                    size - (results[-1]["size"] if results else 0)
                ) / args.checkpoint_every
                results.append(
                    {"size": size, "fill_s": filled_s, "backlog_s": backlog,
                     "backlog_rate": checkpoints / max(backlog, 1e-9),
                     "bytes": db_bytes(dsn), **live, **audit}
                )  # fmt: skip
    finally:
        if not (args.keep or args.fill_only):
            with psycopg.connect(f"{PG} dbname=test", autocommit=True) as admin_conn:
                admin_conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    if not args.fill_only:
        report(title, results, args)


def audit_only(home: Path, workers: int, serial_max: int) -> None:
    """``--audit-only``: the whole-log materials step of the filled deployment at
    ``home``, with ``workers`` processes and then in one (up to ``serial_max``
    materials), by whatever code this interpreter imports — run it with another
    checkout's venv for the old code on the same data, in the same session. One JSON
    line: which code ran, the load average before each run, rates and findings."""
    import notary

    code = Path(notary.__file__).resolve().parent.parent
    head = subprocess.run(
        ["git", "-C", str(code), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    out: dict[str, Any] = {"code": str(code), "commit": head, "workers": workers}
    runs = [workers] if workers == 1 else [workers, 1]
    for n_workers in runs:
        label = "parallel" if n_workers > 1 else "serial"
        out[f"{label}_load"] = os.getloadavg()
        n, seconds, found = materials_step(home, workers=n_workers)
        out.update({f"{label}_per_s": n / seconds, f"{label}_s": seconds, "materials": n})
        out[f"{label}_findings"] = found
        print(f"{label}: {n:,} materials in {seconds:.1f} s, {n / seconds:,.0f}/s", flush=True)
        if n > serial_max:
            break
    if "serial_findings" in out and "parallel_findings" in out:
        out["parallel_same"] = out["serial_findings"] == out["parallel_findings"]
    print(json.dumps(out), flush=True)
    if os.environ.get("NOTARY_CITY_PROFILE"):
        profile_audit(home, Path(os.environ["NOTARY_CITY_PROFILE"]))


def _lat(r: dict[str, Any]) -> str:
    return f"{r['p50_ms']:.1f} / {r['p99_ms']:.1f}, {r['errors']}"


def report(title: str, results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    def fmt(v: Any) -> str:
        if isinstance(v, tuple):
            return f"{v[0]:.2f} / {v[1]:.2f}"
        if isinstance(v, float):
            return f"{v:,.1f}"
        return f"{v:,}" if isinstance(v, int) else str(v)

    first, last = results[0], results[-1]
    rows: list[tuple[str, Callable[[dict[str, Any]], Any], str]] = [
        ("log size at measurement (entries)", lambda r: r["size"], ""),
        ("materials", lambda r: r["materials"], ""),
        ("fill: synthetic entries written per second (COPY)",
         lambda r: r["fill_rate"], ""),
        ("append + anchor: entries/s, one per transaction", lambda r: r["append_per_s"], ""),
        ("… last append to its anchor (s)", lambda r: r["anchor_lag_s"], ""),
        ("inclusion proof + leaf + root, p50 / p99 ms", lambda r: r["inclusion_ms"], "log n"),
        ("consistency proof + two roots, p50 / p99 ms", lambda r: r["consistency_ms"], "log n"),
        ("evidence receipt (checked), p50 / p99 ms", lambda r: r["receipt_ms"], "log n"),
        ("provenance of a volume (100 items), p50 / p99 ms",
         lambda r: r["provenance_ms"], "constant"),
        ("verify-by-SM3 lookup, p50 / p99 ms", lambda r: r["verify_ms"], "constant"),
        (f"verify-by-SM3 over HTTP, {args.clients} clients, closed loop: requests/s",
         lambda r: r["load_sm3"]["rps"], "constant"),
        ("… p50 / p99 ms, errors",
         lambda r: _lat(r["load_sm3"]), "constant"),
        (f"… open loop at {args.verify_rate:,g} requests/s: p50 / p99 ms, errors",
         lambda r: _lat(r["load_sm3-open"]), "constant"),
        ("`notary audit --volume` (CLI, process start included), s",
         lambda r: r["volume_audit_s"], "constant"),
        ("… of a synthetic volume (99 materials, no content), s",
         lambda r: r["volume_audit_s_100"], "constant"),
        ("… finding its logged entries: subject index, ms",
         lambda r: r["lookup_index_s"] * 1000, "constant"),
        ("… finding them by the old scan of the log (baseline), ms",
         lambda r: r["lookup_scan_s"] * 1000, "n"),
        ("… its custody and records read through the index, ms",
         lambda r: r["gather_s"] * 1000, "constant"),
        ("anchored checkpoints", lambda r: r["checkpoints"], ""),
        ("whole-log audit, materials step, every material (tree pass, processes): "
         "materials/s", lambda r: r["whole_per_s"], "constant"),
        ("… the same in one process: materials/s",
         lambda r: r.get("serial_per_s", "not run"), "constant"),
        ("… processes' report = one process's report (SHA-256 of rows and findings)",
         lambda r: {"True": "yes", "False": "**NO**"}.get(str(r.get("parallel_same")), "not run"),
         ""),
        ("whole-log audit, the other steps: custody of every volume, s",
         lambda r: r["custody_s"], "n"),
        ("… the logged records (access log, reads, transfers), s",
         lambda r: r["records_s"], "n"),
        ("… the log monitor (every anchored checkpoint), s", lambda r: r["monitor_s"], ""),
        ("… on a prefix, each material's own proof checked (batched): materials/s",
         lambda r: r["prefix_per_s"], ""),
        ("… on a prefix, receipts and keys one material at a time: materials/s",
         lambda r: r["prefix_per_s_one_by_one"], ""),
        ("… on a prefix, the code before this rework (12d92e1, baseline): materials/s",
         lambda r: r.get("prefix_per_s_baseline", "not run"), ""),
        ("database bytes per material", lambda r: r["bytes"] / r["materials"], "constant"),
    ]  # fmt: skip
    for r in results:
        r["fill_rate"] = (
            r["size"] / r["fill_s"]
            if r is first
            else ((r["size"] - results[results.index(r) - 1]["size"]) / r["fill_s"])
        )
    head = " | ".join(f"{r['size']:,}" for r in results)
    lines = [
        title,
        f"- PostgreSQL 127.0.0.1:5432, database `{args.database}` (created and dropped by the "
        f"run); embedded chain; {PER_VOLUME} entries per synthetic volume; a checkpoint per "
        f"{args.checkpoint_every:,} entries while filling; latencies server-side (no HTTP), "
        f"{args.samples} random targets, except verify-by-SM3 over HTTP (`notary serve "
        f"--workers 2`, `benches/load_client.py` in another process, {args.load_seconds:g} s "
        "per run, round-robin over those targets' digests)",
        "",
        f"| measure | {head} | growth {first['size']:,} → {last['size']:,} | should grow as |",
        "|---|" + "---:|" * len(results) + "---:|---|",
    ]
    for name, get, should in rows:
        vals = [get(r) for r in results]
        a, b = vals[0], vals[-1]
        a0 = a[0] if isinstance(a, tuple) else a
        b0 = b[0] if isinstance(b, tuple) else b
        numbers = isinstance(a0, int | float) and isinstance(b0, int | float)
        growth = f"{b0 / a0:.2f}×" if numbers and a0 else ""
        lines.append(
            f"| {name} | " + " | ".join(fmt(v) for v in vals) + f" | {growth} | {should} |"
        )
    lines.append("")
    big = 16_000_000
    fill_rate = last["fill_rate"]
    audit_rate = last["whole_per_s"]
    base = last.get("prefix_per_s_baseline")
    versus = f" ({audit_rate / base:.1f}× the baseline's {base:,.0f}/s)" if base else ""
    lines += [
        f"- whole-log audit: the materials step ran over all {last['whole_materials']:,} "
        f"materials in {last['whole_s']:,.1f} s with {last['workers']} processes, "
        f"{audit_rate:,.0f}/s{versus}, findings "
        f"{last['whole_findings']}; at that rate 16 M take "
        f"{big * 0.99 / audit_rate / 60:,.0f} min (goal ≤ 30 min, ~9,000/s: "
        f"{'**met**' if big * 0.99 / audit_rate <= 1800 else '**not met**'}).",
        f"- 16 M (`--sizes 160000 1600000 16000000`): filling the last 14.4 M at "
        f"{fill_rate:,.0f} entries/s takes ~{14_400_000 / fill_rate / 60:,.0f} min, anchoring "
        f"its {14_400_000 // args.checkpoint_every:,} backlog checkpoints ~"
        f"{14_400_000 // args.checkpoint_every / max(1e-9, last['backlog_rate']):,.0f} s, "
        f"and the database ~{last['bytes'] / last['materials'] * big / 1e9:,.0f} GB; not run.",
    ]
    path = write(args.out, "\n".join(lines) + "\n")
    print(path.read_text())


if __name__ == "__main__":
    main()
