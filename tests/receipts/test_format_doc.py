"""The worked example in docs/receipt-format.md is a valid receipt (the doc stays true)."""

import json
import re
from pathlib import Path

from notary.crypto import sm3
from notary.entries import encode_entry
from notary.log.merkle import leaf_hash
from notary.receipts import parse_receipt, verify_offline

DOC = Path(__file__).resolve().parents[2] / "docs" / "receipt-format.md"


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
