"""CID helpers: parse with ``multiformats`` at the edges, binary CIDs on the hot paths.

Only sha2-256 is accepted: it is what Kubo and js-ipfs use by default, and a
store that cannot recompute a hash cannot verify the block behind it.

Inside the stores a CID travels as its binary form (``bytes``). The reason is
measured, not taste: multiformats validates through typing-validation, whose
internally caught exceptions cost ~60-180 us per ``CID.decode``/``raw_digest``
and leave reference cycles that keep the calling frames (with their 256 KiB
blocks) alive until the cyclic GC runs. The binary forms this project handles
are fixed-shape (CIDv1 raw/dag-pb + sha2-256 = 36 bytes, CIDv0 = 34 bytes), so
they are checked by hand; anything else goes through multiformats and its errors.
"""

from __future__ import annotations

import functools
import hashlib
import re

from multiformats import CID

from notary.store.base import ContentIntegrityError, InvalidCIDError

RAW = 0x55
DAG_PB = 0x70
SHA2_256 = 0x12
SUPPORTED_CODECS = frozenset({RAW, DAG_PB})
_SHA256_PREFIX = b"\x12\x20"  # multihash: sha2-256, 32-byte digest


def parse_cid(value: str | bytes | CID) -> CID:
    """Parse a CID (text v0/v1 in any multibase, binary, or object) and check it is verifiable."""
    if isinstance(value, CID):
        cid = value
    else:
        try:
            cid = CID.decode(value)
        except Exception as exc:  # multiformats raises several unrelated types
            raise InvalidCIDError(f"not a CID: {value!r} ({exc})") from exc
    if cid.hashfun.code != SHA2_256:
        raise InvalidCIDError(f"{cid}: hash {cid.hashfun.name} is not supported (only sha2-256)")
    if cid.codec.code not in SUPPORTED_CODECS:
        raise InvalidCIDError(f"{cid}: codec {cid.codec.name} is not supported (raw, dag-pb)")
    return cid


def _is_fast_form(b: bytes) -> bool:
    if len(b) == 36:
        return b[0] == 1 and b[1] in SUPPORTED_CODECS and b[2:4] == _SHA256_PREFIX
    return len(b) == 34 and b[:2] == _SHA256_PREFIX


# RFC 4648 base32 (lowercase) as the digits of Python's int(..., 32), and back.
_B32_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_TO_INT_DIGITS = str.maketrans(_B32_ALPHABET, "0123456789abcdefghijklmnopqrstuv")
_CIDV1_B32 = re.compile(r"b[a-z2-7]{58}")
_TRIPLES = [a + b + c for a in _B32_ALPHABET for b in _B32_ALPHABET for c in _B32_ALPHABET]


@functools.lru_cache(maxsize=8)
def _b32_layout(size: int) -> tuple[int, int, tuple[int, ...]]:
    """For ``size`` bytes: letters, left shift to whole triples, each triple's shift."""
    bits = size * 8
    letters = -(-bits // 5)
    triples = -(-letters // 3)
    shift = triples * 15 - bits
    return letters, shift, tuple(15 * (triples - 1 - i) for i in range(triples))


def _b32(data: bytes) -> str:
    """``base64.b32encode(data)``, lowercase and unpadded (that one is pure Python in
    3.11, ~15 us for a CID): 15 bits (three letters) at a time from one integer."""
    letters, shift, shifts = _b32_layout(len(data))
    n = int.from_bytes(data, "big") << shift
    return "".join([_TRIPLES[(n >> s) & 0x7FFF] for s in shifts])[:letters]


def _from_base32(text: str) -> bytes | None:
    """The binary form of a canonical base32 CIDv1 text (``b`` + 58 lowercase letters)
    that is one this store can verify; None for anything else, which then goes through
    multiformats (its result and its errors). ``CID.decode`` of a string costs hundreds
    of microseconds (typing-validation); this is a few. Exact: the 58 letters carry
    290 bits, 288 of them the 36 bytes; with the last 2 bits zero the text is the one
    canonical encoding of those bytes, the only text multiformats also reads as them."""
    if len(text) != 59 or not _CIDV1_B32.fullmatch(text):
        return None
    n = int(text[1:].translate(_TO_INT_DIGITS), 32)
    if n & 3:  # bits past the last byte: not the canonical encoding
        return None
    binary = (n >> 2).to_bytes(36, "big")
    return binary if _is_fast_form(binary) else None


def to_binary(value: str | bytes | CID) -> bytes:
    """The binary CID of ``value``, checked to be one this store can verify."""
    if isinstance(value, bytes) and _is_fast_form(value):
        return value
    if isinstance(value, str):
        fast = _from_base32(value)
        if fast is not None:
            return fast
    binary = bytes(parse_cid(value))
    if not _is_fast_form(binary):  # e.g. a truncated sha2-256 digest
        raise InvalidCIDError(f"{value!r}: only full 32-byte sha2-256 digests are supported")
    return binary


def to_v1(cid: bytes) -> bytes:
    """The CIDv1 of a checked binary CID (a CIDv0 is dag-pb over the same multihash)."""
    return bytes((1, DAG_PB)) + cid if len(cid) == 34 else cid


def codec_of(cid: bytes) -> int:
    return DAG_PB if len(cid) == 34 else cid[1]  # CIDv0 is always dag-pb


def digest_of(cid: bytes) -> bytes:
    """The 32-byte sha2-256 digest a (checked) binary CID names."""
    return cid[-32:]


def cid_str(cid: bytes | CID) -> str:
    """Canonical text: base32 (``b...``) for CIDv1, base58btc for CIDv0 (its only form)."""
    if isinstance(cid, bytes) and len(cid) == 36:
        return "b" + _b32(cid)
    parsed = CID.decode(cid) if isinstance(cid, bytes) else cid
    return str(parsed.set(base="base32")) if parsed.version == 1 else str(parsed)


def binary_cid(codec: int, block: bytes) -> bytes:
    """The binary CIDv1 of ``block`` under ``codec`` (raw or dag-pb), hashed with sha2-256."""
    return bytes((1, codec)) + _SHA256_PREFIX + hashlib.sha256(block).digest()


def make_cid(codec: int, block: bytes) -> CID:
    """Like binary_cid, as a multiformats CID object (for callers outside hot paths)."""
    return CID.decode(binary_cid(codec, block)).set(base="base32")


def verify_block(cid: bytes, block: bytes) -> None:
    """Raise ContentIntegrityError unless sha2-256(block) is the digest ``cid`` names."""
    actual = hashlib.sha256(block).digest()
    expected = digest_of(cid)
    if actual != expected:
        raise ContentIntegrityError(
            cid_str(cid),
            f"sha2-256 of its {len(block)} bytes is {actual.hex()}, the CID says {expected.hex()}",
        )


def multihash_key(cid: bytes) -> str:
    """Block key independent of codec and CID version: base32 (lower, unpadded) multihash.

    Keying by multihash like Kubo's blockstore means a raw block and a dag-pb block
    with the same bytes are stored once.
    """
    return _b32(_SHA256_PREFIX + digest_of(cid))
