"""Evidence receipts verify offline, and every alteration is named by the check it fails."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest

from notary.checkpoint import parse_signed_checkpoint, sign_checkpoint
from notary.crypto import SM2PrivateKey, sm3
from notary.entries import blind_id, encode_entry, material_registered
from notary.errors import (
    CheckpointSignatureError,
    EntryMismatch,
    FormatError,
    InclusionError,
    UntrustedKey,
    VerificationError,
)
from notary.log import MerkleLog
from notary.receipts import AnchorRef, build_receipt, parse_receipt, verify_offline

ORIGIN = "centre-a.archives.example/log"


def _entry(i: int) -> dict[str, Any]:
    return material_registered(
        material_id=f"m-{i}",
        sm3_hex=sm3(f"material {i}".encode()).hex(),
        cid="bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
        size=1000 + i,
        category="4-1",
        volume=blind_id(b"s" * 32, "cadre-1"),
        unit="unit-a",
        version=1,
        time_ms=1_763_000_000_000 + i,
    )


@pytest.fixture(scope="module")
def log_key() -> SM2PrivateKey:
    return SM2PrivateKey.generate()


@pytest.fixture(scope="module")
def receipts(log_key: SM2PrivateKey) -> list[dict[str, Any]]:
    log = MerkleLog()
    entries = [_entry(i) for i in range(13)]
    for e in entries:
        log.append(encode_entry(e))
    cp = sign_checkpoint(log_key, ORIGIN, log.size, log.root(), 1_763_000_001_000)
    anchor = AnchorRef(1337, "0x" + "ab" * 20, "0x" + "cd" * 32, 42)
    return [
        build_receipt(e, i, log.inclusion_proof(i), cp, log_key.public_key, anchor).to_json()
        for i, e in enumerate(entries)
    ]


def roundtrip(doc: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(doc))
    return out


def test_every_receipt_verifies_with_its_material(
    receipts: list[dict[str, Any]], log_key: SM2PrivateKey
) -> None:
    for i, doc in enumerate(receipts):
        r = parse_receipt(roundtrip(doc))
        res = verify_offline(
            r, material_sm3=sm3(f"material {i}".encode()), trusted_log_keys=[log_key.public_key]
        )
        assert (res.leaf_index, res.tree_size, res.key_pinned) == (i, 13, True)


def test_other_material_is_an_entry_mismatch(receipts: list[dict[str, Any]]) -> None:
    with pytest.raises(EntryMismatch, match="differs"):
        verify_offline(parse_receipt(receipts[0]), material_sm3=sm3(b"forged degree certificate"))


def test_unpinned_key_is_reported_and_wrong_pin_refused(receipts: list[dict[str, Any]]) -> None:
    r = parse_receipt(receipts[3])
    assert verify_offline(r).key_pinned is False
    with pytest.raises(UntrustedKey):
        verify_offline(r, trusted_log_keys=[SM2PrivateKey.generate().public_key])


def _flip_b64(sig: str) -> str:
    raw = bytearray(base64.b64decode(sig))
    raw[20] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def _mutations(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any], type[VerificationError]]]:
    out: list[tuple[str, dict[str, Any], type[VerificationError]]] = []

    def mutate(name: str, fn: Any, err: type[VerificationError]) -> None:
        d = copy.deepcopy(doc)
        fn(d)
        out.append((name, d, err))

    def flip_hex(s: str, pos: int = 0) -> str:
        return s[:pos] + ("0" if s[pos] != "0" else "1") + s[pos + 1 :]

    mutate(
        "entry sm3", lambda d: d["entry"].update(sm3=flip_hex(d["entry"]["sm3"])), InclusionError
    )
    mutate("entry unit", lambda d: d["entry"].update(unit="unit-x"), InclusionError)
    mutate("leaf index", lambda d: d.update(leaf_index=d["leaf_index"] + 1), InclusionError)
    mutate("index beyond size", lambda d: d.update(leaf_index=99), InclusionError)
    for k in range(len(doc["inclusion_proof"])):
        mutate(
            f"proof[{k}]",
            lambda d, k=k: d["inclusion_proof"].__setitem__(
                k, flip_hex(d["inclusion_proof"][k], 7)
            ),
            InclusionError,
        )
    mutate("proof dropped", lambda d: d["inclusion_proof"].pop(), InclusionError)
    mutate("proof extended", lambda d: d["inclusion_proof"].append("00" * 32), InclusionError)
    mutate(
        "checkpoint root",
        lambda d: d["checkpoint"]["checkpoint"].update(
            root=flip_hex(d["checkpoint"]["checkpoint"]["root"])
        ),
        CheckpointSignatureError,
    )
    mutate(
        "checkpoint size",
        lambda d: d["checkpoint"]["checkpoint"].update(tree_size=14),
        CheckpointSignatureError,
    )
    mutate(
        "checkpoint time",
        lambda d: d["checkpoint"]["checkpoint"].update(timestamp_ms=1),
        CheckpointSignatureError,
    )
    mutate(
        "signature",
        lambda d: d["checkpoint"].update(signature=_flip_b64(d["checkpoint"]["signature"])),
        CheckpointSignatureError,
    )
    mutate(
        "swapped log key",
        lambda d: d.update(log_public_key=SM2PrivateKey.generate().public_key.raw.hex()),
        UntrustedKey,
    )
    mutate(
        "unknown version",
        lambda d: d.update(format="archive-notary/evidence-receipt/v9"),
        FormatError,
    )
    mutate("extra field", lambda d: d.update(note="trust me"), FormatError)
    mutate(
        "origin changed",
        lambda d: d["checkpoint"]["checkpoint"].update(origin="other"),
        FormatError,
    )
    mutate("bad anchor tx", lambda d: d["anchor"].update(tx_hash="0x12"), FormatError)
    mutate("bool index", lambda d: d.update(leaf_index=True), FormatError)
    return out


def test_every_alteration_is_rejected_by_the_right_check(receipts: list[dict[str, Any]]) -> None:
    for name, doc, err in _mutations(receipts[5]):
        with pytest.raises(err):
            verify_offline(parse_receipt(doc))
        assert issubclass(err, VerificationError), name


def test_checkpoint_json_round_trips(
    receipts: list[dict[str, Any]], log_key: SM2PrivateKey
) -> None:
    cp = parse_signed_checkpoint(receipts[0]["checkpoint"])
    cp.verify(log_key.public_key)
    assert cp.to_json() == receipts[0]["checkpoint"]


@pytest.mark.parametrize("doc", [None, [], "x", {"format": "archive-notary/evidence-receipt/v1"}])
def test_malformed_documents_are_format_errors(doc: Any) -> None:
    with pytest.raises(FormatError):
        parse_receipt(doc)
