"""SM3 behaves as GB/T 32905-2016 specifies, whole and streamed."""

import io
import subprocess

import pytest

from notary.crypto import is_hex_digest, sm3, sm3_file, sm3_stream
from notary.crypto.sm3 import SM3


def test_gbt32905_example_1_abc() -> None:
    assert sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"


def test_gbt32905_example_2_64_bytes() -> None:
    assert (
        sm3(b"abcd" * 16).hex()
        == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    )


@pytest.mark.parametrize("size", [0, 1, 63, 64, 65, (1 << 20) - 1, (1 << 20) + 7])
def test_streaming_equals_one_shot(size: int) -> None:
    data = bytes(range(256)) * (size // 256 + 1)
    data = data[:size]
    assert sm3_stream(io.BytesIO(data), chunk_size=4096) == sm3(data)
    h = SM3()
    for i in range(0, size, 1000):
        h.update(data[i : i + 1000])
    assert h.digest() == sm3(data)


def test_file_digest_matches_openssl_cli(tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "m.bin"
    f.write_bytes(b"\x00\x01" * 300_000)
    out = subprocess.run(
        ["openssl", "dgst", "-sm3", "-r", str(f)], capture_output=True, check=True, text=True
    ).stdout
    assert sm3_file(f).hex() == out.split()[0]


def test_independent_pure_python_sm3_agrees() -> None:
    from gmssl import func
    from gmssl import sm3 as gm_sm3

    msg = "档案".encode() * 100
    assert gm_sm3.sm3_hash(func.bytes_to_list(msg)) == sm3(msg).hex()


def test_a_digest_is_written_as_64_lower_case_hex_digits_and_nothing_else() -> None:
    digest = sm3(b"abc").hex()
    assert is_hex_digest(digest)
    for near in (
        digest.upper(),
        digest + "\n",
        "\n" + digest,
        " " + digest,
        "0x" + digest,
        digest[:-1],
        digest + "0",
        digest[:-1] + "g",
        digest.encode(),
        None,
        int(digest, 16),
    ):
        assert not is_hex_digest(near), near
