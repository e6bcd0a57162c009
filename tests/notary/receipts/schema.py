"""docs/receipt.schema.json as a test helper: every receipt the suite's services issue
is checked against it (and against the strict reader) where the tests obtain one."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from notary.receipts import EvidenceReceipt, parse_receipt

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "docs" / "receipt.schema.json"


@functools.cache
def validator(definition: str = "receipt") -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return Draft202012Validator({**schema, "$ref": f"#/$defs/{definition}"})


def checked_receipt(doc: Any) -> EvidenceReceipt:
    """``doc`` (a receipt as JSON, or its bytes) validates against the schema and reads
    strictly; the parsed receipt."""
    data = doc if isinstance(doc, bytes) else json.dumps(doc, ensure_ascii=False).encode()
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator().iter_errors(
        json.loads(data)
    )]  # fmt: skip
    assert not errors, errors
    return parse_receipt(data)
