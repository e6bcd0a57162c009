"""The three administrators (三员) each land on a page they can use: the system
administrator issues an operator key (named for its handler), the security
administrator approves it and handles alerts, the auditor reads alerts and the read
log (利用登记). Nobody is sent to a page that says 无权使用此页面."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests._support.api import Actor
from tests.console._server import Server
from tests.console._ui import css, css_all, screenshot, sign_in, visible, wait_for, wait_status
from tests.console._words import english_words, no_sideways_scroll
from transfer.db.models import Unit
from transfer.roles import Role
from transfer.security import issue_api_key

SIZES = {"desktop": (1440, 900), "phone": (390, 844)}


@pytest.fixture(scope="module")
def admins(server: Server) -> dict[Role, Actor]:
    """A system and a security administrator of the centre (server-console keys)."""
    state = server.app.state.notary
    people = {Role.AUDIT: server.auditor}
    with state.write_sessions() as s:
        centre = s.scalar(select(Unit).where(Unit.code == "CENTRE"))
        assert centre is not None
        for role in (Role.ADMIN, Role.SECURITY):
            _, key = issue_api_key(s, centre, role, f"console test {role}")
            people[role] = Actor("CENTRE", role, key, unit_name=centre.name)
        s.commit()
    return people


@pytest.fixture(params=list(SIZES))
def sized(request: pytest.FixtureRequest, page: Any) -> Iterator[tuple[Any, str]]:
    before = page.get_window_size()
    page.set_window_size(*SIZES[request.param])
    try:
        yield page, request.param
    finally:
        page.set_window_size(before["width"], before["height"])


def _land(page: Any, server: Server, who: Actor) -> None:
    sign_in(page, server, who)
    wait_for(lambda: page.current_url.endswith("/console/admin.html"), f"{who.role}'s page")
    visible(page, "#units-table")
    assert "无权使用此页面" not in css(page, "body").text


def test_each_administrator_lands_on_a_page_of_their_own(
    sized: tuple[Any, str], server: Server, admins: dict[Role, Actor]
) -> None:
    page, size = sized
    for role, title, sections in (
        (Role.ADMIN, "系统管理", {"units-section"}),
        (Role.SECURITY, "安全保密管理", {"units-section", "alerts-section"}),
        (Role.AUDIT, "安全审计", {"units-section", "alerts-section", "readlog-section"}),
    ):
        _land(page, server, admins[role])
        assert css(page, "#title").text == title
        shown = {s.get_attribute("id") for s in css_all(page, "main > section") if s.is_displayed()}
        assert shown == sections, (role, shown)
        assert not english_words(page), (role, english_words(page))
        assert no_sideways_scroll(page), role
        screenshot(page, f"admin-{role}-{size}")


def test_a_key_issued_by_the_administrator_works_once_security_approves_it(
    page: Any, server: Server, admins: dict[Role, Actor]
) -> None:
    # 系统管理员 issues an operator key for the receiving unit, named for its handler.
    _land(page, server, admins[Role.ADMIN])
    row = visible(page, f'tr[data-unit-code="{server.receiver.unit_code}"]')
    css(row, '[data-action="keys"]').click()
    visible(page, "#issue-form")
    css(page, "#issue").click()
    wait_status(page, "请填写经办人姓名")
    css(page, "#issue-label").send_keys("王五")
    css(page, "#issue").click()
    wait_status(page, "待安全保密管理员批准")
    key = visible(page, "#issued-key").text
    assert key.startswith("an_")
    pending = wait_for(
        lambda: [r for r in css_all(page, "#keys-table tbody tr") if "王五" in r.text], "the key"
    )[0]
    assert "待批准" in pending.text
    assert not css_all(page, '[data-action="approve"]')  # not the administrator's power
    # The other keys' labels are the test's own data ("console test"), not the console's words.
    assert not english_words(page, {"console", "test"}), english_words(page)
    screenshot(page, "admin-key-issued")
    session = server.url("/console/api/session")
    auth = {"Authorization": f"Bearer {key}"}
    assert httpx.get(session, headers=auth).status_code == 401  # not yet approved

    # 安全保密管理员 approves it; from then on it works.
    _land(page, server, admins[Role.SECURITY])
    row = visible(page, f'tr[data-unit-code="{server.receiver.unit_code}"]')
    css(row, '[data-action="keys"]').click()
    pending = wait_for(
        lambda: [r for r in css_all(page, "#keys-table tbody tr") if "王五" in r.text], "the key"
    )[0]
    css(pending, '[data-action="approve"]').click()
    wait_status(page, "现在可以使用")
    wait_for(
        lambda: any(
            "王五" in r.text and "有效" in r.text for r in css_all(page, "#keys-table tbody tr")
        ),
        "the key approved",
    )
    assert not css_all(page, "#issue-form:not([hidden])")  # issuing is not security's power
    assert httpx.get(session, headers=auth).status_code == 200


def test_the_auditor_reaches_the_verify_page_from_the_navigation(
    page: Any, server: Server, admins: dict[Role, Actor]
) -> None:
    _land(page, server, admins[Role.AUDIT])
    next(a for a in css_all(page, "nav a") if a.text == "核验").click()
    wait_for(lambda: page.current_url.endswith("/console/verify.html"), "the verify page")
    visible(page, "#sm3-form")
    assert "无权使用此页面" not in css(page, "body").text
    assert not english_words(page), english_words(page)  # the file pickers too


def test_the_administrator_registers_a_unit(
    page: Any, server: Server, admins: dict[Role, Actor]
) -> None:
    import uuid

    code = f"UNIT-{uuid.uuid4().hex[:6].upper()}"
    _land(page, server, admins[Role.ADMIN])
    css(page, "#add-unit").click()
    wait_status(page, "请填写：单位代码、单位名称")
    css(page, "#unit-code").send_keys(code)
    css(page, "#unit-name").send_keys("丙县委组织部")
    css(page, "#add-unit").click()
    wait_status(page, "已登记单位“丙县委组织部”")
    assert "丙县委组织部" in visible(page, f'tr[data-unit-code="{code}"]').text
    # The same code again: refused in Chinese, the service's wording behind 详情.
    css(page, "#unit-code").send_keys(code)
    css(page, "#unit-name").send_keys("重复")
    css(page, "#add-unit").click()
    wait_status(page, "该单位代码已登记")
    assert not english_words(page, {"console", "test", code}), english_words(page)
