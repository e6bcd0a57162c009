"""What ``notary audit`` reads on the server: the deployment (log key, units' keys,
store, chain) and the database rows of the materials in scope, as
:class:`notary.audit.AuditItem` (notary/audit/ does the checking)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notary.crypto import SM2PrivateKey, SM2PublicKey
from notary.errors import NotaryError
from notary.store import ContentStore
from notary.verifier import VerificationMemo
from transfer.services.errors import BadRequest, NotFound, ServiceUnavailable

# Materials whose receipts and keys are loaded together.
AUDIT_BATCH = 256


@dataclass
class Sources:
    """What the audit reads: the log key, the hosted units' keys, the store, the chain."""

    log_key: SM2PublicKey
    unit_key: Callable[[str], SM2PrivateKey]
    store: ContentStore
    chain: Any  # notary.audit.CustodyChain (ChainClient), or None
    centre_account: str  # the account hosted units hold custody through on chain
    embedded: Any = None  # the EmbeddedChain this process opened, if any
    _held: dict[str, SM2PrivateKey | None] = field(default_factory=dict, repr=False)

    def holder_key(self, code: str) -> SM2PrivateKey | None:
        """The hosted unit's key, opened once per audit; None where it cannot be opened
        (its materials' content is then unreadable: a finding, not an abort)."""
        if code not in self._held:
            try:
                self._held[code] = self.unit_key(code)
            except NotaryError:
                self._held[code] = None
        return self._held[code]


@contextmanager
def open_sources(home: Path, store: str, rpc: str | None) -> Iterator[Sources]:
    from notary.chain.node.embedded import ChainLockedError
    from notary.deployment import open_deployment

    try:
        dep = open_deployment(home, store=store, rpc=rpc)
    except ChainLockedError:
        raise ServiceUnavailable(
            "服务正在运行（嵌入式链只允许一个写入进程）：请停止服务，或给出 --rpc URL"
        ) from None
    except (NotaryError, OSError) as e:
        raise ServiceUnavailable(f"无法打开部署 {home}：{e}") from None
    with dep:
        yield Sources(
            dep.log_key.public_key,
            dep.unit_key,
            dep.store,
            dep.chain,
            dep.descriptor.chain_account,
            dep.embedded,
        )


class MaterialRows:
    """The materials in scope, in report order: ``len()`` is one count query; iterating
    streams them (a server-side cursor on PostgreSQL), so a whole-log audit of millions
    of materials never holds every row at once. Rows are plain column tuples
    (``material_columns``), not ORM objects: building those was a large share of the
    audit's time per material."""

    def __init__(self, s: Any, query: Any, count: Any) -> None:
        self._s, self._query, self._count = s, query, count
        self._len: int | None = None

    def __len__(self) -> int:
        if self._len is None:
            self._len = int(self._s.scalar(self._count))
        return self._len

    def __iter__(self) -> Iterator[Any]:
        result = self._s.execute(self._query, execution_options={"yield_per": 4 * AUDIT_BATCH})
        yield from result


#: The order of ``material_columns``: ``audit_items`` reads rows by position (a Row's
#: attribute lookup per column was a visible share of the time per material).
AUDIT_COLUMNS = (
    "id",
    "sm3",
    "cid",
    "category",
    "seq_no",
    "pages",
    "title",
    "size",
    "media_type",
    "leaf_index",
    "unit_id",
    "unit_code",
)
_ID, _LEAF = AUDIT_COLUMNS.index("id"), AUDIT_COLUMNS.index("leaf_index")


def material_columns() -> Any:
    """``SELECT`` of what the audit needs of a material, its volume's custodian unit
    included, in the order of ``AUDIT_COLUMNS``."""
    from sqlalchemy import select

    from transfer.db.models import Material, Unit, Volume

    return (
        select(
            Material.id,
            Material.sm3,
            Material.cid,
            Material.category,
            Material.seq_no,
            Material.pages,
            Material.title,
            Material.size,
            Material.media_type,
            Material.leaf_index,
            Unit.id.label("unit_id"),
            Unit.code.label("unit_code"),
        )
        .join(Volume, Material.volume_id == Volume.id)
        .join(Unit, Volume.custodian_unit_id == Unit.id)
    )


