"""Content on several stores at once: a primary and its replicas.

``put`` stores on the primary, then copies the DAG to each replica (CAR out, CAR in:
every block re-verified against its CID on the way) and returns only when ``acks``
stores hold it (the primary counts as one); a copy that fails beyond that is left for
``check`` to repair. Reads go block by block to the first store that returns a block
that verifies, so a damaged or lost primary is read around. ``check`` re-verifies
whole DAGs on every store and repairs a damaged or incomplete copy from one that is
whole — safe, because a block is addressed by its hash: a wrong block cannot be
written under a CID.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from notary.store.base import (
    ContentIntegrityError,
    ContentNotFound,
    ContentStore,
    StoreError,
    StoreUnavailable,
)
from notary.store.cid import cid_str, to_binary
from notary.store.local import LocalStore
from notary.store.unixfs import iter_dag, iter_file

log = logging.getLogger(__name__)

_SPOOL = 8 << 20  # a CAR below this stays in memory while it is copied


def _name(store: ContentStore) -> str:
    where = getattr(store, "root", None) or getattr(store, "_where", None)
    return f"{type(store).__name__}({where})" if where else type(store).__name__


def _get_block(store: ContentStore, cid: bytes) -> bytes:
    get = getattr(store, "get_block", None)
    if get is None:  # pragma: no cover - both stores of this package have it
        raise StoreError(f"{_name(store)} cannot read single blocks")
    return bytes(get(cid))


def copy_dag(source: ContentStore, target: ContentStore, cid: str) -> None:
    """Copy the DAG of ``cid`` (pinned) from ``source`` to ``target`` through a CAR."""
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL) as car:
        source.export_car(cid, car)  # type: ignore[arg-type]
        car.seek(0)
        target.import_car(car)  # type: ignore[arg-type]


@dataclass
class CopyCheck:
    """One store's copy of one CID: ``ok``, or the problem and whether it was repaired."""

    store: str
    cid: str
    ok: bool
    problem: str = ""
    repaired: bool = False


