"""The ingest manifest as staff make it in a spreadsheet: pure functions, no I/O.

A CSV (or tab-separated text) whose header names the columns in English or Chinese;
encoded UTF-8 (with or without the BOM Excel writes), GBK/GB18030 (Excel's default
"CSV" on a Chinese Windows) or UTF-16 (Excel's "Unicode text"), detected from the bytes;
formation dates as YYYY-MM-DD, YYYY-MM, YYYY.MM.DD, YYYY/M/D or 1998年7月1日. A date
with a month only (common for old materials) is registered as the 1st of that month:
the service stores a calendar date (docs/clients.md says so).
"""

from __future__ import annotations

import datetime as dt
import re

REQUIRED = ("file", "category", "title", "formation_date", "pages")
OPTIONAL = ("seq_no",)

# Column name → field. English names as before; the Chinese ones as the 干部人事档案
# 材料目录 calls them, with the variants clerks write.
HEADER_ALIASES: dict[str, str] = {
    **{name: name for name in REQUIRED + OPTIONAL},
    "文件": "file",
    "文件名": "file",
    "文件名称": "file",
    "类号": "category",
    "类别": "category",
    "分类号": "category",
    "题名": "title",
    "材料题名": "title",
    "材料名称": "title",
    "标题": "title",
    "形成日期": "formation_date",
    "形成时间": "formation_date",
    "日期": "formation_date",
    "页数": "pages",
    "页码": "pages",
    "顺序号": "seq_no",
    "序号": "seq_no",
}

# The Chinese header of the template, in order.
TEMPLATE_HEADER_ZH = ("文件", "类号", "顺序号", "题名", "形成日期", "页数")
TEMPLATE_EXAMPLE = ("干部履历表.pdf", "1", "", "干部履历表", "1998-07-01", "2")


class ManifestError(ValueError):
    """The manifest as a whole cannot be read (encoding, header)."""


def decode(data: bytes) -> tuple[str, str]:
    """The manifest's text and the encoding it was read in."""
    unreadable = ManifestError("清单编码无法识别：请在表格软件中另存为“CSV UTF-8”或 GBK 编码的 CSV")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError:
            raise unreadable from None
    try:
        return data.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        # GB18030 is a superset of GBK and GB2312: any of them reads right.
        return data.decode("gb18030"), "GBK/GB18030"
    except UnicodeDecodeError:
        raise unreadable from None


def delimiter(first_line: str) -> str:
    """Tab for Excel's "Unicode text", semicolon where the list separator is one,
    comma otherwise."""
    if "," in first_line:
        return ","
    if "\t" in first_line:
        return "\t"
    return ";" if ";" in first_line else ","


def columns(header: list[str]) -> list[str]:
    """Map the header's names to fields; a missing, unknown or repeated column is an
    error naming it as the clerk wrote it."""
    fields: list[str] = []
    unknown: list[str] = []
    for raw in header:
        name = raw.strip().strip("\ufeff")
        field = HEADER_ALIASES.get(name) or HEADER_ALIASES.get(name.lower())
        if field is None:
            unknown.append(name or "（空列名）")
        fields.append(field or "")
    if unknown and not any(fields):
        # Nothing recognised: a different encoding or not a manifest at all.
        raise ManifestError(
            f"清单表头无法识别（第一行为：{'、'.join(unknown)[:60]}）：第一行须为列名"
            f"（{'、'.join(TEMPLATE_HEADER_ZH)}），文件须为 UTF-8 或 GBK 编码的 CSV"
        )
    if unknown:
        raise ManifestError(
            f"清单格式错误：未知的列 {'、'.join(unknown)}"
            f"（可用的列：{'、'.join(TEMPLATE_HEADER_ZH)}，或 {', '.join(REQUIRED + OPTIONAL)}）"
        )
    repeated = sorted({f for f in fields if fields.count(f) > 1})
    if repeated:
        raise ManifestError(f"清单格式错误：列重复 {'、'.join(_zh(f) for f in repeated)}")
    missing = [f for f in REQUIRED if f not in fields]
    if missing:
        raise ManifestError(
            f"清单格式错误：缺少列 {'、'.join(_zh(f) for f in missing)}"
            f"（须有 {'、'.join(_zh(f) for f in REQUIRED)}，顺序号可选）"
        )
    return fields


_ZH = {"file": "文件", "category": "类号", "title": "题名", "formation_date": "形成日期",
       "pages": "页数", "seq_no": "顺序号"}  # fmt: skip


def _zh(field: str) -> str:
    return _ZH.get(field, field)


_DATE = re.compile(
    r"^(?P<y>\d{4})\s*[-./年]\s*(?P<m>\d{1,2})\s*(?:[-./月]\s*(?P<d>\d{1,2})\s*日?|月)?$"
)


def parse_date(value: str) -> str:
    """A formation date as YYYY-MM-DD; ValueError (in Chinese) otherwise."""
    m = _DATE.match(value.strip())
    if m is None:
        raise ValueError(f"形成日期须为 1998-07-01、1998-07 或 1998.07.01 的形式：{value!r}")
    day = int(m["d"]) if m["d"] else 1
    try:
        return dt.date(int(m["y"]), int(m["m"]), day).isoformat()
    except ValueError:
        raise ValueError(f"形成日期不存在：{value!r}") from None


def template() -> str:
    """A manifest template: the Chinese header and one example row (CRLF, as
    spreadsheets write CSV). Written with a UTF-8 BOM so that Excel opens it right."""
    rows = [",".join(TEMPLATE_HEADER_ZH), ",".join(TEMPLATE_EXAMPLE)]
    return "\r\n".join(rows) + "\r\n"
