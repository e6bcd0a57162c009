"""Audit throughput: proofs of 1,000,000 log entries against an anchored checkpoint,
and content re-hash (fixity) MB/s against raw SM3.

Run: ``python benches/bench_audit.py [--entries 1000000] [--materials 40]``; writes
``benches/results/audit.md``. The proof audit regenerates each entry's inclusion
proof from the tree storage and verifies it against the checkpoint's root, as the
audit does for every registered material (goal: ≤ 5 min for 1M).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_seconds, header, write

from notary.audit import AuditItem, audit_materials, new_report
from notary.checkpoint import sign_checkpoint
from notary.crypto import SM2PrivateKey, sm3
from notary.envelope import seal, wrap_key
from notary.log import MerkleLog
from notary.log.merkle import leaf_hash, verify_inclusion
from notary.reader import MaterialRecord
from notary.store import LocalStore


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--materials", type=int, default=40)
    args = ap.parse_args()
    key = SM2PrivateKey.generate()
    log = MerkleLog()
    entries = [b'{"type":"material.registered","n":%d}' % i for i in range(args.entries)]
    log.append_many(entries)
    cp = sign_checkpoint(key, "bench", log.size, log.root(), 1)
    t0 = time.perf_counter()
    cp.verify(key.public_key)
    root, size = cp.checkpoint.root, cp.checkpoint.tree_size
    for i, e in enumerate(entries):
        verify_inclusion(sm3, i, size, leaf_hash(sm3, e), log.inclusion_proof(i, size), root)
    t_proofs = time.perf_counter() - t0

    unit = SM2PrivateKey.generate()
    with tempfile.TemporaryDirectory() as d:
        store = LocalStore(d)
        items, plain = [], []
        for i in range(args.materials):
            data = b"%PDF-1.4\n" + os.urandom(2 << 20) + b"\n%%EOF\n"
            s = seal(io.BytesIO(data), f"m{i}")
            cid = store.put(b"".join(s.sealed))
            rec = MaterialRecord(f"m{i}", s.sm3, cid, wrap_key(s.data_key, unit.public_key))
            items.append(AuditItem(rec, "application/pdf", None))
            plain.append(data)
        total = sum(map(len, plain))
        t_raw = best_seconds(lambda: [hashlib.new("sm3", p).digest() for p in plain])

        def run() -> None:
            audit_materials(
                items, store=store, holder=lambda _r: unit, log_keys=[], chain=None,
                report=new_report("bench"),
            )  # fmt: skip

        t_audit = best_seconds(run)
    text = header("Audit")
    text += "\n| measure | result | baseline / ratio | goal |\n|---|---|---|---|\n"
    text += (
        f"| inclusion proofs of {args.entries:,} entries (generate + verify) vs checkpoint "
        f"| {t_proofs:.0f} s ({args.entries / t_proofs:,.0f} /s) | | ≤ 300 s |\n"
    )
    text += (
        f"| content re-hash in the audit ({args.materials} × 2 MB: CID check, SM2 unwrap, "
        f"SM4-GCM, SM3, type check) | {total / t_audit / 1e6:.0f} MB/s "
        f"| raw SM3 {total / t_raw / 1e6:.0f} MB/s; ratio {t_raw / t_audit:.2f} | |\n"
    )
    print(text)
    write("audit", text)


if __name__ == "__main__":
    main()