@dataclass
class CheckReport:
    checked: int = 0
    results: list[CopyCheck] = field(default_factory=list)

    @property
    def damaged(self) -> list[CopyCheck]:
        return [r for r in self.results if not r.ok]

    def by_store(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for r in self.results:
            row = out.setdefault(r.store, {"ok": 0, "damaged": 0, "repaired": 0})
            row["ok" if r.ok else "damaged"] += 1
            row["repaired"] += int(r.repaired)
        return out


class ReplicatedStore(ContentStore):
    """A primary store and its replicas, written to ``acks`` of them before ``put`` returns."""

    def __init__(self, stores: list[ContentStore], acks: int = 1) -> None:
        if not stores:
            raise ValueError("a replicated store needs at least the primary")
        if not 1 <= acks <= len(stores):
            raise ValueError(f"acks must be between 1 and {len(stores)} (the stores named)")
        self.stores = stores
        self.acks = acks

    @property
    def primary(self) -> ContentStore:
        return self.stores[0]

    def names(self) -> list[str]:
        return [_name(s) for s in self.stores]

    # --- writes ---------------------------------------------------------------------

    def put(self, data: BinaryIO | bytes) -> str:
        cid = self.primary.put(data)
        copies = 1
        for replica in self.stores[1:]:
            try:
                copy_dag(self.primary, replica, cid)
                copies += 1
            except (StoreError, OSError) as e:
                log.warning(
                    "副本 %s 未能写入 %s：%s（待 replicas check 修复）", _name(replica), cid, e
                )
        if copies < self.acks:
            raise StoreUnavailable(
                f"{cid}: only {copies} of the {self.acks} copies required were written"
            )
        return cid

    def pin(self, cid: str) -> None:
        self.primary.pin(cid)
        for replica in self.stores[1:]:
            try:
                if not replica.is_pinned(cid):
                    copy_dag(self.primary, replica, cid)
            except (StoreError, OSError) as e:
                log.warning("副本 %s 未能固定 %s：%s", _name(replica), cid, e)

    def import_car(self, stream: BinaryIO) -> list[str]:
        roots = self.primary.import_car(stream)
        for root in roots:
            self.pin(root)
        return roots

    # --- reads ----------------------------------------------------------------------

    def get_block(self, cid: str | bytes) -> bytes:
        """The first copy of the block that verifies (each store verifies what it reads)."""
        binary = to_binary(cid)
        errors: list[str] = []
        for store in self.stores:
            try:
                return _get_block(store, binary)
            except (StoreError, OSError) as e:
                errors.append(f"{_name(store)}: {e}")
        raise ContentNotFound(cid_str(binary), "no store holds a good copy: " + "; ".join(errors))

    def iter_content(self, cid: str) -> Iterator[bytes]:
        return iter_file(to_binary(cid), self.get_block)

    def has(self, cid: str) -> bool:
        for store in self.stores:
            try:
                if store.has(cid):
                    return True
            except StoreError:
                continue
        return False

    def is_pinned(self, cid: str) -> bool:
        return any(self._safe(lambda s: s.is_pinned(cid), store) for store in self.stores)

    def export_car(self, cid: str, out: BinaryIO) -> None:
        from multiformats import CID

        from notary.store.car import CarWriter

        root = to_binary(cid)
        self.get_block(root)  # a missing root fails before anything is written
        writer = CarWriter(out, [CID.decode(root)])
        for block_cid, block in iter_dag(root, self.get_block):
            writer.write(block_cid, block)

    def close(self) -> None:
        for store in self.stores:
            store.close()

    @staticmethod
    def _safe(fn: Any, store: ContentStore) -> bool:
        try:
            return bool(fn(store))
        except StoreError:
            return False

    # --- status and repair ----------------------------------------------------------

    def status(self) -> list[dict[str, Any]]:
        """Whether each store answers (for /v1/health)."""
        from notary.store.unixfs import compute_cid

        probe = compute_cid(b"")
        out = []
        for store in self.stores:
            try:
                if isinstance(store, LocalStore):
                    # A directory never fails a lookup, it just finds nothing: ask
                    # whether it is there to be written (a disk lost or unmounted).
                    blocks = store.root / "blocks"
                    if not (blocks.is_dir() and os.access(blocks, os.W_OK)):
                        raise StoreUnavailable(f"{blocks} is missing or not writable")
                else:
                    store.has(probe)
                out.append({"store": _name(store), "state": "ok"})
            except StoreError as e:
                out.append({"store": _name(store), "state": "down", "error": type(e).__name__})
        return out

    def check(self, cids: Iterable[str], *, repair: bool = True) -> CheckReport:
        """Re-verify every block of each DAG on every store; repair a bad copy from a
        whole one (when ``repair``)."""
        report = CheckReport()
        for cid in cids:
            report.checked += 1
            results = [self._check_copy(store, cid) for store in self.stores]
            good = [s for s, r in zip(self.stores, results, strict=True) if r.ok]
            for store, result in zip(self.stores, results, strict=True):
                if not result.ok and repair and good:
                    try:
                        copy_dag(good[0], store, cid)
                        result.repaired = self._check_copy(store, cid).ok
                    except (StoreError, OSError) as e:
                        result.problem += f"；修复失败：{e}"
                report.results.append(result)
        return report

    @staticmethod
    def _check_copy(store: ContentStore, cid: str) -> CopyCheck:
        try:
            for _ in iter_dag(to_binary(cid), lambda c: _get_block(store, c)):
                pass
            if not store.is_pinned(cid):
                return CopyCheck(_name(store), cid, False, "未固定（pin）")
        except ContentNotFound as e:
            return CopyCheck(_name(store), cid, False, f"缺失：{e}")
        except ContentIntegrityError as e:
            return CopyCheck(_name(store), cid, False, f"损坏：{e}")
        except (StoreError, OSError) as e:
            return CopyCheck(_name(store), cid, False, f"不可用：{e}")
        return CopyCheck(_name(store), cid, True)
