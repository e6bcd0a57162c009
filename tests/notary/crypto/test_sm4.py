"""SM4 (GB/T 32907-2016) and SM4-GCM (RFC 8998): vectors, streaming and tampering."""

import pytest

from notary.crypto import sm4
from notary.crypto.errors import DecryptionError


def test_gbt32907_block_vector() -> None:
    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    assert sm4.ecb_block(key, key).hex() == "681edf34d206965e86b3e94f536e4246"


def test_rfc8998_sm4_gcm_vector() -> None:
    key = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    iv = bytes.fromhex("00001234567800000000ABCD")
    aad = bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
    pt = bytes.fromhex(
        "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
        "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA"
    )
    ct, tag = sm4.gcm_raw(key, iv, aad, pt)
    assert ct.hex().upper() == (
        "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
        "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
    )
    assert tag.hex().upper() == "83DE3541E4C2B58177E065A9BF7B62EC"


def test_round_trip_whole_and_streamed() -> None:
    key, aad = sm4.new_key(), b"material-1|" + b"\x11" * 32
    data = bytes(range(256)) * 5000
    sealed = sm4.encrypt(key, aad, data)
    assert len(sealed) == len(data) + sm4.OVERHEAD
    assert sm4.decrypt(key, aad, sealed) == data
    pieces = [sealed[i : i + 777] for i in range(0, len(sealed), 777)]
    assert b"".join(sm4.decrypt_stream(key, aad, pieces)) == data
    streamed = b"".join(
        sm4.encrypt_stream(key, aad, (data[i : i + 999] for i in range(0, len(data), 999)))
    )
    assert sm4.decrypt(key, aad, streamed) == data


def test_nonce_is_fresh_per_encryption() -> None:
    key = sm4.new_key()
    assert sm4.encrypt(key, b"", b"same") != sm4.encrypt(key, b"", b"same")


def test_empty_plaintext_round_trips() -> None:
    key = sm4.new_key()
    assert sm4.decrypt(key, b"a", sm4.encrypt(key, b"a", b"")) == b""


@pytest.fixture(scope="module")
def sealed() -> tuple[bytes, bytes, bytes]:
    key, aad = sm4.new_key(), b"aad"
    return key, aad, sm4.encrypt(key, aad, b"personnel archive material " * 3)


def test_every_flipped_bit_is_rejected(sealed: tuple[bytes, bytes, bytes]) -> None:
    key, aad, blob = sealed
    for i in range(len(blob)):
        for bit in (0, 7):
            bad = bytearray(blob)
            bad[i] ^= 1 << bit
            with pytest.raises(DecryptionError):
                sm4.decrypt(key, aad, bytes(bad))


def test_wrong_key_aad_or_truncation_is_rejected(sealed: tuple[bytes, bytes, bytes]) -> None:
    key, aad, blob = sealed
    with pytest.raises(DecryptionError, match="tag"):
        sm4.decrypt(sm4.new_key(), aad, blob)
    with pytest.raises(DecryptionError, match="tag"):
        sm4.decrypt(key, aad + b"x", blob)
    with pytest.raises(DecryptionError):
        sm4.decrypt(key, aad, blob[:-1])
    with pytest.raises(DecryptionError, match="shorter"):
        sm4.decrypt(key, aad, blob[:10])
    with pytest.raises(DecryptionError, match="key must be"):
        sm4.decrypt(key[:8], aad, blob)


@pytest.mark.parametrize("size", [1, 15, 16, 17, 4096])
def test_any_chunking_around_the_tag_decrypts(size: int) -> None:
    key, aad = sm4.new_key(), b"aad"
    data = bytes(range(256)) * 40
    sealed = sm4.encrypt(key, aad, data)
    pieces = [sealed[i : i + size] for i in range(0, len(sealed), size)]
    assert b"".join(sm4.decrypt_stream(key, aad, pieces)) == data
    pieces[-1] = bytes([pieces[-1][0] ^ 1]) + pieces[-1][1:]  # inside the tag
    with pytest.raises(DecryptionError):
        b"".join(sm4.decrypt_stream(key, aad, pieces))


@pytest.mark.parametrize("size", [1, 5, 16, 17, 33, 4096, 1 << 20])
def test_decrypt_pieces_in_place_matches_decrypt_for_any_split(size: int) -> None:
    """The verified read's path: the store's blocks decrypted in place, header and tag
    anywhere across pieces; every region seen once, in order; the same refusals."""
    key, aad = sm4.new_key(), b"aad"
    data = bytes(range(256)) * 40
    sealed = sm4.encrypt(key, aad, data)
    pieces = [sealed[i : i + size] for i in range(0, len(sealed), size)]
    seen: list[bytes] = []
    out = sm4.decrypt_pieces(key, aad, pieces, on_piece=lambda v: seen.append(bytes(v)))
    assert isinstance(out, bytearray) and out == data and b"".join(seen) == data
    for i in (0, 5, 17, len(sealed) // 2, len(sealed) - 17, len(sealed) - 1):
        bad = bytearray(sealed)
        bad[i] ^= 1
        split = [bytes(bad[j : j + size]) for j in range(0, len(bad), size)]
        with pytest.raises(DecryptionError):
            sm4.decrypt_pieces(key, aad, split)
    with pytest.raises(DecryptionError, match="tag"):
        sm4.decrypt_pieces(sm4.new_key(), aad, pieces)
    with pytest.raises(DecryptionError, match="shorter"):
        sm4.decrypt_pieces(key, aad, [sealed[:10], sealed[10:20]])
    assert sm4.decrypt_pieces(key, b"a", [sm4.encrypt(key, b"a", b"")]) == b""
