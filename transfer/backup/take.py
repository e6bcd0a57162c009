"""Taking a backup of a deployment home while its service runs.

Layout of a backup directory (see docs/backup.md)::

    manifest.json, manifest.sig     the manifest (transfer.backup.manifest) and its signature
    home/                           deployment.json, service.json, keys/ (PEMs stay
                                    encrypted; keys/passphrase only on request), secrets/
    chain/chain.sqlite              the embedded chain (an embedded deployment only)
    db/notary.db | db/notary.pgdump the database (SQLite online backup, or pg_dump -Fc)
    blocks/blocks/…, blocks/pins/…  the local blockstore, as files
    ipfs/pins.txt, ipfs/content.car an IPFS store: the CIDs the database names, and a CAR

Order is what makes it consistent without stopping the service:

1. the embedded chain first (SQLite online backup: one consistent snapshot). Every
   checkpoint anchored on that snapshot was written to the database before it was sent,
   so the database taken next holds it;
2. the database (one snapshot). Checkpoints it marks anchored after the chain's snapshot
   are re-anchored at restore (same size, same root), so nothing the log holds is ever
   ahead of, or in conflict with, the chain it is restored with;
3. keys and secrets, after the database: a unit added meanwhile has its key copied;
4. content blocks last: ingest stores the blocks before it commits the material, and
   blocks are never rewritten, so the copy holds every block the database names.
"""

from __future__ import annotations

import base64
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from notary._internal import keyfiles
from notary.crypto import SM2PrivateKey, SM2PublicKey, sm3_file
from notary.deployment import DESCRIPTOR, EMBEDDED, Descriptor
from notary.errors import NotaryError
from notary.store.base import ContentIntegrityError
from notary.store.cid import RAW, verify_block
from transfer.backup.manifest import (
    MANIFEST,
    SIGNATURE,
    BackupCheckFailed,
    FileEntry,
    Manifest,
    parse_manifest,
    verify_signature,
)
from transfer.services.setup import SERVICE_FILE, settings_for
from transfer.settings import Settings

Echo = Callable[[str], None]

CHAIN_FILE = "chain/chain.sqlite"
SQLITE_FILE = "db/notary.db"
PG_FILE = "db/notary.pgdump"
PINS_FILE = "ipfs/pins.txt"
CAR_FILE = "ipfs/content.car"
PASSPHRASE = "keys/passphrase"


class BackupError(Exception):
    """The backup cannot be taken (message for the operator, in Chinese)."""


@dataclass(frozen=True, slots=True)
class BackupResult:
    manifest: Manifest
    target: Path
    seconds: float
    bytes_written: int
    files_copied: int
    blocks_inherited: int


def sqlite_snapshot(source: Path, dest: Path) -> None:
    """A consistent copy of a live SQLite database (the online backup API: the copy is
    one snapshot, whatever the writers do meanwhile)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            with closing(sqlite3.connect(dest)) as dst:
                src.backup(dst, pages=0)
                # A standalone file: no -wal beside it to lose on the way off-site.
                dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            src.close()
    except sqlite3.Error as e:
        raise BackupError(f"无法读取数据库 {source}：{e}") from None


def libpq_url(sqlalchemy_url: str) -> str:
    """``postgresql+psycopg://…`` as the ``postgresql://…`` that pg_dump/pg_restore take."""
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if sqlalchemy_url.startswith(prefix):
            return "postgresql://" + sqlalchemy_url[len(prefix) :]
    return sqlalchemy_url


def _pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"未找到 {name}：请安装 PostgreSQL 客户端（Debian 包 postgresql-client）")
    return path


def _passphrase(home: Path) -> bytes:
    found = keyfiles.passphrase(home, create=False)
    if found is None:
        raise BackupError(
            f"{home / PASSPHRASE} 不存在且未设置 NOTARY_KEY_PASSPHRASE：无法用日志密钥签署备份清单"
        )
    return found


def _home_files(home: Path, include_passphrase: bool) -> Iterator[Path]:
    for name in (DESCRIPTOR, SERVICE_FILE):
        if (home / name).is_file():
            yield Path(name)
    for sub in ("keys", "secrets"):
        for p in sorted((home / sub).rglob("*")):
            rel = p.relative_to(home)
            if p.is_file() and (include_passphrase or rel.as_posix() != PASSPHRASE):
                yield rel


def _copy_file(src: Path, dest: Path) -> int:
    dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    shutil.copy2(src, dest)
    return dest.stat().st_size


def cid_of_key(key: str) -> bytes:
    """A CID for a block file of the local store, named by its base32 multihash (the
    codec is not part of the name; verifying the bytes needs the hash only)."""
    multihash = base64.b32decode(key.upper() + "=" * (-len(key) % 8))
    return bytes((1, RAW)) + multihash


