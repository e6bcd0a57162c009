"""Usage errors (typer's click exceptions) as one Chinese line a clerk can act on.

Matched by class name and attributes, not imported classes: typer ships its own copy of
click (``typer._click``), and its module path is not a public API.
"""

from __future__ import annotations

import re
from typing import Any

_RANGE = (
    (re.compile(r"less than or equal to (\S+)"), "不能大于 {}"),
    (re.compile(r"greater than or equal to (\S+)"), "不能小于 {}"),
    (re.compile(r"valid integer"), "须为整数"),
    (re.compile(r"valid number"), "须为数字"),
    (re.compile(r"does not exist"), "不存在"),
    (re.compile(r"is not one of|not a valid choice"), "不是可选的值"),
)


def _param_name(e: Any) -> str:
    param = getattr(e, "param", None)
    if param is None:
        return ""
    opts = getattr(param, "opts", None) or []
    return str(opts[0] if opts else getattr(param, "name", "") or "")


def usage_zh(e: BaseException) -> str:
    """The usage error in Chinese; the command's --help is the next step."""
    kind = type(e).__name__
    raw = e.format_message() if hasattr(e, "format_message") else str(e)
    hint = "（用 --help 查看用法）"
    if kind == "NoSuchOption":
        return f"没有这个选项：{getattr(e, 'option_name', '') or raw}{hint}"
    if kind == "MissingParameter":
        name = _param_name(e)
        what = "选项" if name.startswith("-") else "参数"
        return f"缺少{what} {name}{hint}"
    if kind == "BadParameter":
        said = next((zh.format(*m.groups()) for rx, zh in _RANGE if (m := rx.search(raw))), "")
        return f"{_param_name(e)} 的值无效{('：' + said) if said else ''}{hint}"
    m = re.match(r"No such command '([^']*)'", raw)
    if m:
        return f"没有这个命令：{m.group(1)}{hint}"
    m = re.match(r"Got unexpected extra arguments? \((.*)\)", raw)
    if m:
        return f"多余的参数：{m.group(1)}{hint}"
    m = re.match(r"Option '([^']*)' requires an argument", raw)
    if m:
        return f"选项 {m.group(1)} 须带一个值{hint}"
    return f"用法错误{hint}：{raw}"
