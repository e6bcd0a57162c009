"""查找案卷 by 姓名 or 身份证号 in the one search box of the volumes page: a clerk creates a
volume with the cadre's name, finds it by the name (spaces typed between the
characters do not matter) and by the 身份证号, names a volume registered without one,
sees two cadres of one name told apart, and is refused a name with a digit in
Chinese; another unit finds nothing. At 1440×900 and 390×844, no English visible.
"""

from __future__ import annotations

from typing import Any

from tests.console._server import Server, new_cadre
from tests.console._ui import css, css_all, screenshot, sign_in, visible, wait_status
from tests.console._words import english_words, no_sideways_scroll
from tests.console.test_work_pages import sized

__all__ = ["sized"]  # the fixture: the page at both widths

NAMES = {"desktop": "欧阳明远", "phone": "司马明辉"}


def _rows(page: Any) -> list[Any]:
    return css_all(page, "#volumes tbody tr")


def _search(page: Any, text: str, said: str) -> str:
    box = css(page, "#lookup-id")
    box.clear()
    box.send_keys(text)
    css(page, "#lookup").click()
    return wait_status(page, said)


def test_clerk_finds_volumes_by_name_or_identifier_in_one_box(
    sized: tuple[Any, str], server: Server
) -> None:
    page, size = sized
    name = NAMES[size]
    cadre, other_cadre = new_cadre(), new_cadre()
    sign_in(page, server, server.sender, next_page="volumes.html")
    visible(page, "#create-form")

    # A name with a digit is refused by the service, in Chinese; the field is marked.
    css(page, "#create-id").send_keys(cadre)
    css(page, "#create-name").send_keys(name + "2")
    css(page, "#create").click()
    wait_status(page, "干部姓名")
    assert "不能含数字" in css(page, "#status").text
    assert css(page, "#create-name").get_attribute("aria-invalid") == "true"
    assert not english_words(page), english_words(page)

    # 新建案卷 with the name: the new row shows it, 正本, 在库.
    css(page, "#create-name").clear()
    css(page, "#create-name").send_keys(name)
    css(page, "#create").click()
    wait_status(page, f"已建立正本案卷（{name}）")
    (row,) = _rows(page)
    main_id = row.get_attribute("data-volume-id")
    assert [c.text for c in css_all(row, "th, td")][:3] == [name, "正本", "在库"]

    # By name, typed with a space in it: that volume, its name shown.
    _search(page, f"{name[:2]} {name[2:]}", "按姓名找到 1 卷")
    (row,) = _rows(page)
    assert row.get_attribute("data-volume-id") == main_id and name in row.text
    # By 身份证号 in the same box: the same volume, named.
    _search(page, cadre, "按身份证号找到 1 卷")
    assert [r.get_attribute("data-volume-id") for r in _rows(page)] == [main_id]
    assert name in _rows(page)[0].text
    screenshot(page, f"volumes-find-by-name-{size}")

    # A 副本 of another cadre, registered without a name, is named from its row.
    css(page, "#create-id").send_keys(other_cadre)
    css(page, "#kind-copy").click()
    css(page, "#create").click()
    wait_status(page, "已建立副本案卷")
    (row,) = _rows(page)
    assert "未登记" in row.text
    css(row, 'button[data-action="name"]').click()
    field = visible(page, "#name-input")
    field.send_keys(name)
    css(page, "#name-save").click()
    wait_status(page, f"已登记干部姓名：{name}")
    assert not css(page, "#name-card").is_displayed()
    # Now the name answers two volumes of two cadres, told apart.
    said = _search(page, name, "按姓名找到 2 卷")
    assert "2 名同名干部" in said
    assert {r.text.split()[1] for r in _rows(page)} == {"正本", "副本"}
    assert not english_words(page), english_words(page)
    assert no_sideways_scroll(page)
    screenshot(page, f"volumes-same-name-{size}")

    # Nothing is found for a name the unit does not hold.
    _search(page, "查无此人", "未找到：本单位没有保管该姓名的干部的案卷")
    css(page, "#kind-main").click()

    # Another unit, searching the same name and 身份证号, finds nothing.
    sign_in(page, server, server.receiver, next_page="volumes.html")
    visible(page, "#lookup-form")
    _search(page, name, "未找到")
    _search(page, cadre, "未找到")
    assert name not in page.find_element("css selector", "body").text
    assert not english_words(page), english_words(page)
    assert no_sideways_scroll(page)
