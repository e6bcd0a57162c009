"""The embedded default end to end: a deployment home on the durable in-process chain
anchors checkpoints, and an auditor verifies the receipts through the chain's read-only
JSON-RPC — the same code path as against anvil or Besu — before and after a clean stop
and a kill -9."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from notary.anchoring import Anchorer, MemoryOutbox, rpc_reader, verify_anchor
from notary.chain.node.rpcserver import ReadOnlyRpcServer
from notary.deployment import DeploymentError, init_deployment, open_deployment
from notary.entries import decode_entry, encode_entry, material_registered
from notary.log import MerkleLog
from notary.receipts import EvidenceReceipt, build_receipt, parse_receipt, verify_offline

HERE = Path(__file__).resolve().parent


def entry(i: int) -> dict[str, object]:
    return material_registered(
        material_id=f"m{i}", sm3_hex=f"{i:064x}", cid="c", size=i, category="5",
        volume="ab" * 32, unit="U", version=1, time_ms=i,
    )  # fmt: skip


def verify_via_rpc(home: Path, receipts: list[EvidenceReceipt]) -> None:
    with open_deployment(home) as dep:
        assert dep.embedded is not None
        with ReadOnlyRpcServer(dep.embedded) as rpc:
            for r in receipts:
                verify_offline(r, trusted_log_keys=[dep.log_key.public_key])
                check = verify_anchor(r, rpc_reader(r, rpc.url))
                assert check.anchored_by == dep.chain.account


def test_receipts_survive_a_clean_stop_and_verify_over_rpc(tmp_path: Path) -> None:
    home = tmp_path / "home"
    receipts: list[EvidenceReceipt] = []
    with init_deployment(home, origin="centre-a/log", centre_code="CA") as dep:
        log, outbox = MerkleLog(), MemoryOutbox()
        anchorer = Anchorer(log, dep.log_key, dep.origin, dep.chain, outbox, interval_s=0)
        for i in range(6):
            log.append(encode_entry(entry(i)))
            if i % 2:
                anchorer.step()
        for i in range(6):
            cp, anchor = outbox.covering(i)  # type: ignore[misc]
            receipts.append(
                build_receipt(
                    decode_entry(encode_entry(entry(i))),
                    i,
                    log.inclusion_proof(i, cp.checkpoint.tree_size),
                    cp,
                    dep.log_key.public_key,
                    anchor,
                )
            )
    verify_via_rpc(home, receipts)


def test_a_home_is_initialised_once_and_checked_on_open(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init_deployment(home, origin="o", centre_code="CA").close()
    with pytest.raises(DeploymentError, match="already"):
        init_deployment(home, origin="o", centre_code="CA")
    with pytest.raises(DeploymentError, match="not a deployment home"):
        open_deployment(tmp_path / "elsewhere")
    assert oct((home / "keys" / "log.pem").stat().st_mode & 0o777) == "0o600"


@pytest.mark.slow
def test_kill_9_while_anchoring_loses_no_acknowledged_receipt(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init_deployment(home, origin="centre-k/log", centre_code="CK").close()
    out = tmp_path / "receipts.jsonl"
    seed = int(os.environ.get("NOTARY_TEST_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    for _trial in range(4):
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "_anchor_writer.py"), str(home), str(out)],
            env={**os.environ, "PYTHONPATH": str(HERE.parents[1])},
        )
        deadline = time.monotonic() + 30
        before = out.read_text().count("\n") if out.exists() else 0
        while (out.read_text().count("\n") if out.exists() else 0) < before + 3:
            assert proc.poll() is None, "the writer died on its own"
            assert time.monotonic() < deadline, "the writer made no progress"
            time.sleep(0.05)
        time.sleep(rng.uniform(0, 0.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    lines = [ln for ln in out.read_text().splitlines() if ln.strip()]
    receipts = [parse_receipt(json.loads(ln)) for ln in lines if ln.endswith("}")]
    assert len(receipts) >= 12, f"seed {seed}"
    verify_via_rpc(home, receipts)
