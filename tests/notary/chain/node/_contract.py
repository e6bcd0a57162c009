"""A hand-assembled storage contract, so the tests need no compiler or artifacts.

Behaviour (the whole ABI):

* empty calldata -> returns the 32-byte word in slot 0;
* a non-zero 32-byte word ``v`` -> stores ``v`` in slot 0 and emits
  ``LOG1(data=v, topic=1)``;
* the zero word -> reverts with the 4 bytes ``0xdeadbeef`` (a custom-error-like
  revert payload, to check that revert data survives).
"""

from __future__ import annotations

_RUNTIME_OPS = [
    "36",  # 00 CALLDATASIZE
    "600f",  # 01 PUSH1 set
    "57",  # 03 JUMPI
    "6000",  # 04 PUSH1 0
    "54",  # 06 SLOAD
    "6000",  # 07 PUSH1 0
    "52",  # 09 MSTORE
    "6020",  # 0a PUSH1 32
    "6000",  # 0c PUSH1 0
    "f3",  # 0e RETURN
    "5b",  # 0f set: JUMPDEST
    "6000",  # 10 PUSH1 0
    "35",  # 12 CALLDATALOAD
    "80",  # 13 DUP1
    "6024",  # 14 PUSH1 store
    "57",  # 16 JUMPI
    "63deadbeef",  # 17 PUSH4 0xdeadbeef
    "6000",  # 1c PUSH1 0
    "52",  # 1e MSTORE
    "6004",  # 1f PUSH1 4
    "601c",  # 21 PUSH1 28
    "fd",  # 23 REVERT
    "5b",  # 24 store: JUMPDEST
    "80",  # 25 DUP1
    "6000",  # 26 PUSH1 0
    "55",  # 28 SSTORE
    "6000",  # 29 PUSH1 0
    "52",  # 2b MSTORE
    "6001",  # 2c PUSH1 1 (topic)
    "6020",  # 2e PUSH1 32
    "6000",  # 30 PUSH1 0
    "a1",  # 32 LOG1
    "00",  # 33 STOP
]
RUNTIME = bytes.fromhex("".join(_RUNTIME_OPS))
# CODECOPY the runtime (which follows this 11-byte prologue) and RETURN it.
INIT = bytes.fromhex(f"60{len(RUNTIME):02x}80600b6000396000f3") + RUNTIME
REVERT_DATA = bytes.fromhex("deadbeef")
LOG_TOPIC = (1).to_bytes(32, "big")


def word(value: int) -> bytes:
    return value.to_bytes(32, "big")
