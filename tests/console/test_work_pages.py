"""Starting the work in the console: a clerk creates a volume (正本/副本), finds it by
the cadre's 身份证号, registers materials with their fields (per-row results, a warning
for a file already in the volume), creates a transfer and sends it; the receiver's
rejection reasons are shown to both sides. Every page speaks Chinese outside 详情.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.console._server import Server, new_cadre
from tests.console._ui import (
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

__all__ = ["receiver_on_chain"]  # the fixture, shared with the transfer pages' tests

SIZES = {"desktop": (1440, 900), "phone": (390, 844)}


@pytest.fixture(params=list(SIZES))
def sized(request: pytest.FixtureRequest, page: Any) -> Iterator[tuple[Any, str]]:
    """The page at 1440×900 and at 390×844."""
    before = page.get_window_size()
    page.set_window_size(*SIZES[request.param])
    try:
        yield page, request.param
    finally:
        page.set_window_size(before["width"], before["height"])


def _select(el: Any, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(el).select_by_value(value)


def _fill_row(row: Any, category: str, pages: str, date: str) -> None:
    _select(css(row, ".category"), category)
    css(row, ".pages").clear()
    css(row, ".pages").send_keys(pages)
    css(row, ".date").clear()
    css(row, ".date").send_keys(date)


def _row(page: Any, name: str) -> Any:
    return css(page, f'#rows tr[data-file="{name}"]')


def test_clerk_creates_a_volume_finds_it_and_registers_materials(
    sized: tuple[Any, str], server: Server, tmp_path: Path
) -> None:
    from clients.demo import sample_pdf

    page, size = sized
    cadre = new_cadre()
    sign_in(page, server, server.sender, next_page="volumes.html")
    visible(page, "#create-form")

    # An empty identifier is refused before anything is sent.
    css(page, "#create").click()
    wait_status(page, "请填写干部身份证号")
    assert css(page, "#create-id").get_attribute("aria-invalid") == "true"

    # 新建案卷: a 正本 for the cadre.
    css(page, "#create-id").send_keys(cadre)
    css(page, "#create").click()
    wait_status(page, "已建立正本案卷")
    volume_id = visible(page, "#volumes tbody tr").get_attribute("data-volume-id")
    assert "正本" in css(page, "#volumes tbody tr").text
    # A second 正本 for the same cadre is refused, in Chinese.
    css(page, "#create-id").send_keys(cadre)
    css(page, "#create").click()
    wait_status(page, "该干部已有正本档案")
    assert not english_words(page), english_words(page)

    # 查找案卷 by 身份证号 (the blinded lookup): exactly that volume.
    css(page, "#lookup-id").send_keys(cadre)
    css(page, "#lookup").click()
    wait_status(page, "找到 1 卷")
    rows = css_all(page, "#volumes tbody tr")
    assert [r.get_attribute("data-volume-id") for r in rows] == [volume_id]
    css(page, "#lookup-id").clear()
    css(page, "#lookup-id").send_keys(new_cadre())
    css(page, "#lookup").click()
    wait_status(page, "未找到")
    assert no_sideways_scroll(page)
    screenshot(page, f"volumes-lookup-{size}")

    # 登记材料: two files, one a PDF, one not a document at all.
    page.get(server.url(f"/console/ingest.html?volume={volume_id}"))
    wait_for(lambda: "还没有登记材料" in css(page, "#existing").text, "the volume's materials")
    pdf = tmp_path / "干部履历表.pdf"
    pdf.write_bytes(sample_pdf(f"record {uuid.uuid4()}"))
    note = tmp_path / "说明.txt"
    note.write_text("not a scan", "utf-8")
    css(page, "#files").send_keys(f"{pdf}\n{note}")
    wait_for(lambda: len(css_all(page, "#rows tbody tr")) == 2, "two rows")
    wait_status(page, "已选择 2 个文件")

    # Submitting with fields missing: each row says what is missing; nothing is sent.
    css(page, "#upload").click()
    wait_status(page, "2 行填写不完整")
    assert "请选择类号" in _row(page, pdf.name).text
    _fill_row(_row(page, pdf.name), "1", "2", "1998.07")
    _fill_row(_row(page, note.name), "4-1", "1", "1998-07-01")
    css(page, "#upload").click()
    wait_status(page, "登记完成：成功 1 份，失败 1 份")
    ok, bad = _row(page, pdf.name), _row(page, note.name)
    assert "已登记" in ok.text and "1-1" in ok.text
    assert "文件类型不被接受" in bad.text, bad.text
    assert css(bad, "details summary").text == "详情"
    # The material is in the volume, its month-only date registered as the 1st.
    existing = visible(page, "#existing-materials tbody tr")
    assert (
        "1-1" in existing.text and "1998-07-01" in existing.text and "干部履历表" in existing.text
    )
    assert not english_words(page), english_words(page)
    assert no_sideways_scroll(page)
    screenshot(page, f"ingest-results-{size}")

    # The same file again: flagged as already registered and left out by default.
    css(page, "#clear").click()
    css(page, "#files").send_keys(str(pdf))
    wait_status(page, "其中 1 个与已登记材料相同")
    row = _row(page, pdf.name)
    assert "本卷已登记相同文件：1-1《干部履历表》" in row.text
    _fill_row(row, "1", "2", "1998-07-01")
    css(page, "#upload").click()
    wait_status(page, "没有待登记的材料")
    assert len(css_all(page, "#existing-materials tbody tr")) == 1


def test_clerk_creates_a_transfer_and_sends_it(
    receiver_on_chain: None, sized: tuple[Any, str], server: Server, tmp_path: Path
) -> None:
    page, size = sized
    from clients.demo import sample_pdf
    from tests.console._server import register_material

    reg = register_material(
        server, server.sender, sample_pdf("transfer me"), tmp_path / "a.pdf", new_cadre()
    )
    # The outbox offers 发起转递 too.
    sign_in(page, server, server.sender, next_page="transfers.html?role=outgoing")
    assert visible(page, "#new-transfer").get_attribute("href").endswith("send.html")
    page.get(server.url("/console/volumes.html"))
    visible(page, f'tr[data-volume-id="{reg.volume_id}"] [data-action="send"]').click()
    wait_for(lambda: "send.html" in page.current_url, "the new transfer page")
    box = visible(page, f'input[name="volume"][value="{reg.volume_id}"]')
    assert box.is_selected()  # the volume it was opened from

    css(page, "#create-transfer").click()
    wait_status(page, "请填写：转递编号、接收单位代码、转递原因")
    assert not english_words(page), english_words(page)
    assert no_sideways_scroll(page)
    screenshot(page, f"send-form-{size}")
    no = f"组转字〔2026〕{uuid.uuid4().int % 1000}号"
    css(page, "#transfer-no").send_keys(no)
    css(page, "#reason").send_keys("干部调动")
    css(page, "#receiver").send_keys("NOWHERE")
    css(page, "#create-transfer").click()
    wait_status(page, "接收单位 NOWHERE 未登记")
    css(page, "#receiver").clear()
    css(page, "#receiver").send_keys(server.receiver.unit_code)
    css(page, "#create-transfer").click()
    wait_status(page, "转递通知单已创建")
    assert "已创建" in css(page, "#title").text
    assert not english_words(page), english_words(page)

    visible(page, '[data-action="package"]').click()
    wait_status(page, "已打包")
    visible(page, '[data-action="dispatch"]').click()
    wait_status(page, "已转出")
    assert "已转出" in css(page, "#title").text
    screenshot(page, f"transfer-created-and-sent-{size}")


def test_rejection_reasons_are_shown_to_both_sides_and_the_sender_takes_it_back(
    receiver_on_chain: None, sized: tuple[Any, str], server: Server, tmp_path: Path
) -> None:
    page, size = sized
    _, transfer_id = _incoming_transfer(
        server, tmp_path, f"组转字〔2026〕{30 + list(SIZES).index(size)}号"
    )
    sign_in(page, server, server.receiver, next_page=f"transfer.html?id={transfer_id}")
    visible(page, '[data-action="verify"]').click()
    wait_status(page, "四性检测完成：全部通过")
    banner = visible(page, "#banner")
    assert "banner-ok" in (banner.get_attribute("class") or "")
    assert "四性检测全部通过" in banner.text and "签收回执" in banner.text
    assert not english_words(page), english_words(page)
    assert no_sideways_scroll(page)
    screenshot(page, f"transfer-verified-banner-{size}")

    css(page, '[data-action="reject"]').click()
    css(page, "#reject-reason").send_keys("缺少学历证明材料")
    css(page, "#confirm-reject").click()
    wait_status(page, "已拒收")
    assert "缺少学历证明材料" in visible(page, "#reasons").text
    assert "本单位的拒收理由" in css(page, "#outcome").text

    # The sender sees the reasons and its next step, and takes the transfer back.
    sign_in(page, server, server.sender, next_page=f"transfer.html?id={transfer_id}")
    outcome = visible(page, "#outcome")
    assert "接收单位的拒收理由" in outcome.text and "缺少学历证明材料" in outcome.text
    assert "退回" in outcome.text
    assert not english_words(page), english_words(page)
    screenshot(page, f"transfer-rejected-sender-{size}")
    css(page, '[data-action="return"]').click()
    wait_status(page, "已办理退回")
    assert "已退回" in css(page, "#title").text
    assert "缺少学历证明材料" in visible(page, "#outcome").text
    # A refused step names the state and the act in the same words (CLI and console).
    with server.client(server.sender) as c:
        r = c.post(f"/v1/transfers/{transfer_id}/package", json={})
    assert r.status_code == 409
    assert "当前状态为“已退回”，不能打包" in r.json()["detail"]

    # 重新转递: a new notice over the same volumes, ready to package and send.
    css(page, '[data-action="resend"]').click()
    wait_status(page, "转递通知单已创建")
    assert "已创建" in css(page, "#title").text
    assert transfer_id not in page.current_url
    visible(page, '[data-action="package"]')


def test_a_refusal_in_english_reaches_the_clerk_in_chinese(page: Any, server: Server) -> None:
    """A validation problem ("1 field(s) are invalid") is named by its fields in Chinese;
    the service's wording is kept behind 详情."""
    sign_in(page, server, server.sender, next_page="volumes.html")
    visible(page, "#create-form")
    # Longer than the API takes (the field's maxlength bypassed, as a paste tool might).
    page.execute_script("document.querySelector('#create-id').value = '1'.repeat(70)")
    css(page, "#create").click()
    text = wait_status(page, "建立案卷失败")
    assert "填写有误，请检查：干部身份证号" in text, text
    assert "invalid" not in text and "field" not in text
    assert css(page, "#status details summary").text == "详情"
    assert not english_words(page), english_words(page)


