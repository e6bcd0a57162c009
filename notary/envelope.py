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

from collections.abc import Iterable, Iterator
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


class _HashingReader:
    """Feeds chunks to SM3 as they pass, for streams sealed under a declared SM3.

    Hashing runs on a worker thread (hashlib releases the GIL on large buffers), so
    on two cores it overlaps with the encryption of the same chunk instead of
    adding to it. A single worker keeps the chunks in order.
    """

    def __init__(self, source: BinaryIO) -> None:
        self.source, self.hasher, self.size = source, SM3(), 0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sm3")
        self._last: Future[object] | None = None

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in _chunks(self.source):
                self.size += len(chunk)
                self._last = self._pool.submit(self.hasher.update, chunk)
                yield chunk
        finally:
            self._pool.shutdown(wait=True)

    def digest(self) -> bytes:
        if self._last is not None:
            self._last.result()
        self._pool.shutdown(wait=True)
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


def open_sealed(
    sealed_chunks: Iterable[bytes], data_key: bytes, material_id: str, expected_sm3: bytes
) -> bytes:
    """Decrypt and check a material; nothing is returned unless tag and SM3 both hold."""
    aad = material_aad(material_id, expected_sm3)
    out = bytearray()
    h = SM3()
    try:
        for piece in sm4.decrypt_stream(data_key, aad, sealed_chunks):
            h.update(piece)
            out += piece
    except DecryptionError as e:
        raise EnvelopeError(f"material {material_id}: {e}") from None
    got = h.digest()
    if got != expected_sm3:  # pragma: no cover - the AAD binds the SM3; kept as a second lock
        raise DigestMismatch(f"material {material_id}: SM3 {got.hex()} != {expected_sm3.hex()}")
    return bytes(out)


def verify_sealed(
    sealed_chunks: Iterable[bytes], data_key: bytes, material_id: str, expected_sm3: bytes
) -> int:
    """First pass of a verified streaming read: check tag and SM3, keep nothing. Returns size."""
    aad = material_aad(material_id, expected_sm3)
    h, size = SM3(), 0
    try:
        for piece in sm4.decrypt_stream(data_key, aad, sealed_chunks):
            h.update(piece)
            size += len(piece)
    except DecryptionError as e:
        raise EnvelopeError(f"material {material_id}: {e}") from None
    if h.digest() != expected_sm3:  # pragma: no cover - bound by the AAD
        raise DigestMismatch(f"material {material_id}: SM3 mismatch")
    return size
