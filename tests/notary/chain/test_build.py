"""The committed contract artifacts are exactly what the pinned compiler produces."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from notary.chain import load_artifact

ROOT = Path(__file__).resolve().parents[3]
PUSH0 = 0x5F


def opcodes(code: bytes) -> list[int]:
    """Opcodes of EVM code, skipping PUSH1..PUSH32 immediates."""
    ops, i = [], 0
    while i < len(code):
        op = code[i]
        ops.append(op)
        i += 1 + (op - 0x5F if 0x60 <= op <= 0x7F else 0)
    return ops


@pytest.mark.slow
def test_recompiling_reproduces_the_committed_artifacts_byte_for_byte() -> None:
    result = subprocess.run(
        [sys.executable, "contracts/build.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout


def test_both_artifact_copies_are_identical() -> None:
    committed = ROOT / "contracts" / "artifacts" / "ArchiveNotary.json"
    packaged = ROOT / "notary" / "chain" / "ArchiveNotary.json"
    assert committed.read_bytes() == packaged.read_bytes()


def test_artifact_is_paris_code_from_the_pinned_compiler() -> None:
    artifact = load_artifact()
    assert artifact.evm_version == "paris"
    assert artifact.compiler_version.startswith("0.8.37+commit.f401782d")
    # The runtime code must avoid PUSH0 (Shanghai), which paris-era chains reject.
    # The trailing CBOR metadata is data, not code: stop at its length suffix.
    meta_len = int.from_bytes(artifact.deployed_bytecode[-2:], "big")
    code = artifact.deployed_bytecode[: -(meta_len + 2)]
    assert PUSH0 not in opcodes(code)
