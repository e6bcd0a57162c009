"""Canonical JSON: the JSON Canonicalization Scheme (RFC 8785).

The one encoding used for everything that is hashed or signed. Floats are refused:
every number in a signed document is an integer, so no two implementations can
disagree on its serialisation.
"""

from __future__ import annotations

import json
import re
from typing import Any

import rfc8785


class CanonicalJSONError(ValueError):
    """The value cannot be canonically encoded."""


def _check(value: Any, path: str = "$") -> None:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if abs(value) > 2**53 - 1:
            raise CanonicalJSONError(f"{path}: integer outside the I-JSON range")
        return
    if isinstance(value, float):
        raise CanonicalJSONError(f"{path}: floats are not allowed in canonical documents")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise CanonicalJSONError(f"{path}: object keys must be strings")
            _check(v, f"{path}.{k}")
        return
    if isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check(v, f"{path}[{i}]")
        return
    raise CanonicalJSONError(f"{path}: {type(value).__name__} is not a JSON value")


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical UTF-8 encoding of ``value``."""
    _check(value)
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as e:  # pragma: no cover - _check covers the cases
        raise CanonicalJSONError(str(e)) from e


# Deeper than any document this project reads (receipts, acts, notices: < 10 levels).
MAX_DEPTH = 64
# A JSON string (escapes included) or one bracket: what nesting depth is counted from.
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def _check_depth(data: bytes | str) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH` before the C parser sees it: it
    recurses on the C stack up to the interpreter's recursion limit, which py-evm's
    ``py_ecc`` raises to 100,000 on import — far past what the stack holds, so a few
    kilobytes of ``[`` would crash the whole process instead of raising."""
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return
    depth = 0
    for m in _TOKENS.finditer(raw):
        t = m.group()[:1]
        if t in (b"[", b"{"):
            depth += 1
            if depth > MAX_DEPTH:
                raise CanonicalJSONError(f"nesting deeper than {MAX_DEPTH} levels")
        elif t in (b"]", b"}"):
            depth -= 1


def parse_json(data: bytes | str) -> Any:
    """Parse JSON strictly: duplicate keys, non-finite numbers and nesting deeper than
    :data:`MAX_DEPTH` are errors."""

    def no_dupes(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in pairs:
            if k in out:
                raise CanonicalJSONError(f"duplicate key {k!r}")
            out[k] = v
        return out

    def no_constant(name: str) -> Any:
        raise CanonicalJSONError(f"non-finite number {name}")

    _check_depth(data)
    try:
        return json.loads(data, object_pairs_hook=no_dupes, parse_constant=no_constant)
    except json.JSONDecodeError as e:
        raise CanonicalJSONError(f"malformed JSON: {e}") from e
