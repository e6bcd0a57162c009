"""The one strict reading of a receipt (``notary.receipts.parse_receipt``, issue 21):
from its bytes, a document means one thing to every reader or is a ``format`` error."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from notary.checkpoint import sign_checkpoint
from notary.crypto import SM2PrivateKey, sm3
from notary.entries import (
    blind_id,
    custody_event,
    encode_entry,
    material_read,
    material_registered,
    transfer_event,
)
from notary.errors import FormatError
from notary.log import MerkleLog
from notary.receipts import AnchorRef, build_receipt, parse_receipt, verify_offline

KEY = SM2PrivateKey.generate()
VOLUME = blind_id(b"s" * 32, "volume:1")
ENTRIES: list[dict[str, Any]] = [
    material_registered(
        material_id="m-1", sm3_hex=sm3(b"m").hex(), cid="bafkreia", size=1, category="1",
        volume=VOLUME, unit="U1", version=1, time_ms=1,
    ),
    custody_event(event="registered", volume=VOLUME, time_ms=2, to_unit="U1"),
    transfer_event(event="dispatch", transfer_id="tr-1", state="dispatched", time_ms=3,
                   package_root="ab" * 32, tx=["0x" + "cd" * 32]),
    material_read(material_id="m-1", unit="U2", purpose="审核", time_ms=4),
]  # fmt: skip


def _receipts() -> list[dict[str, Any]]:
    log = MerkleLog()
    for e in ENTRIES:
        log.append(encode_entry(e))
    cp = sign_checkpoint(KEY, "strict/log", log.size, log.root(), 5)
    anchor = AnchorRef(1337, "0x" + "ab" * 20, "0x" + "cd" * 32, 9)
    return [
        build_receipt(e, i, log.inclusion_proof(i), cp, KEY.public_key, anchor).to_json()
        for i, e in enumerate(ENTRIES)
    ]


RECEIPTS = _receipts()


def _format_error(doc: Any, **kw: Any) -> FormatError:
    with pytest.raises(FormatError) as caught:
        parse_receipt(doc, **kw)
    assert caught.value.check == "format"
    return caught.value


def test_every_entry_shape_reads_from_bytes_and_verifies() -> None:
    for doc in RECEIPTS:
        receipt = parse_receipt(json.dumps(doc).encode())
        verify_offline(receipt, trusted_log_keys=[KEY.public_key])
        assert receipt.entry == doc["entry"] and receipt.anchor is not None


@pytest.mark.parametrize(
    ("where", "key"),
    [("top", "leaf_index"), ("entry", "time_ms"), ("checkpoint", "signature"),
     ("anchor", "block_number"), ("inner checkpoint", "tree_size")],
)  # fmt: skip
def test_a_repeated_key_anywhere_is_a_format_error(where: str, key: str) -> None:
    doc = RECEIPTS[0]
    text = json.dumps(doc)
    value = {
        "top": doc,
        "entry": doc["entry"],
        "checkpoint": doc["checkpoint"],
        "anchor": doc["anchor"],
        "inner checkpoint": doc["checkpoint"]["checkpoint"],
    }[where][key]
    field = f'"{key}": {json.dumps(value)}'
    assert text.count(field) == 1
    # The wrong copy first, the right one last: a last-wins reader sees a valid receipt.
    twice = text.replace(field, f'"{key}": 0, {field}')
    assert json.loads(twice) == doc
    assert "duplicate key" in str(_format_error(twice.encode()))


def test_a_missing_or_null_anchor_is_a_format_error() -> None:
    doc = RECEIPTS[0]
    assert "'anchor'" in str(_format_error({k: v for k, v in doc.items() if k != "anchor"}))
    assert "null" in str(_format_error(json.dumps({**doc, "anchor": None}).encode()))


def test_a_pending_proof_is_read_only_where_it_is_labelled_pending() -> None:
    doc = RECEIPTS[1]
    pending = {**doc, "anchor": None}
    assert parse_receipt(pending, pending=True).anchor is None
    _format_error(pending)
    _format_error(doc, pending=True)  # a pending answer carrying an anchor is malformed
    _format_error({k: v for k, v in doc.items() if k != "anchor"}, pending=True)


def test_integers_beyond_i_json_are_format_errors_as_in_the_schema() -> None:
    doc = RECEIPTS[0]
    for bad in (
        {**doc, "leaf_index": 2**53},
        {**doc, "anchor": {**doc["anchor"], "block_number": 2**53}},
        {**doc, "anchor": {**doc["anchor"], "chain_id": 2**53}},
    ):
        _format_error(bad)


def test_not_strict_json_is_a_format_error() -> None:
    for data in (b'{"format": NaN}', b"{", b"\xff\xfe", b"[" * 100_000, b""):
        _format_error(data)


def _entry_variants() -> list[tuple[str, dict[str, Any]]]:
    reg, volume_event, step, read = (copy.deepcopy(e) for e in ENTRIES)
    return [
        ("unknown field", {**reg, "note": "x"}),
        ("null optional field", {**reg, "supersedes": None}),
        ("missing required field", {k: v for k, v in read.items() if k != "purpose"}),
        ("wrong type", {**reg, "size": "1"}),
        ("bool for an integer", {**reg, "version": True}),
        ("size below zero", {**reg, "size": -1}),
        ("unknown category", {**reg, "category": "11"}),
        ("uppercase hex", {**reg, "sm3": reg["sm3"].upper()}),
        # A regular expression's $ also matches before a final newline; JSON Schema's does not.
        ("hex and a final newline", {**reg, "sm3": reg["sm3"] + "\n"}),
        ("volume and a final newline", {**volume_event, "volume": VOLUME + "\n"}),
        ("tx and a final newline", {**step, "tx": ["0x" + "cd" * 32 + "\n"]}),
        ("unknown volume event", {**volume_event, "event": "lost"}),
        ("unknown transfer step", {**step, "event": "transfer.teleport"}),
        ("unknown transfer state", {**step, "state": "lost"}),
        ("transfer tx a string", {**step, "tx": "0x" + "cd" * 32}),
        ("empty tx list", {**step, "tx": []}),
        ("volume event tx a list", {**volume_event, "tx": ["0x" + "cd" * 32]}),
        ("transfer step field on a volume event", {**volume_event, "state": "created"}),
        ("reserved type", {"type": "transfer.receipt", "v": 1}),
        ("version 2", {**read, "v": 2}),
        ("version true", {**read, "v": True}),
        ("empty purpose", {**read, "purpose": ""}),
    ]


@pytest.mark.parametrize(("name", "entry"), _entry_variants())
def test_an_entry_of_no_v1_shape_is_a_format_error(name: str, entry: dict[str, Any]) -> None:
    _format_error({**RECEIPTS[0], "entry": entry})


def test_a_log_key_with_a_final_newline_is_a_format_error() -> None:
    doc = {**RECEIPTS[0], "log_public_key": RECEIPTS[0]["log_public_key"] + "\n"}
    assert "log_public_key" in str(_format_error(doc))


def test_v1_entry_bytes_are_unchanged() -> None:
    """The reading is stricter; the bytes are not: v1 entries encode as before (the
    worked examples of docs/receipt-format.md pin more of them)."""
    assert encode_entry(ENTRIES[1]) == (
        b'{"event":"registered","time_ms":2,"to":"U1","type":"custody.event","v":1,'
        b'"volume":"' + VOLUME.encode() + b'"}'
    )


@pytest.mark.slow
def test_deep_nesting_is_a_format_error_even_under_py_evms_recursion_limit() -> None:
    """py-evm's py_ecc raises the recursion limit to 100,000 when the embedded chain is
    imported; the C JSON parser would then overflow the C stack (a crash, not an error)
    on a few kilobytes of ``[``. The reader refuses such nesting first. In a child
    process, so that a regression crashes it and not the test run."""
    code = (
        "import sys; sys.setrecursionlimit(100_000)\n"
        "from notary.errors import FormatError\n"
        "from notary.receipts import parse_receipt\n"
        "for doc in (b'[' * 200_000, '{\"a\":' * 100_000):\n"
        "    try:\n"
        "        parse_receipt(doc)\n"
        "    except FormatError as e:\n"
        "        print(e.check)\n"
    )
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)}, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.split() == ["format", "format"]