def _tampered(package: bytes, material_id: str) -> bytes:
    """The package with one byte of a material's ciphertext flipped (damaged on the way)."""
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(package)) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(f"{material_id}.sm4"))
        offset = member.offset_data + member.size // 2
    out = bytearray(package)
    out[offset] ^= 0x01
    return bytes(out)


def test_a_failed_check_is_a_red_banner_with_a_sentence_and_reaches_the_sender(
    receiver_on_chain: None, page: Any, server: Server, tmp_path: Path
) -> None:
    reg, transfer_id = _incoming_transfer(server, tmp_path, "组转字〔2026〕40号")
    # Delivered offline (机要), with one material damaged on the way.
    with server.client(server.sender) as c:
        r = c.get(f"/v1/transfers/{transfer_id}/package.tar")
        assert r.status_code == 200, r.text
    with server.client(server.receiver) as c:
        r = c.post(
            f"/v1/transfers/{transfer_id}/import",
            content=_tampered(r.content, reg.material_id),
            headers={"Content-Type": "application/x-tar"},
        )
        assert r.status_code == 200, r.text

    sign_in(page, server, server.receiver, next_page=f"transfer.html?id={transfer_id}")
    visible(page, '[data-action="verify"]').click()
    status = wait_status(page, "四性检测完成：1 份材料未通过")
    assert "不能签收回执" in status
    banner = visible(page, "#banner")
    assert "banner-bad" in (banner.get_attribute("class") or "")
    assert "四性检测未通过：1 份材料有问题" in banner.text and "拒收" in banner.text
    row = css(page, f'#materials-results tr[data-material-id="{reg.material_id}"]')
    assert "不通过" in row.text
    problems = css_all(row, "li[data-check]")
    assert problems and all("请" in li.text for li in problems)  # each says what to do
    assert not css(page, '[data-action="accept"]').is_enabled()
    assert not english_words(page), english_words(page)
    screenshot(page, "transfer-failed-banner")

    css(page, '[data-action="reject"]').click()
    css(page, "#reject-reason").send_keys("材料在途中损坏")
    css(page, "#confirm-reject").click()
    wait_status(page, "已拒收")

    # The sender reads which material failed and why, in words, with the detail behind 详情.
    sign_in(page, server, server.sender, next_page=f"transfer.html?id={transfer_id}")
    reasons = visible(page, "#reasons")
    assert "材料在途中损坏" in reasons.text
    assert "1-1《干部履历表》" in reasons.text  # named by 类号-顺序号 and 题名
    assert "补正后重新转递" in reasons.text and "请拒收" not in reasons.text  # its own next step
    assert css_all(reasons, "details")
    assert not english_words(page), english_words(page)
    screenshot(page, "transfer-failed-sender")


