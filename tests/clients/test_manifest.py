"""Manifests made in a spreadsheet (clients/manifest.py): Chinese or English headers,
UTF-8, GBK/GB18030 or UTF-16 (detected), dates with or without the day."""

from __future__ import annotations

import pytest

from clients.manifest import (
    ManifestError,
    columns,
    decode,
    delimiter,
    parse_date,
    template,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1998-07-01", "1998-07-01"),
        ("1998-07", "1998-07-01"),  # month only: registered as the 1st
        ("1998.07.01", "1998-07-01"),
        ("1998.7", "1998-07-01"),
        ("1998/7/1", "1998-07-01"),  # a spreadsheet's own date format
        ("1998年7月1日", "1998-07-01"),
        ("1998年7月", "1998-07-01"),
        (" 2001-12-31 ", "2001-12-31"),
    ],
)
def test_formation_dates_in_the_forms_clerks_write(value: str, expected: str) -> None:
    assert parse_date(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [("1998-13-01", "不存在"), ("1998-02-30", "不存在"), ("98-07-01", "1998-07"), ("", "须为")],
)
def test_bad_dates_are_refused_in_chinese(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_date(value)


def test_chinese_and_english_headers_map_to_the_same_fields() -> None:
    zh = columns(["文件", "类号", "顺序号", "题名", "形成日期", "页数"])
    en = columns(["file", "category", "seq_no", "title", "formation_date", "pages"])
    assert zh == en
    assert columns(["文件名", "类别", "材料名称", "形成时间", "页码"]) == [
        "file", "category", "title", "formation_date", "pages",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (["文件", "类号", "题名"], "缺少列 形成日期、页数"),
        (["文件", "类号", "题名", "形成日期", "页数", "颜色"], "未知的列 颜色"),
        (["文件", "file", "类号", "题名", "形成日期", "页数"], "列重复 文件"),
    ],
)
def test_header_problems_name_the_column_as_written(header: list[str], message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        columns(header)


def test_encodings_are_detected() -> None:
    text = "文件,类号,题名,形成日期,页数\r\n履历.pdf,1,干部履历表,1998-07,2\r\n"
    for encoding, name in (
        ("utf-8", "UTF-8"),
        ("utf-8-sig", "UTF-8"),
        ("gbk", "GBK/GB18030"),
        ("gb18030", "GBK/GB18030"),
        ("utf-16", "UTF-16"),
    ):
        assert decode(text.encode(encoding)) == (text, name), encoding
    with pytest.raises(ManifestError, match="编码无法识别"):
        decode(b"\xff\xfe\x00")


def test_delimiters_of_the_spreadsheet_exports() -> None:
    assert delimiter("文件,类号") == ","
    assert delimiter("文件\t类号") == "\t"
    assert delimiter("文件;类号") == ";"


def test_the_template_is_a_manifest_this_module_reads() -> None:
    lines = template().splitlines()
    assert columns(lines[0].split(",")) == [
        "file", "category", "seq_no", "title", "formation_date", "pages",
    ]  # fmt: skip
    assert parse_date(lines[1].split(",")[4]) == "1998-07-01"
