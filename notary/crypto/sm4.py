"""SM4-GCM authenticated encryption (GB/T 32907-2016 block cipher; GCM per RFC 8998 §3).

The sealed form stored in content stores is::

    "ANS4" | version (1 byte, 0x01) | nonce (12 bytes) | ciphertext | tag (16 bytes)

Encryption and decryption stream in chunks, so a large material never sits whole
in memory. Decryption releases plaintext before the tag is checked only through
:func:`decrypt_stream`, whose caller must discard everything if it raises; the
verified read path (``notary.envelope``) never hands such output to a user.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from notary.crypto.errors import DecryptionError

KEY_SIZE = 16
NONCE_SIZE = 12
TAG_SIZE = 16
MAGIC = b"ANS4\x01"
HEADER_SIZE = len(MAGIC) + NONCE_SIZE
OVERHEAD = HEADER_SIZE + TAG_SIZE


def new_key() -> bytes:
    """A fresh random 128-bit SM4 data key."""
    return os.urandom(KEY_SIZE)


def _check_key(key: bytes) -> None:
    if len(key) != KEY_SIZE:
        raise DecryptionError(f"SM4 key must be {KEY_SIZE} bytes, got {len(key)}")


def encrypt_stream(
    key: bytes, aad: bytes, chunks: Iterable[bytes], nonce: bytes | None = None
) -> Iterator[bytes]:
    """Seal ``chunks``; yields the header, ciphertext pieces, then the tag."""
    _check_key(key)
    nonce = os.urandom(NONCE_SIZE) if nonce is None else nonce
    if len(nonce) != NONCE_SIZE:
        raise ValueError(f"nonce must be {NONCE_SIZE} bytes")
    enc = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(aad)
    yield MAGIC + nonce
    for chunk in chunks:
        out = enc.update(chunk)
        if out:
            yield out
    tail = enc.finalize()
    yield tail + enc.tag


def encrypt(key: bytes, aad: bytes, plaintext: bytes, nonce: bytes | None = None) -> bytes:
    """Seal ``plaintext`` in one piece."""
    return b"".join(encrypt_stream(key, aad, (plaintext,), nonce))


def decrypt_stream(key: bytes, aad: bytes, chunks: Iterable[bytes | memoryview]) -> Iterator[bytes]:
    """Open a sealed stream. Yields unauthenticated plaintext; raises at the end
    if the tag does not verify, so callers must buffer or discard on error."""
    _check_key(key)
    it = iter(chunks)
    head = bytearray()
    for chunk in it:
        head += chunk
        if len(head) >= OVERHEAD:
            break
    if len(head) < OVERHEAD:
        raise DecryptionError("sealed data is shorter than its header and tag")
    if bytes(head[: len(MAGIC)]) != MAGIC:
        raise DecryptionError("sealed data does not start with the SM4-GCM v1 header")
    nonce = bytes(head[len(MAGIC) : HEADER_SIZE])
    dec = Cipher(algorithms.SM4(key), modes.GCM(nonce)).decryptor()
    dec.authenticate_additional_data(aad)
    # The last TAG_SIZE bytes are the tag: hold back that many until the stream ends.
    # A chunk that holds a whole tag's worth releases everything pending before it and
    # is decrypted through a view, so large chunks are not copied on the way.
    pending = bytes(head[HEADER_SIZE:])
    for chunk in itertools.chain((b"",), it):
        if len(chunk) >= TAG_SIZE:
            if pending and (out := dec.update(pending)):
                yield out
            view = memoryview(chunk)
            out = dec.update(view[:-TAG_SIZE])
            pending = bytes(view[-TAG_SIZE:])
        else:
            pending += chunk
            if len(pending) <= TAG_SIZE:
                continue
            out = dec.update(pending[:-TAG_SIZE])
            pending = pending[-TAG_SIZE:]
        if out:
            yield out
    try:
        yield dec.finalize_with_tag(pending)
    except InvalidTag:
        raise DecryptionError(
            "SM4-GCM tag does not verify (wrong key, AAD, or altered ciphertext)"
        ) from None


def decrypt_pieces(
    key: bytes,
    aad: bytes,
    pieces: Sequence[bytes],
    on_piece: Callable[[memoryview], object] | None = None,
) -> bytearray:
    """Open a sealed message held in ``pieces`` (in order: a store's blocks) into one
    buffer of the plaintext's exact size; nothing is returned unless the tag verifies.

    The pieces are not joined and the plaintext is not assembled from parts: each
    piece's ciphertext is decrypted straight into its place (``update_into``), which
    spares a 2 MB material two copies. ``on_piece`` is given each region as soon as it
    is decrypted (a view of the buffer, never written again; unauthenticated until
    this function returns), e.g. to hash it meanwhile.
    """
    _check_key(key)
    total = sum(len(p) for p in pieces)
    if total < OVERHEAD:
        raise DecryptionError("sealed data is shorter than its header and tag")
    head = bytearray()
    for piece in pieces:
        if len(head) == HEADER_SIZE:
            break
        head += memoryview(piece)[: HEADER_SIZE - len(head)]
    if bytes(head[: len(MAGIC)]) != MAGIC:
        raise DecryptionError("sealed data does not start with the SM4-GCM v1 header")
    dec = Cipher(algorithms.SM4(key), modes.GCM(bytes(head[len(MAGIC) :]))).decryptor()
    dec.authenticate_additional_data(aad)
    end = total - TAG_SIZE  # the ciphertext is [HEADER_SIZE, end) of the whole
    out = bytearray(end - HEADER_SIZE)
    into = memoryview(out)
    tag = bytearray()
    at = pos = 0  # offset of ``piece`` in the whole; bytes written to ``out``
    for piece in pieces:
        view = memoryview(piece)
        lo, hi = max(at, HEADER_SIZE), min(at + len(view), end)
        if lo < hi:
            n = dec.update_into(view[lo - at : hi - at], into[pos:])
            if n and on_piece is not None:
                on_piece(into[pos : pos + n])
            pos += n
        if at + len(view) > end:
            tag += view[max(end - at, 0) :]
        at += len(view)
    try:
        dec.finalize_with_tag(bytes(tag))
    except InvalidTag:
        raise DecryptionError(
            "SM4-GCM tag does not verify (wrong key, AAD, or altered ciphertext)"
        ) from None
    if pos != len(out):  # pragma: no cover - GCM writes as many bytes as it reads
        raise DecryptionError(f"decrypted {pos} bytes of {len(out)}")
    return out


def decrypt(key: bytes, aad: bytes, sealed: bytes) -> bytes:
    """Open ``sealed`` in one piece; nothing is returned unless the tag verifies."""
    return b"".join(decrypt_stream(key, aad, (sealed,)))


def gcm_raw(key: bytes, nonce: bytes, aad: bytes, plaintext: bytes) -> tuple[bytes, bytes]:
    """Unframed SM4-GCM (ciphertext, tag): used only to check the RFC 8998 vector."""
    enc = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(aad)
    ct = enc.update(plaintext) + enc.finalize()
    return ct, enc.tag


def ecb_block(key: bytes, block: bytes) -> bytes:
    """One raw SM4 block encryption: used only for the GB/T 32907 known-answer test."""
    enc = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()
