"""Strict field readers shared by the workflow's document parsers.

Each reader takes the parsed JSON object, the field name and an ``error`` factory,
so that a notice reports a :class:`NoticeError` and an envelope an
:class:`EnvelopeDocError` with the same precise wording.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, NoReturn

from notary.crypto import is_hex_digest
from transfer.workflow.times import TimeFormatError, parse_utc

ErrorFactory = Callable[[str], Exception]

# Identifiers name files in the bag (data/materials/<id>.sm4), so they are restricted
# to characters that are safe on every file system and in a tar header.
IDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def fail(error: ErrorFactory, message: str) -> NoReturn:
    raise error(message)


def obj(value: Any, where: str, error: ErrorFactory) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        fail(error, f"{where} must be a JSON object")
    return value


def exact_keys(
    value: Mapping[str, Any], where: str, required: set[str], error: ErrorFactory,
    optional: frozenset[str] = frozenset(),
) -> None:  # fmt: skip
    missing = required - set(value)
    if missing:
        fail(error, f"{where} lacks {sorted(missing)}")
    unknown = set(value) - required - optional
    if unknown:
        fail(error, f"{where} has unknown fields {sorted(unknown)}")


def text(value: Mapping[str, Any], name: str, error: ErrorFactory, *, max_len: int = 200) -> str:
    """Non-empty, trimmed text without control characters (it lands in bag-info.txt lines)."""
    v = value.get(name)
    if not isinstance(v, str) or not v:
        fail(error, f"{name} must be a non-empty string")
    if len(v) > max_len:
        fail(error, f"{name} is longer than {max_len} characters")
    if v != v.strip() or CONTROL.search(v):
        fail(error, f"{name} must not have surrounding spaces or control characters")
    return v


def ident(value: Mapping[str, Any], name: str, error: ErrorFactory) -> str:
    v = value.get(name)
    if not isinstance(v, str) or not IDENT.fullmatch(v):
        fail(error, f"{name} must be 1-64 characters of A-Z a-z 0-9 . _ - (got {v!r:.80})")
    return v


def hex64(value: Mapping[str, Any], name: str, error: ErrorFactory) -> str:
    v = value.get(name)
    if not is_hex_digest(v):
        fail(error, f"{name} must be 64 lowercase hex digits")
    return v


def hexbytes(value: Mapping[str, Any], name: str, error: ErrorFactory, max_len: int) -> bytes:
    v = value.get(name)
    if not isinstance(v, str) or len(v) % 2 or len(v) > 2 * max_len or not v:
        fail(error, f"{name} must be non-empty lowercase hex of at most {max_len} bytes")
    if v != v.lower():
        fail(error, f"{name} must be lowercase hex")
    try:
        return bytes.fromhex(v)
    except ValueError:
        fail(error, f"{name} is not hex")


def integer(
    value: Mapping[str, Any], name: str, error: ErrorFactory, *, low: int = 0,
    high: int = 2**53 - 1,
) -> int:  # fmt: skip
    v = value.get(name)
    if not isinstance(v, int) or isinstance(v, bool) or not low <= v <= high:
        fail(error, f"{name} must be an integer in [{low}, {high}]")
    return v


def boolean(value: Mapping[str, Any], name: str, error: ErrorFactory) -> bool:
    v = value.get(name)
    if not isinstance(v, bool):
        fail(error, f"{name} must be true or false")
    return v


def time(value: Mapping[str, Any], name: str, error: ErrorFactory) -> datetime:
    v = value.get(name)
    if not isinstance(v, str):
        fail(error, f"{name} must be an RFC 3339 UTC time string")
    try:
        return parse_utc(v)
    except TimeFormatError as e:
        fail(error, f"{name}: {e}")


def array(
    value: Mapping[str, Any], name: str, error: ErrorFactory, *, max_len: int, min_len: int = 0
) -> list[Any]:
    v = value.get(name)
    if not isinstance(v, list) or not min_len <= len(v) <= max_len:
        fail(error, f"{name} must be a list of {min_len} to {max_len} items")
    return v
