"""Canonical JSON is RFC 8785 and refuses what cannot be signed unambiguously."""

from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

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


_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) - 2, max_value=2**53 + 2)
    | st.text()
    | st.text(alphabet=st.characters(max_codepoint=0x3F))  # controls, quotes, backslash
    | st.sampled_from(["\ud800", "\udfff", "a\ud83dz", "\x7f", "\u2028", "\ufeff", "😀"])
)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(
            st.text(max_size=4) | st.sampled_from(["\ue000", "\U0001f600", "a", "\u20ac"]),
            inner,
            max_size=5,
        )
    ),
    max_leaves=25,
)


def _rfc8785_outcome(value: object) -> tuple[str, object]:
    from notary import canonical

    try:
        canonical._check(value)
        return ("ok", rfc8785.dumps(value))  # type: ignore[arg-type]
    except (CanonicalJSONError, rfc8785.CanonicalizationError) as e:
        return ("error", type(e).__name__)


def _outcome(value: object) -> tuple[str, object]:
    try:
        return ("ok", canonical_json(value))
    except CanonicalJSONError as e:
        return ("error", "CanonicalizationError" if "UTF-8" in str(e) else type(e).__name__)


@settings(max_examples=500, deadline=None)
@given(_json_values)
def test_fast_encoder_is_rfc8785_exactly(value: object) -> None:
    """The C-encoder path gives the pure-Python RFC 8785 encoder's bytes (or its error)
    on values of every kind: non-ASCII and astral keys, controls, lone surrogates,
    integers at and beyond the I-JSON bounds, tuples, nesting."""
    assert _outcome(value) == _rfc8785_outcome(value)


def test_entries_take_the_fast_path() -> None:
    from notary import canonical

    entry: dict[str, Any] = {
        "v": 1,
        "type": "material_registered",
        "title": '干部档案\n"x"',
        "size": 2**53 - 1,
    }
    assert canonical._plain(entry)
    assert canonical_json(entry) == rfc8785.dumps(entry)
    assert not canonical._plain({"中": 1})
    assert canonical_json({"中": 1}) == rfc8785.dumps({"中": 1})


def _strict_decode(data: bytes) -> tuple[str, object]:
    """``decode_entry`` before its fast path: the strict reader, then the canonical check."""
    from notary.entries import encode_entry
    from notary.errors import FormatError

    try:
        obj = parse_json(data)
    except (CanonicalJSONError, UnicodeDecodeError) as e:
        return ("error", f"entry bytes are not JSON: {e}")
    if not isinstance(obj, dict):
        return ("error", "an entry is a JSON object")
    try:
        if encode_entry(obj) != data:
            return ("error", "entry bytes are not in canonical form")
    except FormatError as e:
        return ("error", str(e))
    return ("ok", obj)


def _decode(data: bytes) -> tuple[str, object]:
    from notary.entries import decode_entry
    from notary.errors import FormatError

    try:
        return ("ok", decode_entry(data))
    except FormatError as e:
        return ("error", str(e))


_ENTRY = canonical_json(
    {"v": 1, "type": "material.registered", "material_id": "m-1", "sm3": "ab" * 32,
     "cid": "bafy", "size": 7, "time_ms": 1_700_000_000_000, "title": "干部档案"}
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, len(_ENTRY)), st.binary(max_size=3), st.integers(0, 3)),
        max_size=3,
    )
)
def test_decode_entry_fast_path_is_the_strict_reading(edits: list[tuple[int, bytes, int]]) -> None:
    """Entry bytes with bytes inserted, replaced or removed (duplicate keys, NaN, nesting,
    bad UTF-8, whitespace, big integers all within reach): the same object or error."""
    data = _ENTRY
    for at, insert, cut in edits:
        data = data[:at] + insert + data[at + cut :]
    for candidate in (data, data.replace(b'"size":7', b'"size":7,"size":7'),
                      data.replace(b"7", b"NaN"), data.replace(b"7", b"1e400")):  # fmt: skip
        assert _decode(candidate) == _strict_decode(candidate)
