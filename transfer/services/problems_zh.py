"""Validation problems in the words of archive staff.

A 422 problem's ``detail`` is a Chinese sentence naming each invalid field as staff
call it and what is wrong with it (填写有误，请检查：转递编号（不能为空）；…); its
``errors`` list stays machine-readable for developers (``loc``, ``msg``, ``type`` as
pydantic gives them) with two members added per error: ``field`` (the field's name in
Chinese) and ``message`` (what is wrong, in Chinese). Inputs are never echoed: a value
may be a cadre's identity number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from transfer.services.errors import Unprocessable

# Fields of the API's request bodies as staff call them (the CLI's and the console's
# table too: clients/vocabulary.py re-exports it, console.js FIELD_ZH is checked
# against it by tests/console/test_vocabulary.py).
FIELD_ZH: dict[str, str] = {
    "cadre_identifier": "干部身份证号（或建档标识）",
    "cadre_name": "干部姓名",
    "kind": "正本/副本",
    "receiver": "接收单位代码",
    "transfer_no": "转递编号",
    "reason": "转递原因",
    "volume_ids": "案卷",
    "classification": "密级",
    "category": "类号",
    "seq_no": "顺序号",
    "pages": "页码",
    "title": "题名",
    "formation_date": "形成日期",
    "file": "文件",
    "code": "单位代码",
    "name": "单位名称",
    "label": "经办人/用途",
    "role": "角色",
    "detail": "理由",
    "reasons": "理由",
    "public_key": "单位公钥",
    "note": "附言",
    "sm3": "SM3 摘要",
    "receipt": "证据回执",
    "purpose": "利用目的",
}

_CHINESE = range(0x4E00, 0xA000)


def has_chinese(text: str) -> bool:
    return any(ord(ch) in _CHINESE for ch in text)


def _limit(ctx: Mapping[str, Any], key: str) -> str:
    value = ctx.get(key)
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else ""


def message_zh(error: Mapping[str, Any]) -> str:
    """What is wrong with one field, in Chinese (from pydantic's error type; a check of
    our own that already speaks Chinese is kept as it says it)."""
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") if isinstance(error.get("ctx"), Mapping) else {}
    assert isinstance(ctx, Mapping)
    msg = str(error.get("msg", ""))
    if kind == "value_error":
        text = msg.removeprefix("Value error, ")
        return text if has_chinese(text) else "填写不正确"
    if kind == "missing":
        return "必须填写"
    if kind == "string_too_short":
        n = _limit(ctx, "min_length")
        return "不能为空" if n in ("", "1") else f"至少 {n} 个字符"
    if kind == "string_too_long":
        return f"最多 {_limit(ctx, 'max_length')} 个字符"
    if kind == "too_short":
        n = _limit(ctx, "min_length")
        return "至少选择一项" if n in ("", "1") else f"至少 {n} 项"
    if kind == "too_long":
        return f"最多 {_limit(ctx, 'max_length')} 项"
    if kind in ("greater_than_equal", "greater_than"):
        bound = _limit(ctx, "ge") or _limit(ctx, "gt")
        return f"须不小于 {bound}" if kind.endswith("equal") else f"须大于 {bound}"
    if kind in ("less_than_equal", "less_than"):
        bound = _limit(ctx, "le") or _limit(ctx, "lt")
        return f"须不大于 {bound}" if kind.endswith("equal") else f"须小于 {bound}"
    words = {
        "string_pattern_mismatch": "格式不对",
        "string_type": "须为文字",
        "int_parsing": "须为整数",
        "int_type": "须为整数",
        "int_from_float": "须为整数",
        "float_parsing": "须为数字",
        "bool_parsing": "须为是或否",
        "bool_type": "须为是或否",
        "enum": "不是可选的值之一",
        "literal_error": "不是可选的值之一",
        "uuid_parsing": "不是有效的编号（ID）",
        "uuid_type": "不是有效的编号（ID）",
        "date_parsing": "日期格式不对（如 1998-07-01）",
        "date_from_datetime_parsing": "日期格式不对（如 1998-07-01）",
        "date_type": "日期格式不对（如 1998-07-01）",
        "datetime_parsing": "时间格式不对",
        "json_invalid": "请求内容不是有效的 JSON",
        "extra_forbidden": "不是可填写的项目",
        "list_type": "须为列表",
        "dict_type": "格式不对",
        "model_attributes_type": "格式不对",
        "model_type": "格式不对",
        "url_parsing": "不是有效的网址",
    }
    return words.get(kind, "填写不正确")


def field_zh(loc: Sequence[Any]) -> str:
    """The field a ``loc`` points at, as staff call it (a list item by its position)."""
    parts = [x for x in loc if x not in ("body", "query", "path", "header", "form")]
    names = [x for x in parts if isinstance(x, str)]
    if not names:
        return "请求内容"
    name = FIELD_ZH.get(names[-1]) or (names[-1] if has_chinese(names[-1]) else "某一项")
    index = next((x for x in reversed(parts) if isinstance(x, int)), None)
    return name if index is None else f"{name}（第 {index + 1} 项）"


def validation_problem(errors: Sequence[Mapping[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """The Chinese ``detail`` and the ``errors`` list of a 422 problem."""
    out: list[dict[str, Any]] = []
    said: list[str] = []
    for e in errors:
        loc = list(e.get("loc", ()))
        field, message = field_zh(loc), message_zh(e)
        out.append(
            {
                "loc": loc,
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type")),
                "field": field,
                "message": message,
            }
        )
        part = f"{field}（{message}）"
        if part not in said:
            said.append(part)
    return f"填写有误，请检查：{'；'.join(said)}", out


def field_problem(errors: Sequence[Mapping[str, Any]], where: str = "body") -> Unprocessable:
    """The 422 ``Unprocessable`` of a model validated by hand (a multipart form, a body
    read raw): pydantic's errors with ``where`` prefixed to their ``loc``."""
    located = [{**e, "loc": [where, *e.get("loc", ())]} for e in errors]
    detail, out = validation_problem(located)
    return Unprocessable(detail, errors=out)
