"""Digital envelopes for materials (SM4-GCM content, SM2-wrapped data keys).

Each material gets a fresh 128-bit SM4 data key. The content is sealed with
SM4-GCM whose associated data binds it to the material's id and plaintext SM3, so a
valid ciphertext of one material can never be passed off as another. The data key is
wrapped (SM2, GM/T 0009 C1C3C2) for the custodian unit; a transfer re-wraps it for the
receiving unit without touching the content.

Sealing needs the SM3 before the first byte is encrypted (GCM authenticates AAD
first). A seekable source is hashed in a first pass; an upload stream must declare
its SM3, and sealing fails at the end if the bytes do not match the declaration.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO

from notary.crypto import SM3, Decrypter, DecryptionError, SM2PublicKey, sm3_stream, sm4
from notary.errors import VerificationError

CHUNK = 1 << 20
_AAD_PREFIX = b"archive-notary/material/v1\x00"


class EnvelopeError(VerificationError):
    """The envelope cannot be opened: wrong unit key, altered key or altered content."""

    check = "envelope"


class DigestMismatch(VerificationError):
    """The decrypted material's SM3 differs from the registered SM3."""

    check = "sm3"


def material_aad(material_id: str, sm3_digest: bytes) -> bytes:
    return _AAD_PREFIX + material_id.encode("utf-8") + b"\x00" + sm3_digest


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A data key encrypted to one unit's SM2 public key."""

    recipient: bytes  # SM3 fingerprint of the unit's public key
    ciphertext: bytes


def wrap_key(data_key: bytes, recipient: SM2PublicKey) -> WrappedKey:
    return WrappedKey(recipient.fingerprint(), recipient.encrypt(data_key))


def unwrap_key(wrapped: WrappedKey, holder: Decrypter) -> bytes:
    if wrapped.recipient != holder.public_key.fingerprint():
        raise EnvelopeError("the data key is not wrapped for this unit's key")
    try:
        key = holder.decrypt(wrapped.ciphertext)
    except DecryptionError as e:
        raise EnvelopeError(f"the wrapped data key does not open: {e}") from None
    if len(key) != sm4.KEY_SIZE:
        raise EnvelopeError("the wrapped data key has the wrong length")
    return key


def rewrap_key(wrapped: WrappedKey, holder: Decrypter, recipient: SM2PublicKey) -> WrappedKey:
    """Re-wrap a data key for another unit; the content is not re-encrypted."""
    return wrap_key(unwrap_key(wrapped, holder), recipient)


def _chunks(source: BinaryIO) -> Iterator[bytes]:
    while chunk := source.read(CHUNK):
        yield chunk


# One helper thread: the second core of the small machines this runs on. It is taken
# only when idle; when other reads hold it the caller hashes itself, since on busy
# cores a hand-over gains no parallelism and costs a thread switch (verify-on-read
# under 300 clients lost ~7 % of its throughput when every read waited for the helper).
_SM3_HELPER: ThreadPoolExecutor
_SM3_HELPER_IDLE: threading.Semaphore


def _new_sm3_helper() -> None:
    global _SM3_HELPER, _SM3_HELPER_IDLE
    _SM3_HELPER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sm3")
    _SM3_HELPER_IDLE = threading.Semaphore(1)


_new_sm3_helper()
if hasattr(os, "register_at_fork"):
    # A forked child inherits the executor but not its thread: work sent there would
    # never run.
    os.register_at_fork(after_in_child=_new_sm3_helper)


class _OverlappedSM3:
    """SM3 of a stream whose chunks are hashed on a helper thread while the caller
    encrypts or decrypts the next chunk: hashlib releases the GIL on large buffers, so
    on two cores the two overlap instead of adding up. One chunk in flight at a time
    keeps the chunks in order and the memory bounded."""

    __slots__ = ("_h", "_last")

    def __init__(self) -> None:
        self._h = SM3()
        self._last: Future[None] | None = None

    def update(self, chunk: bytes | memoryview) -> None:
        if self._last is not None:
            self._last.result()
            self._last = None
        if _SM3_HELPER_IDLE.acquire(blocking=False):
            self._last = _SM3_HELPER.submit(self._hash_on_helper, chunk)
        else:
            self._h.update(chunk)

    def _hash_on_helper(self, chunk: bytes | memoryview) -> None:
        try:
            self._h.update(chunk)
        finally:
            _SM3_HELPER_IDLE.release()

    def digest(self) -> bytes:
        if self._last is not None:
            self._last.result()
            self._last = None
        return self._h.digest()


