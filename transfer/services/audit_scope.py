"""What ``notary audit`` reads on the server: the deployment (log key, units' keys,
store, chain) and the database rows of the materials in scope, as
:class:`notary.audit.AuditItem` (notary/audit/ does the checking)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from notary.crypto import SM2PrivateKey, SM2PublicKey
from notary.errors import NotaryError
from notary.store import ContentStore
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
        )


def scope_materials(
    s: Any, volume: str | None, unit: str | None
) -> tuple[str, list[Any], list[uuid.UUID] | None]:
    """The scope's title, its material rows and its volumes (None: every volume)."""
    from sqlalchemy import select

    from transfer.db.models import Material, Unit, Volume

    query = select(Material, Volume, Unit).join(Volume, Material.volume_id == Volume.id)
    query = query.join(Unit, Volume.custodian_unit_id == Unit.id)
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
    rows = s.execute(query.order_by(Volume.id, Material.category, Material.seq_no)).all()
    return scope, list(rows), volumes


def audit_items(
    s: Any, rows: list[Any], src: Sources, *, batch_size: int = AUDIT_BATCH
) -> Iterator[Any]:
    """AuditItems built lazily, ``batch_size`` rows at a time (receipts and keys each in
    a few queries per batch), so the progress bar moves with the work."""

    from notary.audit import AuditItem, MaterialDetails
    from notary.envelope import WrappedKey
    from notary.reader import MaterialRecord
    from transfer.services.access import active_keys
    from transfer.services.receipts import stored_receipts

    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        leaves = [m.leaf_index for m, _, _ in batch if m.leaf_index is not None]
        receipts = stored_receipts(s, leaves, src.log_key)
        keys = {}
        for unit_id in {u.id for _, _, u in batch}:
            keys.update(active_keys(s, unit_id, [m.id for m, _, u in batch if u.id == unit_id]))
        for material, _volume, unit in batch:
            key_row = keys.get(material.id)
            wrapped = (
                WrappedKey(b"\0" * 32, b"")
                if key_row is None
                else WrappedKey(bytes.fromhex(key_row.key_fingerprint), key_row.wrapped)
            )
            receipt = None if material.leaf_index is None else receipts[material.leaf_index]
            mid = str(material.id)
            record = MaterialRecord(mid, bytes.fromhex(material.sm3), material.cid, wrapped)
            designation = f"{material.category}-{material.seq_no}-{material.pages}"
            label = f"{mid}（{designation} {material.title}）"
            details = MaterialDetails(
                designation, material.title, unit.code, material.size, material.leaf_index
            )
            item = AuditItem(record, material.media_type, receipt, label=label, details=details)
            yield item, unit.code