def _copy_block(src: Path, dest: Path, settings: Settings) -> None:
    """Copy one content block, re-hashed against its CID: a damaged block is taken from
    a replica when one is configured, and otherwise stops the backup (a backup that
    copied it would fail its restore)."""
    data = src.read_bytes()
    cid = cid_of_key(src.name)
    try:
        verify_block(cid, data)
    except ContentIntegrityError:
        if not settings.replicas:
            raise BackupError(
                f"内容块 {src} 已损坏（与其 CID 不符）：请先用 notary audit 查明受影响的材料并"
                "从其他副本修复，再备份"
            ) from None
        from transfer.services.replicas import open_primary, with_replicas

        with with_replicas(open_primary(settings), settings) as store:
            data = store.get_block(cid)  # type: ignore[attr-defined]
    dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    dest.write_bytes(data)


def _log_state(db: Path | None, url: str | None) -> tuple[int, list[dict[str, Any]]]:
    """(log size, anchored checkpoints newest first) of a database file or URL."""
    from sqlalchemy import func, select

    from transfer.db.models import Checkpoint, CheckpointStatus, LogLeaf
    from transfer.db.session import make_engine, read_sessionmaker

    engine = make_engine(f"sqlite:///{db}" if db is not None else str(url))
    try:
        with read_sessionmaker(engine)() as s:
            size = int(s.scalar(select(func.count()).select_from(LogLeaf)) or 0)
            rows = s.scalars(
                select(Checkpoint)
                .where(Checkpoint.status == CheckpointStatus.ANCHORED)
                .order_by(Checkpoint.tree_size.desc())
                .limit(64)
            ).all()
            anchored = [
                {
                    "tree_size": r.tree_size,
                    "root": r.root.hex(),
                    "tx_hash": r.tx_hash,
                    "block_number": r.block_number,
                }
                for r in rows
            ]
            return size, anchored
    finally:
        engine.dispose()


