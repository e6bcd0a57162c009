"""The transfer notice (转递通知单): canonical, strict, and consistent with itself."""

from __future__ import annotations

import contextlib
import copy
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notary.canonical import canonical_json
from tests._support.transfer_package import make_notice, materials, seal_all
from transfer.workflow.errors import NoticeError
from transfer.workflow.notice import VolumeKind, notice_from_bytes, parse_notice

ITEMS = materials(5)
seal_all(ITEMS)
NOTICE = make_notice(ITEMS)
DOC = NOTICE.to_json()


def test_round_trip_is_canonical_and_exact() -> None:
    data = NOTICE.to_bytes()
    assert data == canonical_json(DOC)
    assert notice_from_bytes(data) == NOTICE
    assert NOTICE.material_count == 5
    assert NOTICE.volume_counts() == {VolumeKind.ORIGINAL: 1, VolumeKind.COPY: 1}


def test_non_canonical_bytes_are_refused() -> None:
    import json

    with pytest.raises(NoticeError, match="canonical"):
        notice_from_bytes(json.dumps(DOC, ensure_ascii=False, indent=1).encode())


def _mutated(path: list[Any], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(DOC)
    target: Any = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["format"], "archive-notary/transfer-notice/v2", "unknown format"),
        (["cadre"], "张三", "cadre must be 64 lowercase hex"),
        (["material_count"], 4, "material_count is 4"),
        (["volumes", 0, "material_count"], 9, "declares 9 materials"),
        (["volumes", 0, "kind"], "正副本", "正本 or 副本"),
        (["materials", 1, "material_id"], "m000", "listed twice"),
        (["materials", 0, "volume_id"], "vol-x", "volumes not in the notice"),
        (["materials", 0, "category"], "11", "ten categories"),
        (["materials", 0, "material_id"], "../etc", "material_id must be"),
        (["receiver", "code"], "unit-a", "same unit"),
        (["deadline"], "2025-02-01T00:00:00Z", "deadline must be after"),
        (["created_at"], "2025-03-01 08:00:00", "RFC 3339"),
        (["classification"], "绝密", "绝密 may not be transferred"),
        (["classification"], "secret", "公开/内部/秘密/机密"),
        (["reason"], "调动\n其他", "control characters"),
        (["transfer_no"], "", "non-empty"),
        (["extra"], 1, "unknown fields"),
    ],
)
def test_each_inconsistency_is_a_notice_error(path: list[Any], value: Any, message: str) -> None:
    with pytest.raises(NoticeError, match=message):
        parse_notice(_mutated(path, value))


def test_the_constructor_enforces_the_parser_rules() -> None:
    with pytest.raises(NoticeError, match="same unit"):
        replace(NOTICE, receiver=NOTICE.sender)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes_only_raise_notice_error(data: bytes) -> None:
    with pytest.raises(NoticeError):
        notice_from_bytes(data)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(DOC)), json_values)
def test_mutated_field_never_crashes(field: str, value: Any) -> None:
    doc = copy.deepcopy(DOC)
    doc[field] = value
    with contextlib.suppress(NoticeError):
        parse_notice(doc)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(NOTICE.to_bytes()) - 1), st.integers(0, 255))
def test_byte_flips_never_crash(pos: int, byte: int) -> None:
    data = bytearray(NOTICE.to_bytes())
    data[pos] = byte
    with contextlib.suppress(NoticeError):
        assert notice_from_bytes(bytes(data)) is not None
