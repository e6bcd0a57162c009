"""经办人, 催办 and the deployment's time zone, driven from sign-in as staff work.

The sending unit's clerk (张三) dispatches; the receiving unit's (李四) signs the receipt
after confirming it: both names are in the signed acts and on the transfer's page. A
transfer the receiver leaves unanswered is chased (催办) from the sender's page; the
receiver sees it in its inbox and on the transfer's page; a reminder of a transfer
that is not late is refused in Chinese. Times are the deployment's zone, labelled.
Every page at 1440×900 and 390×844, no English outside 详情.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests._support.api import Actor
from tests.console._server import Server, register_material
from tests.console._ui import (
    active,
    css,
    css_all,
    screenshot,
    sign_in,
    visible,
    wait_for,
    wait_status,
)
from tests.console._words import english_words, no_sideways_scroll
from tests.console.test_transfer_pages import _incoming_transfer, receiver_on_chain
from transfer.db.models import Unit
from transfer.db.types import utcnow
from transfer.roles import Role
from transfer.security import issue_api_key

__all__ = ["receiver_on_chain"]

SIZES = {"desktop": (1440, 900), "phone": (390, 844)}
SIZE_ZH = {"desktop": "宽屏", "phone": "手机"}  # in transfer numbers staff read


@pytest.fixture(params=list(SIZES))
def sized(request: pytest.FixtureRequest, page: Any) -> Iterator[tuple[Any, str]]:
    before = page.get_window_size()
    page.set_window_size(*SIZES[request.param])
    try:
        yield page, request.param
    finally:
        page.set_window_size(before["width"], before["height"])


def _steps(page: Any) -> dict[str, str]:
    """The transfer page's timeline: each step's text by its event (the last one wins)."""
    return {li.get_attribute("data-event"): li.text for li in css_all(page, "#timeline-list li")}


def _staff_text_is_chinese(page: Any) -> None:
    assert not english_words(page), english_words(page)
    assert no_sideways_scroll(page)


def test_handlers_are_named_on_the_acts_and_the_receipt_is_confirmed(
    receiver_on_chain: None, sized: tuple[Any, str], server: Server, tmp_path: Path
) -> None:
    page, size = sized
    _, transfer_id = _incoming_transfer(server, tmp_path, f"组转字〔2026〕{SIZE_ZH[size]}经办人")
    sign_in(page, server, server.receiver, next_page=f"transfer.html?id={transfer_id}")
    assert "经办人 李四" in css(page, "#who").text  # the header names who is signed in
    visible(page, '[data-action="verify"]').click()
    wait_status(page, "四性检测完成")
    facts = css(page, "#notice-facts").text
    assert "转出经办人\n张三" in facts or "转出经办人 张三" in facts, facts
    # 签收回执 asks first; nothing is signed until 确认签收.
    css(page, '[data-action="accept"]').click()
    assert active(page) == visible(page, "#confirm-accept")
    assert "不能撤回" in css(page, "#accept-form").text
    _staff_text_is_chinese(page)
    css(page, "#confirm-accept").click()
    wait_status(page, "回执已签署")
    facts = css(page, "#notice-facts").text
    assert "本单位经办人" in facts and "李四" in facts, facts
    steps = _steps(page)
    assert "经办人 张三" in steps["dispatch"] and "经办人 李四" in steps["accept"], steps
    assert "经办人" not in steps["custody"]  # the service's own step names no person
    # Every time shown is labelled with the zone; dates have no seconds.
    times = [t.text for t in css_all(page, "#timeline-list time")]
    assert times and all(t.endswith("（北京时间）") and t.count(":") == 1 for t in times), times
    _staff_text_is_chinese(page)
    screenshot(page, f"handlers-{size}")

    # The signed acts carry the names (the API as developers read it).
    with server.client(server.sender) as c:
        t = c.get(f"/v1/transfers/{transfer_id}").json()
    assert t["dispatch"]["body"]["handler"] == "张三" == t["dispatch_handler"]
    assert t["outcome"]["body"]["handler"] == "李四" == t["outcome_handler"]
    sign_in(page, server, server.sender, next_page=f"transfer.html?id={transfer_id}")
    facts = visible(page, "#notice-facts").text
    assert "接收单位经办人" in facts and "李四" in facts, facts


def _unnamed_key(server: Server, unit_code: str) -> Actor:
    """An operator key issued before keys had names: it keeps working, as 未登记."""
    state = server.app.state.notary
    with state.write_sessions() as s:
        unit = s.query(Unit).filter(Unit.code == unit_code).one()
        _, key = issue_api_key(s, unit, Role.OPERATOR, None)
        s.commit()
    sender = server.sender
    return Actor(sender.unit_code, Role.OPERATOR, key, unit_name=sender.unit_name)


def test_a_key_without_a_name_still_works_and_shows_unregistered(
    receiver_on_chain: None, page: Any, server: Server, tmp_path: Path
) -> None:
    from clients.demo import sample_pdf

    unnamed = _unnamed_key(server, server.sender.unit_code)
    reg = register_material(
        server, unnamed, sample_pdf("未登记"), tmp_path / "m.pdf", "110105194912319999"
    )
    with server.client(unnamed) as c:
        r = c.post(
            "/v1/transfers",
            json={"receiver": server.receiver.unit_code, "volume_ids": [reg.volume_id],
                  "reason": "干部调动", "transfer_no": "组转字〔2026〕未登记"},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        transfer_id = r.json()["transfer_id"]
        for step in ("package", "dispatch"):
            assert c.post(f"/v1/transfers/{transfer_id}/{step}", json={}).status_code == 200
        t = c.get(f"/v1/transfers/{transfer_id}").json()
    # The act is the act of before: no handler member at all.
    assert "handler" not in t["dispatch"]["body"] and t["dispatch_handler"] is None
    sign_in(page, server, unnamed, next_page=f"transfer.html?id={transfer_id}")
    assert "经办人 未登记" in css(page, "#who").text
    facts = visible(page, "#notice-facts").text
    assert "转出经办人" in facts and "未登记" in facts, facts
    steps = wait_for(lambda: _steps(page), "the timeline")
    assert "经办人 未登记" in steps["dispatch"], steps
    _staff_text_is_chinese(page)


def test_the_sender_chases_an_overdue_transfer_and_the_receiver_sees_it(
    receiver_on_chain: None, sized: tuple[Any, str], server: Server, tmp_path: Path
) -> None:
    page, size = sized
    _, transfer_id = _incoming_transfer(server, tmp_path, f"组转字〔2026〕{SIZE_ZH[size]}催办")
    late = utcnow() + timedelta(days=45)
    server.app.state.transfer_clock = lambda: late
    try:
        sign_in(page, server, server.sender, next_page=f"transfer.html?id={transfer_id}")
        remind = visible(page, '[data-action="remind"]')
        assert "可以催办" in css(page, "#actions-hint").text
        remind.click()
        assert active(page) == visible(page, "#remind-note")
        _staff_text_is_chinese(page)
        css(page, "#remind-note").send_keys("请尽快签收")
        css(page, "#confirm-remind").click()
        wait_status(page, "已催办")
        record = visible(page, "#reminders")
        assert "本单位已催办 1 次" in record.text and "张三" in record.text
        assert "请尽快签收" in record.text and "（北京时间）" in record.text
        steps = {
            li.get_attribute("data-event"): li.text for li in css_all(page, "#timeline-list li")
        }
        assert "经办人 张三" in steps["remind"] and "附言：请尽快签收" in steps["remind"]
        _staff_text_is_chinese(page)
        screenshot(page, f"remind-sent-{size}")

        # The receiver: marked in its inbox, told on the transfer's page.
        sign_in(page, server, server.receiver)
        row = visible(page, f'tr[data-transfer-id="{transfer_id}"]')
        assert "已催办 1 次" in row.text, row.text
        status = css(row, 'td[data-label="状态"]')
        assert status.rect["x"] + status.rect["width"] <= SIZES[size][0]
        _staff_text_is_chinese(page)
        screenshot(page, f"remind-inbox-{size}")
        css(row, "a").click()
        record = visible(page, "#reminders")
        assert "转出单位已催办 1 次" in record.text and "请尽快核验材料" in record.text
        assert "张三" in record.text and "请尽快签收" in record.text
        assert not css_all(page, '[data-action="remind"]')  # only the sender chases
        _staff_text_is_chinese(page)
    finally:
        del server.app.state.transfer_clock

    # Not late (any more): the button is gone; a reminder sent anyway is refused in Chinese.
    with server.client(server.receiver) as c:
        r = c.post(f"/v1/transfers/{transfer_id}/reminders", json={})
    assert r.status_code == 403 and "只有转出单位" in r.json()["detail"]
    with server.client(server.sender) as c:
        r = c.post(f"/v1/transfers/{transfer_id}/reminders", json={})
    assert r.status_code == 409 and "尚未逾期，不能催办" in r.json()["detail"], r.text
    assert "（北京时间）" in r.json()["detail"]


def test_a_reminder_refused_by_the_service_reaches_the_clerk_in_chinese(
    receiver_on_chain: None, page: Any, server: Server, tmp_path: Path
) -> None:
    """The page was loaded while the transfer was late; by the time 催办 is confirmed it
    is not (the receiver answered, or the clock says otherwise): refused in words."""
    _, transfer_id = _incoming_transfer(server, tmp_path, "组转字〔2026〕催办被拒")
    late = utcnow() + timedelta(days=45)
    server.app.state.transfer_clock = lambda: late
    try:
        sign_in(page, server, server.sender, next_page=f"transfer.html?id={transfer_id}")
        visible(page, '[data-action="remind"]').click()
    finally:
        del server.app.state.transfer_clock
    visible(page, "#confirm-remind").click()
    text = wait_status(page, "催办失败")
    assert "尚未逾期，不能催办" in text, text
    assert not css_all(page, "#reminders:not([hidden])")
    _staff_text_is_chinese(page)


def test_times_follow_the_deployments_time_zone(
    receiver_on_chain: None, page: Any, server: Server, tmp_path: Path
) -> None:
    """Settings.timezone, not the browser's zone: another zone is labelled by its offset."""
    _, transfer_id = _incoming_transfer(server, tmp_path, "组转字〔2026〕时区")
    settings = server.app.state.notary.settings
    before = settings.timezone
    settings.timezone = "Asia/Tokyo"
    try:
        with server.client(server.sender) as c:
            assert c.get("/v1/display").json() == {
                "timezone": "Asia/Tokyo", "label": "UTC+09:00", "utc_offset": "+09:00",
            }  # fmt: skip
            created = c.get(f"/v1/transfers/{transfer_id}").json()["created_at"]
        sign_in(page, server, server.sender, next_page=f"transfer.html?id={transfer_id}")
        shown = visible(page, "#notice-facts time").text
        from datetime import datetime
        from zoneinfo import ZoneInfo

        local = datetime.fromisoformat(created).astimezone(ZoneInfo("Asia/Tokyo"))
        assert shown == f"{local:%Y-%m-%d %H:%M}（UTC+09:00）", shown
    finally:
        settings.timezone = before