class _HashingReader:
    """Feeds chunks to SM3 as they pass, for streams sealed under a declared SM3."""

    def __init__(self, source: BinaryIO) -> None:
        self.source, self.hasher, self.size = source, _OverlappedSM3(), 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in _chunks(self.source):
            self.size += len(chunk)
            self.hasher.update(chunk)
            yield chunk

    def digest(self) -> bytes:
        return self.hasher.digest()


@dataclass(slots=True)
class Sealing:
    """A sealing in progress: iterate :attr:`sealed` once, then read the results."""

    material_id: str
    sm3: bytes
    data_key: bytes
    sealed: Iterator[bytes]
    _reader: _HashingReader

    @property
    def size(self) -> int:
        return self._reader.size

    def check(self) -> None:
        """After the ciphertext was consumed: the bytes hashed to the declared SM3."""
        got = self._reader.digest()
        if got != self.sm3:
            raise DigestMismatch(
                f"material {self.material_id}: content SM3 {got.hex()} differs from the "
                f"declared {self.sm3.hex()}"
            )


def seal(source: BinaryIO, material_id: str, declared_sm3: bytes | None = None) -> Sealing:
    """Start sealing ``source``. Without ``declared_sm3`` the source must be seekable."""
    if declared_sm3 is None:
        start = source.tell()
        declared_sm3 = sm3_stream(source)
        source.seek(start)
    key = sm4.new_key()
    reader = _HashingReader(source)
    sealed = sm4.encrypt_stream(key, material_aad(material_id, declared_sm3), iter(reader))
    return Sealing(material_id, declared_sm3, key, sealed, reader)


def open_sealed_pieces(
    pieces: Sequence[bytes], data_key: bytes, material_id: str, expected_sm3: bytes
) -> bytearray:
    """:func:`open_sealed` of a material held in ``pieces`` (a store's verified blocks,
    in order), decrypted in place into one buffer: no 2 MB join of the blocks nor of
    the plaintext (the verified read's path). The same checks, in the same order."""
    aad = material_aad(material_id, expected_sm3)
    # Hashed here, each piece just after its decryption (still in cache), not on the
    # helper thread: a verified read runs beside others on every core, where a
    # hand-over gains no parallelism and each one (a queue put, a future, a wake-up,
    # GIL hand-overs) cost more than it saved — ~17 % of the GIL-holding samples of
    # the serving workers under 300 readers (benches/results/reads.md).
    h = SM3()
    try:
        plain = sm4.decrypt_pieces(data_key, aad, pieces, on_piece=h.update)
    except DecryptionError as e:
        raise EnvelopeError(f"material {material_id}: {e}") from None
    got = h.digest()
    if got != expected_sm3:  # pragma: no cover - the AAD binds the SM3; kept as a second lock
        raise DigestMismatch(f"material {material_id}: SM3 {got.hex()} != {expected_sm3.hex()}")
    return plain


def _slices(chunks: Iterable[bytes]) -> Iterator[bytes | memoryview]:
    """``chunks`` cut into views of at most CHUNK bytes, so that hashing one can overlap
    decrypting the next even when the whole material comes as one piece."""
    for chunk in chunks:
        if len(chunk) <= CHUNK:
            yield chunk
            continue
        view = memoryview(chunk)
        for i in range(0, len(view), CHUNK):
            yield view[i : i + CHUNK]


def open_sealed(
    sealed_chunks: Iterable[bytes], data_key: bytes, material_id: str, expected_sm3: bytes
) -> bytes:
    """Decrypt and check a material; nothing is returned unless tag and SM3 both hold."""
    aad = material_aad(material_id, expected_sm3)
    pieces = []
    h = _OverlappedSM3()
    try:
        for piece in sm4.decrypt_stream(data_key, aad, _slices(sealed_chunks)):
            h.update(piece)
            pieces.append(piece)
    except DecryptionError as e:
        raise EnvelopeError(f"material {material_id}: {e}") from None
    got = h.digest()
    if got != expected_sm3:  # pragma: no cover - the AAD binds the SM3; kept as a second lock
        raise DigestMismatch(f"material {material_id}: SM3 {got.hex()} != {expected_sm3.hex()}")
    return b"".join(pieces)