def scope_materials(
    s: Any, volume: str | None, unit: str | None
) -> tuple[str, MaterialRows, list[uuid.UUID] | None]:
    """The scope's title, its materials (``MaterialRows``) and its volumes (None: every
    volume)."""
    from sqlalchemy import func, select

    from transfer.db.models import Material, Unit, Volume

    query = material_columns()
    if volume is not None:
        try:
            vid = uuid.UUID(volume)
        except ValueError:
            raise BadRequest(f"案卷 ID 格式不正确：{volume}") from None
        if s.get(Volume, vid) is None:
            raise NotFound(f"案卷不存在：{volume}")
        query, scope = query.where(Volume.id == vid), f"案卷 {volume}"
        volumes: list[uuid.UUID] | None = [vid]
    elif unit is not None:
        unit_id = s.scalar(select(Unit.id).where(Unit.code == unit))
        if unit_id is None:
            raise NotFound(f"单位不存在：{unit}")
        query, scope = query.where(Unit.code == unit), f"单位 {unit} 保管的全部案卷"
        volumes = list(s.scalars(select(Volume.id).where(Volume.custodian_unit_id == unit_id)))
    else:
        scope, volumes = "本部署全部馆藏", None
    count = query.with_only_columns(func.count(Material.id)).order_by(None)
    rows = MaterialRows(s, query.order_by(Volume.id, Material.category, Material.seq_no), count)
    return scope, rows, volumes


def _batches(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def snapshot(s: Any) -> None:
    """Make the session's transaction one snapshot (REPEATABLE READ on PostgreSQL; a
    SQLite read transaction is one already): the whole-log audit checks the stored
    tree in one pass and the materials in another, and both must see the same log.
    Call it first, before the session's first statement."""
    from sqlalchemy import text

    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))


def whole_log_tree(s: Any) -> Any:
    """The stored tree checked against the entries up to the newest anchored checkpoint
    (``transfer.services.tree_check``), for ``audit_items(tree=...)``."""
    from sqlalchemy import select

    from transfer.db.models import Checkpoint, CheckpointStatus
    from transfer.services.tree_check import check_stored_tree

    sizes = s.scalars(
        select(Checkpoint.tree_size).where(Checkpoint.status == CheckpointStatus.ANCHORED)
    )
    return check_stored_tree(s, list(sizes))


def audit_items(
    s: Any,
    rows: Iterable[Any],
    src: Sources,
    *,
    batch_size: int = AUDIT_BATCH,
    tree: Any = None,
) -> Iterator[Any]:
    """AuditItems built lazily, ``batch_size`` rows (``material_columns``) at a time
    (receipts and keys each in a few queries per batch), so the progress bar moves
    with the work.

    ``tree``: the whole log's ``TreeCheck`` (``whole_log_tree``, same snapshot): a
    leaf it proves in its checkpoint gets no stored proof assembled and checked
    (``AuditItem.proven``); any other leaf is checked by its own proof as before."""

    from notary.audit import AuditItem, MaterialDetails
    from notary.envelope import WrappedKey
    from notary.reader import MaterialRecord
    from notary.receipts import EvidenceReceipt
    from transfer.services.access import active_keys_of
    from transfer.services.receipts import AnchoredCheckpoints, stored_receipts

    no_key = WrappedKey(b"\0" * 32, b"")
    proven = None if tree is None else tree.proven
    # The whole log (one snapshot): the anchored checkpoints read and parsed once.
    checkpoints = None if tree is None else AnchoredCheckpoints(s)
    for batch in _batches(rows, batch_size):
        leaves = [row[_LEAF] for row in batch if row[_LEAF] is not None]
        receipts = stored_receipts(s, leaves, src.log_key, proven=proven, checkpoints=checkpoints)
        keys = active_keys_of(s, [row[_ID] for row in batch])
        for m_id, sm3, cid, category, seq_no, pages, title, size, media, leaf, unit, code in batch:
            receipt = None if leaf is None else receipts[leaf]
            mid = str(m_id)
            key = keys.get((m_id, unit))
            wrapped = no_key if key is None else WrappedKey(bytes.fromhex(key[0]), key[1])
            record = MaterialRecord(mid, bytes.fromhex(sm3), cid, wrapped)
            designation = f"{category}-{seq_no}-{pages}"
            details = MaterialDetails(designation, title, code, size, leaf)
            ok = (
                proven is not None
                and type(receipt) is EvidenceReceipt
                and proven(leaf, receipt.checkpoint.checkpoint)
            )
            label = f"{mid}（{designation} {title}）"
            yield AuditItem(record, media, receipt, label=label, details=details, proven=ok), code


# --- the whole log's materials across processes -----------------------------------------

# Below this many materials the whole-log audit stays in one process (starting the
# workers costs a few seconds).
PARALLEL_MIN = 50_000


@dataclass(frozen=True)
class _Chunk:
    """One worker's share: the materials of the volumes in ``[lo, hi)`` (``None``: open)."""

    snapshot: str
    lo: uuid.UUID | None
    hi: uuid.UUID | None
    tree: Any  # the parent's TreeCheck
    batch_size: int
    passes: list[Any]  # the parent's checkpoint verdicts, for the worker's memo


