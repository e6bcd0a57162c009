"""A deeply nested JSON document is a 4xx, never a crashed process.

web3's py_ecc raises the recursion limit to 100,000, so without notary.chain putting
it back, ``json.loads("[" * 100_000)`` overflows the C stack: SIGSEGV, no answer, the
service gone (found 2026-12-05)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import json, sys
import transfer.webapp, transfer.api.app, notary.chain  # everything the service imports
try:
    json.loads("[" * 200_000)
except RecursionError:
    print("refused", sys.getrecursionlimit())
"""


@pytest.mark.slow
def test_the_service_stack_refuses_deep_json_instead_of_crashing() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    assert done.stdout.split() == ["refused", str(1024 * 12)]
