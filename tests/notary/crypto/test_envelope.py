"""Envelopes: content sealed once, data keys wrapped per unit, re-wrapped on transfer."""

from __future__ import annotations

import io
import os
import signal
import tracemalloc

import pytest

from notary.crypto import SM2PrivateKey, sm3
from notary.envelope import (
    CHUNK,
    DigestMismatch,
    EnvelopeError,
    open_sealed,
    rewrap_key,
    seal,
    unwrap_key,
    wrap_key,
)


class Zeros(io.RawIOBase):
    """``size`` bytes produced on demand: a large material that never exists whole."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray) -> int:  # type: ignore[override]
        n = min(len(b), self.left)
        b[:n] = bytes(n)
        self.left -= n
        return n


def test_seal_and_open_with_the_custodians_key() -> None:
    unit = SM2PrivateKey.generate()
    data = b"%PDF-1.7 appointment record" * 1000
    s = seal(io.BytesIO(data), "m-1")
    sealed = b"".join(s.sealed)
    s.check()
    assert (s.sm3, s.size) == (sm3(data), len(data))
    wrapped = wrap_key(s.data_key, unit.public_key)
    assert open_sealed([sealed], unwrap_key(wrapped, unit), "m-1", s.sm3) == data


def test_rewrap_gives_the_receiver_access_and_only_the_receiver() -> None:
    sender, receiver, outsider = (SM2PrivateKey.generate() for _ in range(3))
    s = seal(io.BytesIO(b"material"), "m-2")
    sealed = b"".join(s.sealed)
    for_sender = wrap_key(s.data_key, sender.public_key)
    for_receiver = rewrap_key(for_sender, sender, receiver.public_key)
    assert open_sealed([sealed], unwrap_key(for_receiver, receiver), "m-2", s.sm3) == b"material"
    with pytest.raises(EnvelopeError, match="not wrapped for this unit"):
        unwrap_key(for_receiver, sender)
    with pytest.raises(EnvelopeError):
        unwrap_key(for_receiver, outsider)


def test_declared_sm3_that_does_not_match_fails_after_sealing() -> None:
    s = seal(io.BytesIO(b"actual bytes"), "m-3", declared_sm3=sm3(b"declared bytes"))
    b"".join(s.sealed)
    with pytest.raises(DigestMismatch, match="declared"):
        s.check()


def test_a_large_stream_is_sealed_and_verified_in_bounded_memory() -> None:
    size = 64 << 20
    declared = sm3(bytes(size))
    tracemalloc.start()
    s = seal(Zeros(size), "big", declared_sm3=declared)  # type: ignore[arg-type]
    chunks = list(_sizes(s.sealed))
    s.check()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert sum(chunks) == size + 33
    assert peak < 8 << 20, f"sealing 64 MiB peaked at {peak >> 20} MiB"


def _sizes(chunks: object) -> list[int]:
    return [len(c) for c in chunks]  # type: ignore[attr-defined]


def test_open_sealed_takes_the_ciphertext_in_any_cut() -> None:
    for size in (5000, 3 * CHUNK + 17):  # the second is decrypted a slice at a time
        plain = os.urandom(size)
        s = seal(io.BytesIO(plain), "m-4")
        sealed = b"".join(s.sealed)
        pieces = [sealed[i : i + 1000] for i in range(0, len(sealed), 1000)]
        assert open_sealed(pieces, s.data_key, "m-4", s.sm3) == plain
        assert open_sealed([sealed], s.data_key, "m-4", s.sm3) == plain
        bad = bytearray(sealed)
        bad[len(bad) // 2] ^= 1
        with pytest.raises(EnvelopeError):
            open_sealed([bytes(bad)], s.data_key, "m-4", s.sm3)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_opens_sealed_material() -> None:
    plain = os.urandom(3 * CHUNK)
    s = seal(io.BytesIO(plain), "m-5")
    sealed = b"".join(s.sealed)
    assert open_sealed([sealed], s.data_key, "m-5", s.sm3) == plain  # the helper thread runs
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        signal.alarm(20)  # a child waiting on a helper thread it did not inherit dies
        ok = open_sealed([sealed], s.data_key, "m-5", s.sm3) == plain
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
