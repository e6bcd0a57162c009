"""The worked examples in docs/receipt-format.md are what the code writes and reads,
and docs/receipt.schema.json states the same shapes (the doc stays true)."""

import json
import re
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from notary.crypto import sm3
from notary.entries import (
    TRANSFER_STEPS,
    VOLUME_EVENTS,
    access_event,
    check_entry,
    custody_event,
    encode_entry,
    is_transfer_event,
    material_read,
    material_registered,
    transfer_event,
)
from notary.errors import FormatError
from notary.log.merkle import leaf_hash
from notary.receipts import parse_receipt, verify_offline

DOC = Path(__file__).resolve().parents[3] / "docs" / "receipt-format.md"


def test_worked_example_verifies_offline() -> None:
    text = DOC.read_text(encoding="utf-8")
    example = re.search(r"## 7\. Worked example.*?```json\n(.*?)```", text, re.S)
    assert example is not None
    receipt = parse_receipt(json.loads(example.group(1)))
    material = sm3(b"worked example material 1")
    assert material.hex() in text
    result = verify_offline(receipt, material_sm3=material)
    assert result.leaf_index == 1 and result.tree_size == 3
    leaf = leaf_hash(sm3, encode_entry(receipt.entry)).hex()
    assert f"`{leaf}`" in text
    assert encode_entry(receipt.entry).decode() in text


# --- §3: a worked example of every entry shape and every `event` value ---------------

SCHEMA = json.loads((DOC.parent / "receipt.schema.json").read_text(encoding="utf-8"))
_EXAMPLE = re.compile(
    r"```json\n(\{.*?\})\n```\n\n- canonical bytes: `(.*?)`\n- leaf hash: `([0-9a-f]{64})`", re.S
)


def _validator(definition: str) -> Draft202012Validator:
    return Draft202012Validator({**SCHEMA, "$ref": f"#/$defs/{definition}"})


def _section3() -> list[tuple[dict[str, Any], str, str]]:
    text = DOC.read_text(encoding="utf-8")
    body = text[text.index("## 3. Entries and leaves") : text.index("## 4. Checkpoints")]
    return [(json.loads(m[1]), m[2], m[3]) for m in _EXAMPLE.finditer(body)]


def _built_by_the_writer(entry: dict[str, Any]) -> dict[str, Any]:
    """What the service's own builder writes for the example's values."""
    e = dict(entry)
    kind = e.pop("type")
    assert e.pop("v") == 1
    if kind == "material.registered":
        e["sm3_hex"] = e.pop("sm3")
        return material_registered(**e)
    if kind == "material.read":
        return material_read(**e)
    if kind == "access.event":
        return access_event(**{"actor": None, **e})
    assert kind == "custody.event"
    if is_transfer_event(entry):
        e["event"] = e["event"].removeprefix("transfer.")
        return transfer_event(**e)
    renamed = {"from": "from_unit", "to": "to_unit"}
    return custody_event(**{renamed.get(k, k): v for k, v in e.items()})


def test_every_entry_example_is_checked_and_every_kind_has_one() -> None:
    examples = _section3()
    entries = _validator("entry")
    seen = set()
    for entry, canonical, leaf in examples:
        check_entry(entry)  # the strict reader's shapes
        errors = [e.message for e in entries.iter_errors(entry)]
        assert not errors, (entry, errors)
        assert _built_by_the_writer(entry) == entry
        assert encode_entry(entry).decode() == canonical
        assert leaf_hash(sm3, encode_entry(entry)).hex() == leaf
        seen.add((entry["type"], entry.get("event")))
    expected = {("material.registered", None), ("material.read", None), ("access.event", None)}
    expected |= {("custody.event", e) for e in VOLUME_EVENTS}
    expected |= {("custody.event", f"transfer.{s}") for s in TRANSFER_STEPS}
    assert seen == expected
    assert any("supersedes" in e for e, _, _ in examples)  # the optional fields shown
    assert any("package_root" in e and "tx" in e for e, _, _ in examples)


def test_the_schema_and_the_strict_reader_agree_on_every_shape() -> None:
    """Each example with one field removed, added, emptied or retyped: the schema and
    ``check_entry`` accept or refuse it together (the two statements of §3)."""
    entries = _validator("entry")
    variants = 0
    for entry, _, _ in _section3():
        candidates = [{**entry, "extra": 1}]
        for key in entry:
            candidates.append({k: v for k, v in entry.items() if k != key})
            for value in (None, "", 0, -1, True, [], "0x" + "ab" * 32, ["0x" + "ab" * 32]):
                candidates.append({**entry, key: value})
        for candidate in candidates:
            try:
                check_entry(candidate)
                strict = True
            except FormatError:
                strict = False
            assert entries.is_valid(candidate) is strict, candidate
            variants += 1
    assert variants > 1000


def test_the_worked_receipt_validates_against_the_schema() -> None:
    text = DOC.read_text(encoding="utf-8")
    example = re.search(r"## 7\. Worked example.*?```json\n(.*?)```", text, re.S)
    assert example is not None
    doc = json.loads(example.group(1))
    _validator("receipt").validate(doc)
    assert not _validator("receipt").is_valid({**doc, "anchor": None})
    assert not _validator("receipt").is_valid({k: v for k, v in doc.items() if k != "anchor"})
    _validator("pending_receipt").validate({**doc, "anchor": None})
    assert not _validator("pending_receipt").is_valid(doc)