# A worker process's deployment and database, opened once by ``_worker_init``.
_worker: dict[str, Any] = {}


def _worker_init(home: str, store: str, rpc: str | None, database_url: str) -> None:
    import atexit
    from contextlib import ExitStack

    from transfer.db.session import make_engine, read_sessionmaker

    stack = ExitStack()
    atexit.register(stack.close)
    engine = make_engine(database_url)
    stack.callback(engine.dispose)
    _worker["src"] = stack.enter_context(open_sources(Path(home), store, rpc))
    _worker["sessions"] = read_sessionmaker(engine)
    _worker["memo"] = VerificationMemo(max_entries=1 << 20)
    _worker["seeded"] = False


def _import_snapshot(s: Any, snapshot_id: str) -> None:
    import re

    from sqlalchemy import text

    if not re.fullmatch(r"[0-9A-F]+-[0-9A-F]+(-[0-9]+)?", snapshot_id):
        raise ValueError(f"not a PostgreSQL snapshot id: {snapshot_id!r}")
    s.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
    s.execute(text(f"SET TRANSACTION SNAPSHOT '{snapshot_id}'"))


def _tree_part(snapshot_id: str, start: int, stop: int, wanted: list[int], bits: int) -> Any:
    """In a worker process: one range of the whole-log tree pass, in the parent's
    snapshot (``tree_check.check_part``)."""
    from transfer.services.tree_check import check_part

    with _worker["sessions"]() as s:
        _import_snapshot(s, snapshot_id)
        return check_part(s, start, stop, wanted, levels=bits)


def _audit_chunk(chunk: _Chunk) -> Any:
    """In a worker process: its volumes' materials audited as the serial path does, in
    the parent's snapshot, into a report of its own."""
    from notary.audit import audit_materials, new_report
    from transfer.db.models import Material, Volume

    src: Sources = _worker["src"]
    if not _worker["seeded"]:
        _worker["memo"].add_passes(chunk.passes)
        _worker["seeded"] = True
    with _worker["sessions"]() as s:
        _import_snapshot(s, chunk.snapshot)
        query = material_columns()
        if chunk.lo is not None:
            query = query.where(Volume.id >= chunk.lo)
        if chunk.hi is not None:
            query = query.where(Volume.id < chunk.hi)
        query = query.order_by(Volume.id, Material.category, Material.seq_no)
        rows = MaterialRows(s, query, None)
        current: dict[str, str] = {}

        def items() -> Iterator[Any]:
            for item, code in audit_items(
                s, rows, src, batch_size=chunk.batch_size, tree=chunk.tree
            ):
                current[item.record.material_id] = code
                yield item

        return audit_materials(
            items(),
            store=src.store,
            holder=lambda r: src.holder_key(current[r.material_id]),
            log_keys=[src.log_key],
            chain=src.chain,
            report=new_report(""),
            memo=_worker["memo"],  # one per worker: a checkpoint verified once per process
        )


def _checkpoint_passes(s: Any, src: Sources, memo: VerificationMemo | None = None) -> list[Any]:
    """Every anchored checkpoint's signature and anchor verified here, once, with this
    process's chain (the embedded one read directly, not over the workers' loopback
    RPC): the memo verdicts the workers start from (``VerificationMemo.add_passes``,
    passes only, keyed by every input, so a worker still verifies what failed here or
    what its receipts present differently)."""
    from sqlalchemy import select

    from notary.audit.logged import receipt_verifier
    from notary.checkpoint import parse_signed_checkpoint
    from notary.receipts import EvidenceReceipt
    from transfer.db.models import Checkpoint, CheckpointStatus
    from transfer.services.anchoring import anchor_ref_of

    if memo is None:
        memo = VerificationMemo(max_entries=1 << 20)
    verifier = receipt_verifier([src.log_key], src.chain, memo)
    rows = s.scalars(select(Checkpoint).where(Checkpoint.status == CheckpointStatus.ANCHORED))
    for row in rows:
        try:
            cp = parse_signed_checkpoint(row.body)
            receipt = EvidenceReceipt({}, 0, (), cp, src.log_key, anchor_ref_of(row))
            memo.check_signature(cp, src.log_key)
            if src.chain is not None:
                verifier.check_anchor(receipt)
        except NotaryError:
            continue  # not a pass: the workers find it, material by material
    return memo.passes()


def _volume_bounds(s: Any, parts: int) -> list[uuid.UUID]:
    """Volume ids that cut the materials into ``parts`` runs of about equal size, in
    the report's order (by volume id first)."""
    from sqlalchemy import text

    fractions = [i / parts for i in range(1, parts)]
    row = s.execute(
        text(
            "SELECT percentile_disc(CAST(:f AS float8[])) WITHIN GROUP (ORDER BY volume_id) "
            "FROM materials"
        ),
        {"f": fractions},
    ).scalar()
    return sorted({uuid.UUID(str(v)) for v in row or [] if v is not None})


