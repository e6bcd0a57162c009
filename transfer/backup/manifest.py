"""The backup manifest: what a backup holds, each file's SM3, the checkpoint it covers.

``manifest.json`` is canonical JSON (RFC 8785, :mod:`notary.canonical`) and
``manifest.sig`` is the deployment's SM2 log-key signature over exactly those bytes, so
that a backup cannot be altered and re-hashed by someone who does not hold the log key.
The file list maps each path (relative to the backup directory, POSIX separators) to
its SM3 and size. An incremental backup lists, under ``inherited``, the content blocks
it did not copy because an earlier backup (named by directory, beside this one) holds
them; blocks are content-addressed and never change, so the SM3 recorded there is
still the one to check.

Pure functions only: reading and writing files is the caller's business.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from notary.canonical import canonical_json, parse_json
from notary.crypto import SM2PublicKey
from notary.crypto.errors import CryptoError

FORMAT = "archive-notary/backup/v1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"


class BackupCheckFailed(Exception):
    """A backup failed one of its checks; ``check`` names it for the operator."""

    def __init__(self, check: str, detail: str) -> None:
        super().__init__(f"[{check}] {detail}")
        self.check = check
        self.detail = detail


# The checks a restore runs, in order, by the names the operator sees.
CHECK_FORMAT = "清单格式"
CHECK_SIGNATURE = "清单签名"
CHECK_MISSING = "文件缺失"
CHECK_SM3 = "文件摘要"
CHECK_BLOCK = "内容块CID"
CHECK_DATABASE = "数据库"
CHECK_BASE = "基础备份"


@dataclass(frozen=True, slots=True)
class FileEntry:
    sm3: str
    size: int
    # For an inherited block: the directory name of the backup that holds its bytes.
    source: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"sm3": self.sm3, "size": self.size}
        if self.source is not None:
            out["from"] = self.source
        return out


@dataclass
class Manifest:
    created_ms: int
    origin: str
    log_id: str
    chain: dict[str, Any]  # kind, chain_id, contract
    database: str  # "sqlite" or "postgresql"
    store: str  # "local" or "ipfs"
    log_size: int
    # The newest checkpoint anchored on chain that this backup's log contains (as
    # checked when the backup was taken), or None for a log never anchored.
    checkpoint: dict[str, Any] | None
    base: str | None = None  # directory name of the backup this one builds on
    files: dict[str, FileEntry] = field(default_factory=dict)
    inherited: dict[str, FileEntry] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "created_ms": self.created_ms,
            "origin": self.origin,
            "log_id": self.log_id,
            "chain": self.chain,
            "database": self.database,
            "store": self.store,
            "log_size": self.log_size,
            "checkpoint": self.checkpoint,
            "base": self.base,
            "files": {k: v.to_json() for k, v in sorted(self.files.items())},
            "inherited": {k: v.to_json() for k, v in sorted(self.inherited.items())},
        }

    def encode(self) -> bytes:
        return canonical_json(self.to_json())

    def all_files(self) -> dict[str, FileEntry]:
        return {**self.inherited, **self.files}


def _entry(raw: Any, path: str) -> FileEntry:
    if not isinstance(raw, dict) or not isinstance(raw.get("sm3"), str):
        raise BackupCheckFailed(CHECK_FORMAT, f"文件条目 {path} 格式不正确")
    size, source = raw.get("size"), raw.get("from")
    if not isinstance(size, int) or size < 0 or not (source is None or isinstance(source, str)):
        raise BackupCheckFailed(CHECK_FORMAT, f"文件条目 {path} 格式不正确")
    if ".." in path.split("/") or path.startswith("/"):
        raise BackupCheckFailed(CHECK_FORMAT, f"文件路径越出备份目录：{path}")
    return FileEntry(raw["sm3"], size, source)


def parse_manifest(data: bytes) -> Manifest:
    """Parse (strictly) the bytes of manifest.json; they must be canonical."""
    try:
        doc = parse_json(data)
    except ValueError as e:
        raise BackupCheckFailed(CHECK_FORMAT, f"manifest.json 不是有效的 JSON：{e}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BackupCheckFailed(CHECK_FORMAT, f"manifest.json 不是 {FORMAT} 格式")
    if canonical_json(doc) != data:
        raise BackupCheckFailed(CHECK_FORMAT, "manifest.json 不是规范 JSON（已被改写）")
    try:
        return Manifest(
            created_ms=int(doc["created_ms"]),
            origin=str(doc["origin"]),
            log_id=str(doc["log_id"]),
            chain=dict(doc["chain"]),
            database=str(doc["database"]),
            store=str(doc["store"]),
            log_size=int(doc["log_size"]),
            checkpoint=doc["checkpoint"],
            base=doc["base"],
            files={k: _entry(v, k) for k, v in dict(doc["files"]).items()},
            inherited={k: _entry(v, k) for k, v in dict(doc["inherited"]).items()},
        )
    except (KeyError, TypeError, ValueError) as e:
        raise BackupCheckFailed(CHECK_FORMAT, f"manifest.json 缺少或有误的字段：{e}") from None


def verify_signature(data: bytes, signature: bytes, log_key: SM2PublicKey) -> None:
    try:
        log_key.verify(data, signature)
    except CryptoError:
        raise BackupCheckFailed(
            CHECK_SIGNATURE, "manifest.sig 不是本部署日志密钥对清单的签名（清单被改动或换过）"
        ) from None
