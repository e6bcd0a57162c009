"""Restoring a backup into a new home, and the restored deployment's proof of itself.

:func:`verify_backup` runs every check before a byte is written to the new home (the
manifest's format and signature, every file present with its SM3); the first failure
is raised as :class:`~transfer.backup.manifest.BackupCheckFailed` naming the check.
:func:`rebuild_home` then lays the home out again (content blocks re-hashed against
their CIDs on the way in), and :func:`prove_restored` checks the restored log against
the chain: the root at the backup's checkpoint is the one anchored, and whatever the
chain anchors beyond the restored log is reported as missing, never dropped in
silence. The full per-material re-verification (every block, SM3, receipt and anchor)
is the 四性 audit, which ``notary restore`` runs last.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notary.crypto import SM2PrivateKey, sm3_file
from notary.crypto.errors import CryptoError
from notary.deployment import DESCRIPTOR
from notary.store.base import StoreError
from transfer.backup.manifest import (
    CHECK_BASE,
    CHECK_BLOCK,
    CHECK_DATABASE,
    CHECK_MISSING,
    CHECK_SM3,
    MANIFEST,
    SIGNATURE,
    BackupCheckFailed,
    FileEntry,
    Manifest,
    parse_manifest,
    verify_signature,
)
from transfer.backup.take import (
    CAR_FILE,
    CHAIN_FILE,
    PASSPHRASE,
    PG_FILE,
    SQLITE_FILE,
    BackupError,
    _pg_tool,
    cid_of_key,
    libpq_url,
)
from transfer.services.setup import SERVICE_FILE

Echo = Callable[[str], None]
REPORT = "restore-report.json"
ALERT_KIND = "restore_missing_entries"
HELD_DESCRIPTOR = DESCRIPTOR + ".missing-entries"


@dataclass(frozen=True, slots=True)
class VerifiedBackup:
    path: Path
    manifest: Manifest
    passphrase: bytes
    # Where each file's verified bytes are (this backup, or the one it inherits from).
    sources: dict[str, Path]


def _read_passphrase(path: Path, passphrase_file: Path | None) -> bytes:
    if passphrase_file is not None:
        try:
            return passphrase_file.read_bytes().strip()
        except OSError as e:
            raise BackupError(f"无法读取口令文件 {passphrase_file}：{e.strerror or e}") from None
    env = os.environ.get("NOTARY_KEY_PASSPHRASE")
    if env:
        return env.encode("utf-8")
    inside = path / "home" / PASSPHRASE
    if inside.is_file():
        return inside.read_bytes().strip()
    raise BackupError(
        "备份中不含密钥口令：请用 --passphrase-file 给出口令文件，或设置 NOTARY_KEY_PASSPHRASE"
    )


def _check_file(where: Path, rel: str, entry: FileEntry) -> None:
    if not where.is_file():
        raise BackupCheckFailed(CHECK_MISSING, f"{rel} 不在备份中（{where}）")
    if where.stat().st_size != entry.size or sm3_file(where).hex() != entry.sm3:
        raise BackupCheckFailed(CHECK_SM3, f"{rel} 的 SM3 与清单不符：备份已损坏或被篡改")


def verify_backup(
    path: Path, *, passphrase_file: Path | None = None, echo: Echo = lambda _: None
) -> VerifiedBackup:
    """Every check of the backup at ``path``; raises BackupCheckFailed at the first failure."""
    path = Path(path)
    try:
        data = (path / MANIFEST).read_bytes()
        signature = (path / SIGNATURE).read_bytes()
    except FileNotFoundError as e:
        raise BackupCheckFailed(
            CHECK_MISSING, f"{Path(str(e.filename)).name} 不在 {path}：不是完整的备份"
        ) from None
    manifest = parse_manifest(data)
    for rel in (f"home/{DESCRIPTOR}", "home/keys/log.pem"):
        if rel not in manifest.files:
            raise BackupCheckFailed(CHECK_MISSING, f"清单未列出 {rel}")
    # The key that checks the signature is itself in the backup: a damaged key file is
    # named as such (its SM3), before it is blamed on the passphrase.
    _check_file(
        path / "home/keys/log.pem", "home/keys/log.pem", manifest.files["home/keys/log.pem"]
    )
    passphrase = _read_passphrase(path, passphrase_file)
    try:
        log_key = SM2PrivateKey.from_pem((path / "home/keys/log.pem").read_bytes(), passphrase)
    except CryptoError:
        raise BackupError("日志密钥无法用所给口令解密：口令不对，或密钥文件已损坏") from None
    echo("核验清单签名……")
    verify_signature(data, signature, log_key.public_key)
    echo(f"核验 {len(manifest.all_files())} 个文件的 SM3……")
    sources: dict[str, Path] = {}
    for rel, entry in sorted(manifest.files.items()):
        _check_file(path / rel, rel, entry)
        sources[rel] = path / rel
    for rel, entry in sorted(manifest.inherited.items()):
        holder = path.parent / (entry.source or "")
        if not (holder / MANIFEST).is_file():
            raise BackupCheckFailed(
                CHECK_BASE, f"增量备份所依赖的备份 {holder} 不存在（应与本备份在同一目录下）"
            )
        _check_file(holder / rel, rel, entry)
        sources[rel] = holder / rel
    # Signed and intact: the descriptor must still name this log key (a backup put
    # together from two deployments' files fails here).
    descriptor = json.loads((path / "home" / DESCRIPTOR).read_text("utf-8"))
    if log_key.public_key.fingerprint().hex() != descriptor.get("log_key_fingerprint"):
        raise BackupCheckFailed(
            "日志密钥", "home/keys/log.pem 与 deployment.json 记录的日志密钥指纹不符"
        )
    return VerifiedBackup(path, manifest, passphrase, sources)


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def rebuild_home(
    backup: VerifiedBackup,
    home: Path,
    *,
    database_url: str = "",
    store: str | None = None,
    keep_passphrase: bool = True,
    echo: Echo = lambda _: None,
) -> None:
    """Lay out the verified backup as the deployment home ``home`` (new or empty)."""
    from notary.store import KuboStore, LocalStore

    home = Path(home)
    if home.exists() and any(home.iterdir()):
        raise BackupError(f"{home} 已存在且不为空：请恢复到新的部署目录")
    m = backup.manifest
    if m.database == "postgresql" and not database_url:
        raise BackupError("备份的数据库是 PostgreSQL：请用 --database-url 给出一个空数据库")
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    echo("恢复部署描述、密钥与配置……")
    for rel, src in backup.sources.items():
        if rel.startswith("home/"):
            _write_private(home / rel.removeprefix("home/"), src.read_bytes())
    if keep_passphrase and not (home / PASSPHRASE).exists():
        # `notary serve` reads it from here, as before the loss (unless the operator
        # keeps it in NOTARY_KEY_PASSPHRASE instead: then --no-keep-passphrase).
        _write_private(home / PASSPHRASE, backup.passphrase)
    service: dict[str, Any] = {}
    if (home / SERVICE_FILE).is_file():
        service = json.loads((home / SERVICE_FILE).read_text("utf-8"))
    service["database_url"] = database_url if m.database == "postgresql" else ""
    if store is not None and m.store == "ipfs":
        service["store"] = store
    # Replicas name the old machine's disks or nodes: a restore drill must not write
    # into production's replicas. The operator names this home's replicas again.
    dropped = service.pop("replicas", None)
    service.pop("replica_acks", None)
    if dropped:
        echo(f"注意：原部署的内容副本 {dropped} 未写入新部署的配置，如需请重新配置")
    (home / SERVICE_FILE).write_text(json.dumps(service, indent=2), "utf-8")

    if CHAIN_FILE in backup.sources:
        echo("恢复嵌入式链……")
        (home / "chain").mkdir(mode=0o700, exist_ok=True)
        shutil.copyfile(backup.sources[CHAIN_FILE], home / CHAIN_FILE)

    echo("恢复数据库……")
    if m.database == "sqlite":
        shutil.copyfile(backup.sources[SQLITE_FILE], home / "notary.db")
    else:
        done = subprocess.run(
            [_pg_tool("pg_restore"), "--no-owner", "--exit-on-error", "-d",
             libpq_url(database_url), str(backup.sources[PG_FILE])],
            capture_output=True,
            text=True,
        )  # fmt: skip
        if done.returncode != 0:
            last = done.stderr.strip().splitlines()[-1:] or ["?"]
            raise BackupCheckFailed(CHECK_DATABASE, f"pg_restore 失败：{last[0]}")

    echo("恢复内容块（逐块按 CID 重新核验）……")
    if m.store == "local":
        local = LocalStore(home / "blocks")
        # Sorted: every block (blocks/blocks/…) is in before its pin (blocks/pins/…)
        # asks for the whole DAG.
        for rel, src in sorted(backup.sources.items()):
            try:
                if rel.startswith("blocks/blocks/"):
                    local.put_block(cid_of_key(src.name), src.read_bytes())
                elif rel.startswith("blocks/pins/"):
                    local.pin(src.name)
            except (StoreError, ValueError) as e:
                raise BackupCheckFailed(CHECK_BLOCK, f"{rel}：{e}") from None
    else:
        target = store or json.loads((home / SERVICE_FILE).read_text("utf-8")).get("store")
        if not target or target == "local":
            raise BackupError("备份的内容在 IPFS：请用 --store 给出要导入的 Kubo RPC 地址")
        with KuboStore(target) as kubo, open(backup.sources[CAR_FILE], "rb") as car:
            kubo.import_car(car)


@dataclass
class Proof:
    """What the restored deployment proved about itself against the chain."""

    log_size: int
    checkpoint_size: int | None  # the backup's checkpoint, re-checked on chain
    chain_size: int  # the chain's newest anchor for this log
    missing: list[int] = field(default_factory=list)  # [first, last] leaf indices
    reanchored: list[int] = field(default_factory=list)  # tree sizes anchored again
    problems: list[str] = field(default_factory=list)

    @property
    def missing_count(self) -> int:
        return 0 if not self.missing else self.missing[1] - self.missing[0] + 1

    def to_json(self) -> dict[str, Any]:
        return {
            "log_size": self.log_size,
            "backup_checkpoint": self.checkpoint_size,
            "chain_anchored_size": self.chain_size,
            "missing_leaf_range": self.missing or None,
            "missing_entries": self.missing_count,
            "reanchored_checkpoints": self.reanchored,
            "problems": self.problems,
        }


def prove_restored(home: Path, manifest: Manifest, *, echo: Echo = lambda _: None) -> Proof:
    """Check the restored log against the chain; re-anchor what the chain lacks.

    The log's root at the backup's checkpoint must equal the root anchored on chain.
    A checkpoint the database marks anchored whose anchor is not on the (restored,
    embedded) chain — anchored in the moments between the chain's and the database's
    snapshot — goes back to the outbox and is anchored again, same size and root. If
    the chain anchors a larger tree than the restored log holds, the entries in
    between existed (the chain proves it) and are missing from this backup: they are
    reported, recorded as an alert, nothing is anchored over them, and deployment.json
    is set aside (HELD_DESCRIPTOR) so that the home is not served by mistake.
    """
    from sqlalchemy import select, update

    from notary.crypto import sm3
    from notary.deployment import open_deployment
    from notary.log.merkle import root_at
    from transfer.db.migrate import upgrade
    from transfer.db.models import Alert, Checkpoint, CheckpointStatus
    from transfer.db.session import make_engine, read_sessionmaker, write_sessionmaker
    from transfer.db.treestore import DbTreeStorage
    from transfer.services.anchoring import AnchoringWorker
    from transfer.services.setup import settings_for

    settings = settings_for(home)
    engine = make_engine(settings.database_url_resolved)
    try:
        upgrade(engine)  # a backup of an older release opens with today's schema
        reads, writes = read_sessionmaker(engine), write_sessionmaker(engine)
        with open_deployment(home, store=settings.store) as dep:
            chain, log_id = dep.chain, dep.descriptor.log_id
            with reads() as s:
                storage = DbTreeStorage(s)
                size = storage.size()
                proof = Proof(size, None, 0)
                cp = manifest.checkpoint
                if cp is not None:
                    echo(f"核验备份检查点（树大小 {cp['tree_size']}）与链上锚定……")
                    proof.checkpoint_size = int(cp["tree_size"])
                    anchor = chain.get_anchor(log_id, proof.checkpoint_size)
                    root = root_at(sm3, storage, proof.checkpoint_size)
                    if anchor is None:
                        proof.problems.append(f"链上没有树大小 {proof.checkpoint_size} 的锚定")
                    elif anchor.root != root or root.hex() != cp["root"]:
                        proof.problems.append(
                            f"日志在树大小 {proof.checkpoint_size} 的根与链上锚定的根不符"
                        )
                latest = chain.latest_anchor(log_id)
                proof.chain_size = 0 if latest is None else latest.tree_size
                if latest is not None and latest.tree_size > size:
                    proof.missing = [size, latest.tree_size - 1]
                elif latest is not None and root_at(sm3, storage, latest.tree_size) != latest.root:
                    proof.problems.append(
                        f"日志在树大小 {latest.tree_size} 的根与链上最新锚定不符（日志分叉）"
                    )
                stale = [
                    r.tree_size
                    for r in s.scalars(
                        select(Checkpoint).where(Checkpoint.status == CheckpointStatus.ANCHORED)
                    )
                    if chain.get_anchor(log_id, r.tree_size) is None
                ]
            if stale:
                with writes() as w:
                    w.execute(
                        update(Checkpoint)
                        .where(Checkpoint.tree_size.in_(stale))
                        .values(status=CheckpointStatus.PENDING, tx_hash=None, block_number=None)
                    )
                    w.commit()
                proof.reanchored = sorted(stale)
            if proof.missing:
                with writes() as w:
                    w.add(Alert(kind=ALERT_KIND, detail=proof.to_json()))
                    w.commit()
            elif not proof.problems:
                echo("锚定备份中尚未上链的检查点……")
                worker = AnchoringWorker(
                    engine,
                    reads,
                    writes,
                    signer=dep.log_key,
                    origin=dep.origin,
                    chain=dep.chain,
                    interval_s=settings.checkpoint_interval_s,
                    max_entries=settings.checkpoint_max_entries,
                )
                worker.run_once(force=True)
                if worker.outbox.pending():
                    proof.problems.append("部分检查点未能锚定（链不可用？），服务启动后会继续")
    finally:
        engine.dispose()
    (home / REPORT).write_text(json.dumps(proof.to_json(), ensure_ascii=False, indent=2), "utf-8")
    if proof.missing:
        # Not a home `notary serve` opens by mistake: a log continued from here would
        # contradict the chain's anchor. The operator renames it back knowingly.
        (home / DESCRIPTOR).rename(home / HELD_DESCRIPTOR)
    return proof
