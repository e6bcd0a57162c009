"""Signing in and out of the console, with the mouse and with the keyboard alone."""

from __future__ import annotations

from typing import Any

import httpx

from tests.console._server import Server
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


def _stored_key(driver: Any) -> Any:
    return driver.execute_script("return sessionStorage.getItem('archive-notary.console.key')")


def test_root_redirects_to_the_console_and_pages_carry_a_strict_csp(server: Server) -> None:
    r = httpx.get(server.url("/"), follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/console/"
    page = httpx.get(server.url("/console/"))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    # Only the console's own files are served; nothing else from its directory.
    assert httpx.get(server.url("/console/__init__.py")).status_code == 404
    assert (
        httpx.get(server.url("/console/sm3.js"))
        .headers["content-type"]
        .startswith("text/javascript")
    )


def test_session_route_names_the_unit_and_role(server: Server) -> None:
    r = httpx.get(server.url("/console/api/session"), headers=server.receiver.headers)
    assert r.status_code == 200
    assert r.json()["unit_code"] == "RECEIVER" and r.json()["role"] == "operator"
    assert "transfers" in r.json()["permissions"]
    assert httpx.get(server.url("/console/api/session")).status_code == 401


def test_a_wrong_key_is_refused_in_the_live_region(page: Any, server: Server) -> None:
    field = visible(page, "#api-key")
    field.send_keys("an_not-a-real-key")
    css(page, "#sign-in").click()
    wait_status(page, "登录失败")
    assert css(page, "#status").get_attribute("aria-live") == "polite"
    assert field.get_attribute("aria-invalid") == "true"
    assert active(page) == field  # focus back on the field, ready to retype
    assert _stored_key(page) is None
    screenshot(page, "signin-refused")


def test_keyboard_only_sign_in_and_sign_out(page: Any, server: Server) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    visible(page, "#api-key")
    page.execute_script("document.activeElement && document.activeElement.blur()")
    # Tab order: skip link, the key field, "show key", the sign-in button.
    order = []
    for _ in range(4):
        ActionChains(page).send_keys(Keys.TAB).perform()
        el = active(page)
        order.append(el.get_attribute("id") or el.get_attribute("class"))
    assert order == ["skip", "api-key", "show-key", "sign-in"]
    # A visible focus ring on the focused button.
    outline = page.execute_script("return getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"

    for _ in range(2):  # Shift+Tab twice: back over "show key" to the key field
        ActionChains(page).key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
    assert active(page).get_attribute("id") == "api-key"
    ActionChains(page).send_keys(server.receiver.key).perform()
    screenshot(page, "signin")
    ActionChains(page).send_keys(Keys.ENTER).perform()  # Enter submits the form

    wait_for(lambda: "transfers.html" in page.current_url, "the inbox after sign-in")
    who = visible(page, "#who")
    assert "乙区委组织部" in who.text and "经办人员" in who.text
    assert _stored_key(page) == server.receiver.key
    current = css(page, 'nav a[aria-current="page"]')
    assert current.text == "收件箱（转入）"

    # Sign out with the keyboard: the button is reachable and Enter activates it.
    sign_out = css(page, "#sign-out")
    assert sign_out.tag_name == "button"
    page.execute_script("arguments[0].focus()", sign_out)
    ActionChains(page).send_keys(Keys.ENTER).perform()
    wait_status(page, "已退出登录")
    assert _stored_key(page) is None
    assert page.execute_script("return sessionStorage.length") == 0


def test_pages_ask_for_sign_in_and_return_after_it(page: Any, server: Server) -> None:
    page.get(server.url("/console/verify.html"))
    wait_for(lambda: "next=verify.html" in page.current_url, "the sign-in page")
    wait_status(page, "请先登录")
    field = visible(page, "#api-key")
    field.send_keys(server.auditor.key)
    css(page, "#sign-in").click()
    wait_for(lambda: page.current_url.endswith("/console/verify.html"), "the verify page")


def test_an_auditor_sees_only_the_pages_of_the_role(page: Any, server: Server) -> None:
    sign_in(page, server, server.auditor)
    wait_for(lambda: page.current_url.endswith("admin.html"), "the auditor's first page")
    labels = [a.text for a in css_all(page, "nav a")]
    assert labels == ["管理", "查阅授权", "核验"]  # 查阅授权: every read grant (在线阅档)
    assert "安全审计员" in css(page, "#who").text
    page.get(server.url("/console/transfers.html?role=incoming"))
    wait_status(page, "无权使用此页面")


def test_signed_in_pages_have_a_logical_tab_order_and_a_skip_link(
    page: Any, server: Server
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    sign_in(page, server, server.auditor, next_page="verify.html")
    visible(page, "#file")
    page.execute_script("document.activeElement && document.activeElement.blur()")

    def tab() -> str:
        ActionChains(page).send_keys(Keys.TAB).perform()
        el = active(page)
        return str(el.get_attribute("id") or el.get_attribute("class") or el.text)

    # Skip link, the header (brand, navigation, sign-out), then the page in reading order.
    assert [tab() for _ in range(9)] == [
        "skip",
        "brand",
        "管理",
        "查阅授权",
        "核验",
        "sign-out",
        "file",
        "sm3",
        "verify-sm3",
    ]
    # The skip link takes keyboard users past the header, straight to the content.
    page.execute_script("document.querySelector('.skip').focus()")
    ActionChains(page).send_keys(Keys.ENTER).perform()
    wait_for(lambda: active(page).get_attribute("id") == "main", "focus on main")
    assert tab() == "file"
