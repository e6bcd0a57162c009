"""Every read verifies: a tampered store, a wrong key or a substituted ciphertext
returns nothing and names the failed check — on the local store and on a real node."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from notary.checkpoint import sign_checkpoint
from notary.crypto import SM2PrivateKey, sm3
from notary.entries import decode_entry, encode_entry, material_registered
from notary.envelope import seal, wrap_key
from notary.errors import VerificationError
from notary.log import MerkleLog
from notary.reader import MaterialRecord, read_verified
from notary.receipts import EvidenceReceipt, build_receipt
from notary.store import CHUNK_SIZE, ContentStore, KuboStore, LocalStore, StoreUnavailable

MARKER = b"PLAINTEXT-MARKER-"


def plaintext(n_chunks: float, label: bytes) -> bytes:
    size = int(n_chunks * CHUNK_SIZE)
    return (MARKER + label + os.urandom(32)) * (size // (len(MARKER) + len(label) + 32) + 1)


class Fixture:
    def __init__(self, store: ContentStore) -> None:
        self.store = store
        self.unit = SM2PrivateKey.generate()
        self.log_key = SM2PrivateKey.generate()
        self.log = MerkleLog()
        self.records: dict[str, MaterialRecord] = {}
        self.entries: dict[str, tuple[int, dict[str, object]]] = {}

    def ingest(self, material_id: str, data: bytes) -> MaterialRecord:
        sealing = seal(io.BytesIO(data), material_id)
        cid = self.store.put(b"".join(sealing.sealed))
        sealing.check()
        record = MaterialRecord(
            material_id, sealing.sm3, cid, wrap_key(sealing.data_key, self.unit.public_key)
        )
        entry = material_registered(
            material_id=material_id, sm3_hex=sealing.sm3.hex(), cid=cid, size=len(data),
            category="3", volume="v", unit="U", version=1, time_ms=1,
        )  # fmt: skip
        index = self.log.append(encode_entry(entry))
        self.records[material_id] = record
        self.entries[material_id] = (index, entry)
        return record

    def receipt(self, material_id: str) -> EvidenceReceipt:
        index, entry = self.entries[material_id]
        cp = sign_checkpoint(self.log_key, "o", self.log.size, self.log.root(), 1)
        return build_receipt(
            decode_entry(encode_entry(entry)),
            index,
            self.log.inclusion_proof(index),
            cp,
            self.log_key.public_key,
        )

    def read(self, record: MaterialRecord, receipt_of: str | None = None) -> bytes:
        return read_verified(
            self.store,
            record,
            self.unit,
            receipt=self.receipt(receipt_of or record.material_id),
            log_keys=[self.log_key.public_key],
        ).content


def expect(check: str, fn: Callable[[], object]) -> None:
    with pytest.raises(VerificationError) as info:
        fn()
    assert info.value.check == check, f"{info.value!r} names {info.value.check}, not {check}"


@pytest.fixture
def local(tmp_path: Path) -> Fixture:
    return Fixture(LocalStore(tmp_path / "blocks"))


def test_clean_reads_return_the_plaintext(local: Fixture) -> None:
    for i, n in enumerate([0.001, 1, 2.5]):
        data = plaintext(n, str(i).encode())
        assert local.read(local.ingest(f"m{i}", data)) == data


def test_no_plaintext_is_kept_on_disk(local: Fixture, tmp_path: Path) -> None:
    local.ingest("m", plaintext(2.2, b"secret"))
    for path in (tmp_path / "blocks").rglob("*"):
        if path.is_file():
            assert MARKER not in path.read_bytes(), path


def _blocks(local: Fixture, record: MaterialRecord) -> list[Path]:
    store = local.store
    assert isinstance(store, LocalStore)
    return [p for p in store.root.rglob("*") if p.is_file() and "pins" not in p.parts]


def test_flipped_byte_in_a_stored_block_is_refused(local: Fixture) -> None:
    record = local.ingest("m", plaintext(2.5, b"a"))
    block = max(_blocks(local, record), key=lambda p: p.stat().st_size)
    raw = bytearray(block.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    block.write_bytes(bytes(raw))
    expect("content", lambda: local.read(record))


def test_truncated_block_is_refused(local: Fixture) -> None:
    record = local.ingest("m", plaintext(2.5, b"a"))
    block = max(_blocks(local, record), key=lambda p: p.stat().st_size)
    block.write_bytes(block.read_bytes()[:-100])
    expect("content", lambda: local.read(record))


def test_swapped_blocks_are_refused(local: Fixture) -> None:
    record = local.ingest("m", plaintext(2.5, b"a"))
    big = sorted(_blocks(local, record), key=lambda p: p.stat().st_size)[-2:]
    a, b = (p.read_bytes() for p in big)
    big[0].write_bytes(b)
    big[1].write_bytes(a)
    expect("content", lambda: local.read(record))


def test_missing_content_is_refused(local: Fixture) -> None:
    record = local.ingest("m", plaintext(0.5, b"a"))
    for p in _blocks(local, record):
        p.unlink()
    expect("content", lambda: local.read(record))


def test_wrong_data_key_is_refused(local: Fixture) -> None:
    a = local.ingest("a", plaintext(0.3, b"a"))
    b = local.ingest("b", plaintext(0.3, b"b"))
    expect("envelope", lambda: local.read(replace(a, wrapped_key=b.wrapped_key)))


def test_key_wrapped_for_another_unit_is_refused(local: Fixture) -> None:
    a = local.ingest("a", plaintext(0.3, b"a"))
    other = SM2PrivateKey.generate().public_key
    rewrapped = replace(a, wrapped_key=wrap_key(os.urandom(16), other))
    expect("envelope", lambda: local.read(rewrapped))


def test_wrong_aad_is_refused(local: Fixture) -> None:
    # Same ciphertext and key, presented as another material id or another SM3.
    a = local.ingest("a", plaintext(0.3, b"a"))
    local.entries["x"] = local.entries["a"]
    expect("envelope", lambda: local.read(replace(a, material_id="x"), receipt_of="a"))
    expect("envelope", lambda: local.read(replace(a, sm3=sm3(b"other"))))


def test_valid_ciphertext_of_another_material_is_refused(local: Fixture) -> None:
    a = local.ingest("a", plaintext(0.3, b"a"))
    b = local.ingest("b", plaintext(0.3, b"b"))
    # Pointing a's record at b's ciphertext with b's key: the AAD binds a's id and SM3.
    expect("envelope", lambda: local.read(replace(a, cid=b.cid, wrapped_key=b.wrapped_key)))


def test_entry_of_another_material_is_refused(local: Fixture) -> None:
    a = local.ingest("a", plaintext(0.3, b"a"))
    local.ingest("b", plaintext(0.3, b"b"))
    expect("entry", lambda: local.read(a, receipt_of="b"))


@pytest.mark.node
def test_verified_reads_through_a_real_ipfs_node(kubo: KuboStore) -> None:
    f = Fixture(kubo)
    data = plaintext(1.5, b"node")
    a = f.ingest("a", data)
    b = f.ingest("b", plaintext(0.2, b"other"))
    assert f.read(a) == data
    expect("envelope", lambda: f.read(replace(a, cid=b.cid, wrapped_key=b.wrapped_key)))
    expect("envelope", lambda: f.read(replace(a, wrapped_key=b.wrapped_key)))
    assert MARKER not in kubo.get(a.cid)


def test_a_node_that_is_down_is_an_outage_not_a_verdict(local: Fixture) -> None:
    record = local.ingest("a", plaintext(0.2, b"a"))
    down = Fixture(KuboStore("http://127.0.0.1:9", timeout=1.0))
    down.unit, down.log_key, down.log, down.entries = (
        local.unit,
        local.log_key,
        local.log,
        local.entries,
    )
    with pytest.raises(StoreUnavailable):
        down.read(record)
