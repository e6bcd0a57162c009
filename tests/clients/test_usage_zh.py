"""Usage errors are one Chinese line naming what is wrong and pointing to --help."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("transfer", "send", "t-1", "--bogus"), "没有这个选项：--bogus"),
        (("transfer", "send"), "缺少参数 transfer_id"),
        (("transfer", "create", "--to", "X"), "缺少选项 --volume"),
        (("ingest", "--jobs", "x"), "--jobs 的值无效：须为整数"),
        (("ingest", "--jobs", "99"), "--jobs 的值无效：不能大于 16"),
        (("ingest", "--volume"), "选项 --volume 须带一个值"),
        (("nosuch",), "没有这个命令：nosuch"),
    ],
)
def test_usage_errors_in_chinese(cli: Any, args: tuple[str, ...], message: str) -> None:
    r = cli(*args)
    assert r.code == 2
    assert r.err.count("\n") == 1 and "Traceback" not in r.err
    assert message in r.err and "--help" in r.err
