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


_MAX_INT = 2**53 - 1
_SCALARS = frozenset({str, bool, type(None)})


def _plain(value: Any) -> bool:
    r"""Whether ``_encode_plain`` (the C JSON encoder) writes ``value`` exactly as
    RFC 8785 does: only the exact built-in JSON types, integers within I-JSON, and
    ASCII object keys (so that Python's code-point key order is RFC 8785's UTF-16
    order). For such values the two differ in nothing: the same separators, the same
    escapes (``"``, ``\``, ``\b``, ``\f``, ``\n``, ``\r``, ``\t``, other controls as
    lowercase ``\u00xx``, all else literal UTF-8) and the same integers; a lone
    surrogate fails to encode either way."""
    kind = type(value)
    if kind is dict:
        for k, v in value.items():
            if type(k) is not str or not k.isascii():
                return False
            # Scalars inline: an entry is a flat object, checked once per material read.
            vkind = type(v)
            if vkind is int:
                if not -_MAX_INT <= v <= _MAX_INT:
                    return False
            elif vkind not in _SCALARS and not _plain(v):
                return False
        return True
    if kind is int:
        return -_MAX_INT <= value <= _MAX_INT
    if kind is list or kind is tuple:
        return all(_plain(v) for v in value)
    return kind in _SCALARS


# The C encoder's settings, built once: ``json.dumps`` with any non-default argument
# constructs a new ``JSONEncoder`` per call, ~40% of the cost of encoding an entry.
_encode_plain = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical UTF-8 encoding of ``value``.

    Plain values (``_plain``: every entry, checkpoint and receipt this project signs)
    go through the C JSON encoder, ~4x faster than the pure-Python ``rfc8785`` (the
    audit encodes a few per material); anything else, and every error, through
    ``rfc8785``. tests/notary/crypto/test_canonical.py holds the two equal on generated values."""
    if _plain(value):
        try:
            return _encode_plain(value).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: rfc8785 names the error
            pass
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
