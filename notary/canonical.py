"""Canonical JSON: the JSON Canonicalization Scheme (RFC 8785).

The one encoding used for everything that is hashed or signed. Floats are refused:
every number in a signed document is an integer, so no two implementations can
disagree on its serialisation.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

from notary._internal.jsondepth import too_deep
from notary.errors import NotaryError


class CanonicalJSONError(NotaryError, ValueError):
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


def parse_json(data: bytes | str) -> Any:
    """Parse JSON strictly: duplicate keys, non-finite numbers and nesting deeper than
    :func:`~notary._internal.jsondepth.too_deep` allows are errors."""

    def no_dupes(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in pairs:
            if k in out:
                raise CanonicalJSONError(f"duplicate key {k!r}")
            out[k] = v
        return out

    def no_constant(name: str) -> Any:
        raise CanonicalJSONError(f"non-finite number {name}")

    if too_deep(data):  # json.loads would overflow the C stack (notary/_internal/jsondepth.py)
        raise CanonicalJSONError("malformed JSON: nested too deeply")
    try:
        return json.loads(data, object_pairs_hook=no_dupes, parse_constant=no_constant)
    except json.JSONDecodeError as e:
        raise CanonicalJSONError(f"malformed JSON: {e}") from e
