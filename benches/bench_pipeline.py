"""Ingest and verified-read pipelines on 2 MB materials, against their raw baselines.

Run: ``python benches/bench_pipeline.py [--count 50]``; writes ``benches/results/pipeline.md``.

- ingest = seal (SM3 + SM4-GCM under the material's AAD) + CID + local blockstore
  (fsync'd), baseline = raw ``hashlib`` SM3 + SM4-GCM over the same bytes (goal ≥ 0.6);
- verified read = ``notary.reader.read_verified`` (CID re-check of every block, SM2
  unwrap, SM4-GCM decrypt, SM3, log inclusion + checkpoint signature), baseline =
  plain read of the ciphertext from the same store + decrypt (goal: overhead ≤ 25 %).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_seconds, header, write

from notary.checkpoint import sign_checkpoint
from notary.crypto import SM2PrivateKey, sm3, sm4
from notary.entries import encode_entry, material_registered
from notary.envelope import material_aad, seal, unwrap_key, wrap_key
from notary.log import MerkleLog
from notary.reader import MaterialRecord, read_verified
from notary.receipts import build_receipt
from notary.store import LocalStore

MB = 1 << 20


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=50)
    args = ap.parse_args()
    materials = [os.urandom(2 * MB) for _ in range(args.count)]
    total = sum(map(len, materials))
    unit, log_key = SM2PrivateKey.generate(), SM2PrivateKey.generate()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        key = sm4.new_key()

        def raw() -> None:
            for i, m in enumerate(materials):
                digest = hashlib.new("sm3", m).digest()
                sm4.encrypt(key, material_aad(f"m{i}", digest), m)

        records: list[MaterialRecord] = []

        def ingest(declared: bool) -> None:
            store = LocalStore(Path(d) / f"blocks-{len(records)}")
            records.clear()
            for i, m in enumerate(materials):
                s = seal(io.BytesIO(m), f"m{i}", sm3(m) if declared else None)
                cid = store.put(b"".join(s.sealed))
                s.check()
                records.append(
                    MaterialRecord(f"m{i}", s.sm3, cid, wrap_key(s.data_key, unit.public_key))
                )

        t_raw = best_seconds(raw)
        t_ingest = best_seconds(lambda: ingest(False))
        t_raw2 = best_seconds(raw)
        base = min(t_raw, t_raw2)
        rows.append(("raw SM3 + SM4-GCM (baseline)", total / base / MB, 1.0, ""))
        rows.append(
            (
                "ingest: seal + CID + local store (fsync)",
                total / t_ingest / MB,
                base / t_ingest,
                "≥ 0.6",
            )
        )

        store = LocalStore(Path(d) / "read")
        log = MerkleLog()
        for i, m in enumerate(materials):
            s = seal(io.BytesIO(m), f"m{i}")
            cid = store.put(b"".join(s.sealed))
            records[i] = MaterialRecord(f"m{i}", s.sm3, cid, wrap_key(s.data_key, unit.public_key))
            log.append(encode_entry(material_registered(
                material_id=f"m{i}", sm3_hex=s.sm3.hex(), cid=cid, size=len(m), category="1",
                volume="v", unit="U", version=1, time_ms=1)))  # fmt: skip
        cp = sign_checkpoint(log_key, "o", log.size, log.root(), 1)
        receipts = [
            build_receipt(
                material_registered(
                    material_id=r.material_id, sm3_hex=r.sm3.hex(), cid=r.cid, size=2 * MB,
                    category="1", volume="v", unit="U", version=1, time_ms=1),
                i, log.inclusion_proof(i), cp, log_key.public_key)
            for i, r in enumerate(records)
        ]  # fmt: skip

        def plain_read() -> None:
            for r in records:
                k = unwrap_key(r.wrapped_key, unit)
                sm4.decrypt(k, material_aad(r.material_id, r.sm3), store.get(r.cid))

        def verified_read() -> None:
            for r, rc in zip(records, receipts, strict=True):
                read_verified(store, r, unit, receipt=rc, log_keys=[log_key.public_key])

        t_plain = best_seconds(plain_read)
        t_verified = best_seconds(verified_read)
        t_plain = min(t_plain, best_seconds(plain_read))
        rows.append(("read + unwrap + decrypt (baseline)", total / t_plain / MB, 1.0, ""))
        rows.append((
            "verified read (CID, tag, SM3, inclusion, checkpoint signature)",
            total / t_verified / MB,
            t_plain / t_verified,
            f"overhead {100 * (t_verified / t_plain - 1):.0f} % (goal ≤ 25 %)",
        ))  # fmt: skip
    text = header(f"Ingest and verified read, {args.count} × 2 MB materials")
    text += "\n| pipeline | MB/s | ratio to baseline | goal |\n|---|---:|---:|---|\n"
    text += "".join(f"| {a} | {b:.0f} | {c:.2f} | {g} |\n" for a, b, c, g in rows)
    print(text)
    write("pipeline", text)


if __name__ == "__main__":
    main()