def _covered_checkpoint(
    descriptor: Descriptor, chain_dir: Path | None, anchored: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The newest checkpoint of the database copy that the chain (the backup's own copy
    of an embedded chain, else the network) anchors with the same root."""
    from notary.chain import ChainClient
    from notary.chain.node.embedded import EmbeddedChain
    from notary.chain.rpc import connect

    if not anchored:
        return None
    embedded: EmbeddedChain | None = None
    if chain_dir is not None:
        embedded = EmbeddedChain.open(chain_dir, descriptor.chain_id)
        w3 = embedded.w3
    else:
        assert descriptor.rpc_url is not None
        w3 = connect(descriptor.rpc_url)
    try:
        reader = ChainClient.reader(w3, descriptor.contract)
        for cp in anchored:
            anchor = reader.get_anchor(descriptor.log_id, cp["tree_size"])
            if anchor is not None and anchor.root.hex() == cp["root"]:
                return {**cp, "block_number": anchor.block_number}
        return None
    finally:
        if embedded is not None and chain_dir is not None:
            embedded.close()
            (chain_dir / "LOCK").unlink(missing_ok=True)


def database_cids(db: Path | None, url: str | None) -> list[str]:
    """Every CID the database names (materials, transfer packages)."""
    from sqlalchemy import select

    from transfer.db.models import Material, Transfer
    from transfer.db.session import make_engine, read_sessionmaker

    engine = make_engine(f"sqlite:///{db}" if db is not None else str(url))
    try:
        with read_sessionmaker(engine)() as s:
            cids = set(s.scalars(select(Material.cid)))
            cids.update(c for c in s.scalars(select(Transfer.package_cid)) if c)
            return sorted(cids)
    finally:
        engine.dispose()


def _export_ipfs(store_url: str, cids: list[str], target: Path) -> None:
    from multiformats import CID

    from notary.store import KuboStore
    from notary.store.car import CarWriter
    from notary.store.cid import to_binary
    from notary.store.unixfs import iter_dag

    (target / PINS_FILE).parent.mkdir(parents=True, exist_ok=True)
    (target / PINS_FILE).write_text("".join(c + "\n" for c in cids), "ascii")
    seen: set[bytes] = set()
    with KuboStore(store_url) as store, open(target / CAR_FILE, "wb") as out:
        writer = CarWriter(out, [CID.decode(to_binary(c)) for c in cids])
        for c in cids:
            for block_cid, block in iter_dag(to_binary(c), store.get_block):
                if block_cid not in seen:
                    seen.add(block_cid)
                    writer.write(block_cid, block)


def load_base(base: Path, log_key: SM2PublicKey) -> Manifest:
    """The manifest of the base of an incremental backup, its signature checked: the
    hashes it lists are signed again into the new manifest."""
    try:
        data = (base / MANIFEST).read_bytes()
        signature = (base / SIGNATURE).read_bytes()
    except FileNotFoundError:
        raise BackupError(f"{base} 不是完整的备份（没有 {MANIFEST} 或 {SIGNATURE}）") from None
    try:
        verify_signature(data, signature, log_key)
        return parse_manifest(data)
    except BackupCheckFailed as e:
        raise BackupError(f"基础备份 {base} 未通过核验 [{e.check}]：{e.detail}") from None


def take_backup(
    home: Path,
    target: Path,
    *,
    base: Path | None = None,
    include_passphrase: bool = False,
    echo: Echo = lambda _: None,
) -> BackupResult:
    """Back up the deployment at ``home`` into the new directory ``target``.

    With ``base`` (an earlier backup in the same parent directory), content blocks and
    pins that backup already holds are listed as inherited instead of copied
    (incremental).
    """
    started = time.monotonic()
    home, target = Path(home), Path(target)
    descriptor = Descriptor.load(home)
    settings = settings_for(home)
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"备份目录 {target} 已存在且不为空：每次备份请使用新目录")
    log_key = SM2PrivateKey.from_pem((home / "keys/log.pem").read_bytes(), _passphrase(home))
    base_manifest = None
    if base is not None:
        if base.resolve().parent != target.resolve().parent:
            raise BackupError("增量备份须与其基础备份放在同一上级目录下（恢复时按目录名查找）")
        base_manifest = load_base(base, log_key.public_key)
        if base_manifest.log_id != descriptor.log_id.hex():
            raise BackupError(f"{base} 是另一个部署的备份")
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    copied = 0

    chain_dir: Path | None = None
    if descriptor.chain_kind == EMBEDDED:
        echo("备份嵌入式链……")
        sqlite_snapshot(home / "chain" / "chain.sqlite", target / CHAIN_FILE)
        chain_dir = (target / CHAIN_FILE).parent
        copied += 1

    echo("备份数据库……")
    db_copy: Path | None = None
    db_url: str | None = None
    if settings.is_sqlite:
        source = Path(settings.database_url_resolved.removeprefix("sqlite:///"))
        sqlite_snapshot(source, target / SQLITE_FILE)
        db_copy = target / SQLITE_FILE
        log_size, anchored = _log_state(db_copy, None)
        kind = "sqlite"
    else:
        db_url = settings.database_url_resolved
        # Read before the dump: whatever is anchored now is in the dump taken next.
        log_size, anchored = _log_state(None, db_url)
        (target / PG_FILE).parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [_pg_tool("pg_dump"), "-Fc", "--no-owner", "-f", str(target / PG_FILE),
             libpq_url(db_url)],
            capture_output=True,
            text=True,
        )  # fmt: skip
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["?"])[-1]
            raise BackupError(f"pg_dump 失败：{last}")
        kind = "postgresql"
    copied += 1

    echo("备份部署描述、密钥与配置……")
    for rel in _home_files(home, include_passphrase):
        _copy_file(home / rel, target / "home" / rel)
        copied += 1

    inherited: dict[str, FileEntry] = {}
    if settings.store == "local":
        echo("备份内容块……")
        known = base_manifest.all_files() if base_manifest is not None else {}
        root = home / "blocks"
        for p in sorted(root.rglob("*")):
            if not p.is_file() or p.name.startswith(".tmp-"):
                continue
            block_rel = "blocks/" + p.relative_to(root).as_posix()
            prior = known.get(block_rel)
            # Blocks and pins alike never change once written (a pin is an empty file
            # named by its CID): what the base holds is listed, not copied.
            if prior is not None and base is not None:
                inherited[block_rel] = FileEntry(prior.sm3, prior.size, prior.source or base.name)
                continue
            if block_rel.startswith("blocks/blocks/"):
                _copy_block(p, target / block_rel, settings)
            else:
                _copy_file(p, target / block_rel)
            copied += 1
        store_kind = "local"
    else:
        echo("导出 IPFS 内容（CAR）……")
        _export_ipfs(settings.store, database_cids(db_copy, db_url), target)
        copied += 2
        store_kind = "ipfs"

    echo("核对链上锚定的检查点……")
    try:
        checkpoint = _covered_checkpoint(descriptor, chain_dir, anchored)
    except (NotaryError, OSError) as e:
        if chain_dir is not None:
            raise  # the backup's own chain copy does not open: the backup is no good
        # The network is out of reach: the copy is still worth keeping; restore checks
        # the log against the chain anyway.
        echo(f"警告：无法读取链（{type(e).__name__}），清单不记录已锚定检查点")
        checkpoint = None

    echo("计算 SM3 并签署清单……")
    files: dict[str, FileEntry] = {}
    written = 0
    for p in sorted(target.rglob("*")):
        name = p.relative_to(target).as_posix()
        if p.is_file() and name not in (MANIFEST, SIGNATURE):
            size = p.stat().st_size
            written += size
            files[name] = FileEntry(sm3_file(p).hex(), size)
    manifest = Manifest(
        created_ms=int(time.time() * 1000),
        origin=descriptor.origin,
        log_id=descriptor.log_id.hex(),
        chain={
            "kind": descriptor.chain_kind,
            "chain_id": descriptor.chain_id,
            "contract": descriptor.contract,
        },
        database=kind,
        store=store_kind,
        log_size=log_size,
        checkpoint=checkpoint,
        base=None if base is None else base.name,
        files=files,
        inherited=inherited,
    )
    data = manifest.encode()
    (target / SIGNATURE).write_bytes(log_key.sign(data))
    # Written last: a directory without manifest.json is an unfinished backup.
    (target / MANIFEST).write_bytes(data)
    return BackupResult(
        manifest=manifest,
        target=target,
        seconds=time.monotonic() - started,
        bytes_written=written + len(data),
        files_copied=copied,
        blocks_inherited=len(inherited),
    )
