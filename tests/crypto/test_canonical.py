"""Canonical JSON is RFC 8785 and refuses what cannot be signed unambiguously."""

import pytest

from notary.canonical import CanonicalJSONError, canonical_json, parse_json


def test_keys_sorted_by_utf16_and_no_whitespace() -> None:
    assert canonical_json({"b": 1, "a": [True, None], "中": "档案"}) == (
        '{"a":[true,null],"b":1,"中":"档案"}'.encode()
    )


def test_rfc8785_key_ordering_example() -> None:
    # RFC 8785 §3.2.3: sorting is by UTF-16 code units, not code points.
    doc = {"\u20ac": 1, "\r": 2, "\ufb33": 3, "1": 4, "\U0001f600": 5, "\u0080": 6, "\u00f6": 7}
    keys = list(parse_json(canonical_json(doc)).keys())
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


@pytest.mark.parametrize("bad", [1.5, {"a": float("nan")}, {1: "x"}, 2**60, b"bytes"])
def test_refuses_values_without_a_single_encoding(bad: object) -> None:
    with pytest.raises(CanonicalJSONError):
        canonical_json(bad)


@pytest.mark.parametrize("text", ['{"a":1,"a":2}', "{", '{"a": NaN}'])
def test_strict_parsing(text: str) -> None:
    with pytest.raises(CanonicalJSONError):
        parse_json(text)
