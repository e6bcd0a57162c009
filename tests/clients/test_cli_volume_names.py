"""``notary volume create --name``, ``volume find`` and ``volume name``: a clerk finds
the unit's volumes by 姓名 or 身份证号 and names the volumes registered without one,
through the real service; errors in Chinese."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from tests._support.served import Service


def _env(service: Service, unit: str = "UNIT-A") -> dict[str, str]:
    return {"NOTARY_URL": service.url, "NOTARY_API_KEY": service.keys[unit]}


def test_create_with_a_name_find_by_it_and_name_an_old_volume(
    service: Service, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = _env(service), _env(service, "UNIT-B")
    r = cli("volume", "create", "--cadre", "110101197205054441", "--name", "诸葛明远", env=a)
    assert r.code == 0, r.err
    assert "干部姓名：诸葛明远" in r.out
    named = r.out.split("案卷已建立：", 1)[1].split("（", 1)[0]
    r = cli("volume", "create", "--cadre", "110101197205054442", "--json", env=a)
    old = json.loads(r.out)["id"]

    r = cli("volume", "find", "--name", "诸葛 明远", env=a)
    assert r.code == 0, r.err
    assert "诸葛明远" in r.out and "正本" in r.out and "在库" in r.out and "共 1 卷" in r.out
    assert named in r.out
    # Another unit finds nothing, and is told nothing about who holds it.
    r = cli("volume", "find", "--name", "诸葛明远", "--json", env=b)
    assert r.code == 0 and json.loads(r.out) == []
    r = cli("volume", "find", "--name", "诸葛明远", env=b)
    assert "未找到" in r.out and "诸葛明远" not in r.out

    # The volume registered without a name gets one; then it is found by it.
    r = cli("volume", "name", old, "司马光远", env=a)
    assert r.code == 0 and "已登记为：司马光远" in r.out, r.err
    r = cli("volume", "list", env=a)
    assert "司马光远" in r.out and "诸葛明远" in r.out
    # Asked at the prompt: 18 characters of digits (and X) are a 身份证号, else a 姓名.
    monkeypatch.setattr("sys.stdin", io.StringIO("司马光远\n"))
    r = cli("volume", "find", "--json", env=a)
    assert [v["id"] for v in json.loads(r.out)] == [old], r.err
    monkeypatch.setattr("sys.stdin", io.StringIO("１１０１０１１９７２０５０５４４４２\n"))
    r = cli("volume", "find", "--json", env=a)
    assert [v["id"] for v in json.loads(r.out)] == [old], r.err

    # Another unit cannot name a volume it does not hold.
    r = cli("volume", "name", old, "张三", env=b)
    assert r.code == 1 and "404" in r.err
    r = cli("volume", "name", old, "--clear", env=a)
    assert r.code == 0 and "已删除" in r.out
    assert json.loads(cli("volume", "find", "--name", "司马光远", "--json", env=a).out) == []


def test_names_and_choices_are_refused_in_chinese(service: Service, cli: Any) -> None:
    a = _env(service)
    r = cli("volume", "find", "--name", "张三3", env=a)
    assert r.code == 1 and "干部姓名" in r.err and "不能含数字" in r.err, r.err
    r = cli("volume", "create", "--cadre", "110101197205054443", "--name", "<张三>", env=a)
    assert r.code == 1 and "干部姓名" in r.err and "符号" in r.err, r.err
    r = cli("volume", "find", "--cadre", "110101197205054441", "--name", "张三", env=a)
    assert r.code == 2 and "只能给出一个" in r.err
    r = cli("volume", "name", "3f1c0b7e-0000-4000-8000-000000000000", env=a)
    assert r.code == 2 and "二者选一" in r.err
    for r in (
        cli("volume", "find", "--name", "张三3", env=a),
        cli("volume", "name", "3f1c0b7e-0000-4000-8000-000000000000", "--clear", env=a),
    ):
        assert not any(w in r.err for w in ("field", "invalid", "Not Found", "Value error"))