def test_the_inbox_at_phone_width_tells_the_receiver_its_own_obligation(
    receiver_on_chain: None, page: Any, server: Server, tmp_path: Path
) -> None:
    from datetime import timedelta

    from transfer.db.types import utcnow

    _, transfer_id = _incoming_transfer(server, tmp_path, "组转字〔2026〕41号")
    server.app.state.transfer_clock = lambda: utcnow() + timedelta(days=45)
    before = page.get_window_size()
    page.set_window_size(*SIZES["phone"])
    try:
        sign_in(page, server, server.receiver)
        row = visible(page, f'tr[data-transfer-id="{transfer_id}"]')
        # Status and 期限 are on screen at phone width, without scrolling sideways.
        for label in ("状态", "期限"):
            cell = css(row, f'td[data-label="{label}"]')
            box = cell.rect
            assert cell.is_displayed() and box["x"] + box["width"] <= 390, (label, box)
        assert no_sideways_scroll(page)
        # The receiver reads its own obligation, not the sender's 催办.
        assert "请尽快核验并签收或拒收" in row.text and "催办" not in row.text
        assert not english_words(page), english_words(page)
        screenshot(page, "inbox-overdue-phone")

        sign_in(page, server, server.sender, next_page="transfers.html?role=outgoing")
        row = visible(page, f'tr[data-transfer-id="{transfer_id}"]')
        assert "逾期未收到回执，请催办" in row.text
    finally:
        del server.app.state.transfer_clock
        page.set_window_size(before["width"], before["height"])
