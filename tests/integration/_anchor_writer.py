"""Child process of the kill -9 test: anchors checkpoints until killed, and after each
acknowledged anchor appends its evidence receipt to a JSON-lines file."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from notary.anchoring import Anchorer, MemoryOutbox
from notary.deployment import open_deployment
from notary.entries import decode_entry, encode_entry, material_registered
from notary.log import MerkleLog
from notary.receipts import build_receipt


def main(home: Path, out: Path) -> None:
    dep = open_deployment(home)
    log, outbox = MerkleLog(), MemoryOutbox()
    # Each run is a fresh log under a fresh origin: anchors of earlier runs stay valid.
    origin = f"{dep.origin}/run-{os.getpid()}"
    anchorer = Anchorer(log, dep.log_key, origin, dep.chain, outbox, interval_s=0, max_entries=1)
    with out.open("a", encoding="utf-8") as f:
        i = 0
        while True:
            entry = material_registered(
                material_id=f"k{i}", sm3_hex=f"{i:064x}", cid="c", size=i, category="2",
                volume="ab" * 32, unit="U", version=1, time_ms=i,
            )  # fmt: skip
            log.append(encode_entry(entry))
            anchorer.step()
            cp, anchor = outbox.covering(i)  # type: ignore[misc]
            receipt = build_receipt(
                decode_entry(encode_entry(entry)), i,
                log.inclusion_proof(i, cp.checkpoint.tree_size), cp, dep.log_key.public_key,
                anchor,
            )  # fmt: skip
            f.write(json.dumps(receipt.to_json()) + "\n")
            f.flush()
            os.fsync(f.fileno())
            i += 1


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
