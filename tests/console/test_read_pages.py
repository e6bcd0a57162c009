"""在线阅档 in the browser (issue 19), from sign-in, at 1440×900 and 390×844: a reader
applies, the holding unit's clerk approves, the reader opens the volume and sees a PDF
page and an image, each page a verified read shown with its checks in plain Chinese;
after the grant expires the next page is refused in Chinese. No English is visible
to staff outside 详情 on any of these screens."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests._support.api import Actor
from tests._support.notary_api import png
from tests.console._server import Server, new_cadre
from tests.console._ui import css, css_all, screenshot, sign_in, visible, wait_for, wait_status
from tests.console._words import english_words, no_sideways_scroll
from transfer.db.models import Unit
from transfer.db.types import utcnow
from transfer.roles import Role
from transfer.security import issue_api_key

SIZES = {"desktop": (1440, 900), "phone": (390, 844)}


@pytest.fixture(params=list(SIZES))
def sized(request: pytest.FixtureRequest, page: Any) -> Iterator[tuple[Any, str]]:
    before = page.get_window_size()
    page.set_window_size(*SIZES[request.param])
    try:
        yield page, request.param
    finally:
        page.set_window_size(before["width"], before["height"])


@pytest.fixture(scope="module")
def reader(server: Server) -> Actor:
    """A 查阅人 of the receiving unit (乙区委组织部)."""
    from sqlalchemy import select

    state = server.app.state.notary
    with state.write_sessions() as s:
        unit = s.scalars(select(Unit).where(Unit.code == server.receiver.unit_code)).one()
        _, key = issue_api_key(s, unit, Role.READER, "console test reader")
        s.commit()
    return Actor(server.receiver.unit_code, Role.READER, key, unit_name=server.receiver.unit_name)


def _two_page_pdf() -> bytes:
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    c = canvas.Canvas(out)
    for text in ("Page 1", "Page 2"):
        c.drawString(100, 700, text)
        c.showPage()
    c.save()
    return out.getvalue()


def _volume(server: Server) -> str:
    """A volume of the sending unit: 4-1-1 a PNG scan, 1-1 a two-page PDF (anchored)."""
    who = server.sender
    cadre = new_cadre("19800101")
    with server.client(who) as c:
        r = c.post("/v1/volumes", json={"cadre_identifier": cadre, "kind": "main"})
        assert r.status_code == 201, r.text
        volume = r.json()["id"]
        last = ""
        for name, content, category, pages, title in (
            ("scan.png", png(9), "4-1", "1", "学历证明"),
            ("cv.pdf", _two_page_pdf(), "1", "2", "干部履历表"),
        ):
            r = c.post(
                f"/v1/volumes/{volume}/materials",
                data={
                    "category": category,
                    "seq_no": "1",
                    "pages": pages,
                    "title": title,
                    "formation_date": "1998-07-01",
                },
                files={"file": (name, content, "application/octet-stream")},
            )
            assert r.status_code == 201, r.text
            last = r.json()["id"]
        deadline = time.monotonic() + 30
        while c.get(f"/v1/materials/{last}/receipt").status_code != 200:
            assert time.monotonic() < deadline, "not anchored in 30 s"
            time.sleep(0.05)
    return str(volume)


def _chinese_only(page: Any, where: str) -> None:
    assert english_words(page) == [], where
    assert no_sideways_scroll(page), where


def _image_shown(page: Any) -> bool:
    return bool(
        page.execute_script(
            "const i = document.getElementById('page-image');"
            "return i && i.complete && i.naturalWidth > 0 && i.getBoundingClientRect().width > 0;"
        )
    )


def test_reader_applies_clerk_approves_reader_reads_pages_until_expiry(
    sized: tuple[Any, str], server: Server, reader: Actor
) -> None:
    page, size = sized
    volume = _volume(server)

    # 1. The reader applies (查阅申请).
    sign_in(page, server, reader)
    wait_for(lambda: "read.html" in page.current_url, "the reader's first page")
    visible(page, "#apply-volumes").send_keys(volume)
    for category in ("1", "4-1"):
        css(page, f"#cat-{category}").click()
    css(page, "#apply-purpose").send_keys("干部任前审核")
    css(page, "#apply").click()
    wait_status(page, "查阅申请已提交")
    wait_for(lambda: "待审批" in css(page, "#grant-list").text, "the pending application")
    _chinese_only(page, "apply")

    # 2. The holding unit's clerk approves (审批).
    sign_in(page, server, server.sender, "grants.html")
    row = wait_for(
        lambda: next(
            (
                r
                for r in css_all(page, "#grant-list tbody tr")
                if "待审批" in r.text and volume[:8] in r.text
            ),
            None,
        ),
        "the application to approve",
    )
    assert "干部任前审核" in row.text and "第 1 类、第 4-1 类" in row.text
    _chinese_only(page, "approve")
    css(row, "[data-action=approve]").click()
    wait_status(page, "已批准")

    # 3. The reader opens the volume: materials in 类号-序号 order, each page verified.
    sign_in(page, server, reader)
    opened = wait_for(
        lambda: next(
            (
                r
                for r in css_all(page, "#grant-list tbody tr")
                if "有效" in r.text and volume[:8] in r.text
            ),
            None,
        ),
        "the approved grant",
    )
    css(opened, "[data-action=open]").click()
    wait_status(page, "已打开案卷")
    rows = css_all(page, "#material-list tbody tr")
    assert [r.text.split()[0] for r in rows] == ["1-1", "4-1-1"]
    css(rows[0], "[data-action=view]").click()
    wait_status(page, "已显示第 1 页（共 2 页）")
    wait_for(lambda: _image_shown(page), "the PDF's first page")
    assert css(page, "#page-no").text == "第 1 / 2 页"
    checks = css(page, "#checks").text
    for words in ("核验通过", "真实性", "完整性", "安全性", "可用性", "已锚定上链", "利用登记"):
        assert words in checks, words
    css(page, "#next-page").click()
    wait_status(page, "已显示第 2 页（共 2 页）")
    assert css(page, "#next-page").get_attribute("disabled") is not None
    _chinese_only(page, "pdf page")
    css(css_all(page, "#material-list tbody tr")[1], "[data-action=view]").click()
    wait_status(page, "已显示第 1 页（共 1 页）")
    wait_for(lambda: _image_shown(page), "the image")
    _chinese_only(page, "image")
    screenshot(page, f"read-{size}")

    # 4. After the grant's end the next page is refused, in Chinese.
    server.app.state.read_clock = lambda: utcnow() + timedelta(days=8)
    try:
        css(css_all(page, "#material-list tbody tr")[0], "[data-action=view]").click()
        said = wait_status(page, "到期")
        assert said.startswith("不能查阅：查阅授权已于 ") and "重新提出查阅申请" in said
        assert not css(page, "#page-area").is_displayed()
        _chinese_only(page, "expired")
        screenshot(page, f"read-expired-{size}")
    finally:
        del server.app.state.read_clock

    # 5. The auditor lists every grant (查阅授权), without buttons.
    sign_in(page, server, server.auditor, "grants.html")
    row = wait_for(
        lambda: next(
            (r for r in css_all(page, "#grant-list tbody tr") if volume[:8] in r.text), None
        ),
        "the grant in the auditor's list",
    )
    assert "有效" in row.text and "干部任前审核" in row.text and "乙区委组织部" in row.text
    assert not css_all(row, "button")
    assert css(page, "#title").text == "查阅授权"
    _chinese_only(page, "auditor")