def audit_materials_parallel(
    s: Any,
    src: Sources,
    report: Any,
    *,
    home: Path,
    store: str,
    rpc: str | None,
    database_url: str,
    tree: Any = None,
    workers: int,
    chunks_per_worker: int = 4,
    progress: Callable[[int], None] | None = None,
    batch_size: int = AUDIT_BATCH,
    memo: VerificationMemo | None = None,
) -> Any:
    """``audit_materials`` of every material (the whole-log scope, PostgreSQL), in
    ``workers`` processes: the materials are cut by volume id into runs that keep the
    report's order, each run audited by a worker exactly as the serial path audits it —
    in the parent's snapshot (``pg_export_snapshot``, so every worker reads the very
    log the tree pass checked), with the chain read through the parent (its embedded
    chain served read-only on loopback, or the ``--rpc`` it was given) — and the runs'
    findings, rows and counts appended in order. ``s`` must be in a REPEATABLE READ
    transaction (``snapshot``). ``tree``: the whole log's ``TreeCheck``; None: the
    workers check the tree first, in ranges (``tree_check.check_part``), while this
    process verifies the checkpoints, and the ranges are combined here. ``memo``: the
    audit run's verification memo, which then holds those checkpoint verdicts for the
    steps after the materials."""
    from concurrent.futures.process import BrokenProcessPool

    from sqlalchemy import text

    snapshot_id = str(s.scalar(text("SELECT pg_export_snapshot()")))
    bounds = _volume_bounds(s, workers * chunks_per_worker)
    edges: list[uuid.UUID | None] = [None, *bounds, None]
    server = None
    if rpc is None and src.embedded is not None:
        from notary.chain.node.rpcserver import ReadOnlyRpcServer

        server = ReadOnlyRpcServer(src.embedded).start()
        rpc = server.url
    try:
        return _run_pool(
            s, src, report, snapshot_id, edges, tree, workers, batch_size, memo, progress,
            initargs=(str(home), store, rpc, database_url),
        )  # fmt: skip
    except BrokenProcessPool as e:
        # A worker killed (out of memory, a signal): no report is better than a partial
        # one that reads as complete.
        raise ServiceUnavailable(
            "审计子进程意外退出（可能内存不足或被终止），本次审计未完成，未生成报告；"
            "请检查服务器内存后重试，或用 --workers 1 在单个进程中审计"
        ) from e
    finally:
        if server is not None:
            server.stop()


def _run_pool(
    s: Any,
    src: Sources,
    report: Any,
    snapshot_id: str,
    edges: list[uuid.UUID | None],
    tree: Any,
    workers: int,
    batch_size: int,
    memo: VerificationMemo | None,
    progress: Callable[[int], None] | None,
    *,
    initargs: tuple[str, str, str | None, str],
) -> Any:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_worker_init,
        initargs=initargs,
    ) as pool:
        ranges = None
        if tree is None:
            from sqlalchemy import select

            from transfer.db.models import Checkpoint, CheckpointStatus
            from transfer.services.tree_check import combine, part_bounds

            wanted = sorted(
                s.scalars(
                    select(Checkpoint.tree_size).where(
                        Checkpoint.status == CheckpointStatus.ANCHORED,
                        Checkpoint.tree_size > 0,
                    )
                )
            )
            top = wanted[-1] if wanted else 0
            bits = max(12, (max(top, 1) // (4 * workers)).bit_length())
            ranges = [
                pool.submit(_tree_part, snapshot_id, a, b, wanted, bits)
                for a, b in part_bounds(top, bits)
            ]
        # Meanwhile (the workers start, or check the tree): the checkpoints, once.
        passes = _checkpoint_passes(s, src, memo)
        if ranges is not None:
            tree = combine(s, [r.result() for r in ranges], wanted, bits)
        chunks = [
            _Chunk(snapshot_id, lo, hi, tree, batch_size, passes)
            for lo, hi in itertools.pairwise(edges)
        ]
        for part in pool.map(_audit_chunk, chunks):
            report.materials += part.materials
            report.sealed_bytes_rehashed += part.sealed_bytes_rehashed
            report.plain_bytes_rehashed += part.plain_bytes_rehashed
            report.proofs_checked += part.proofs_checked
            report.problems.extend(part.problems)
            report.material_rows.extend(part.material_rows)
            for prop, n in part.passed.items():
                report.passed[prop] += n
            if progress is not None:
                progress(report.materials)
    return report
