"""收件箱, a transfer's page, 签收回执 and 拒收: the receiving unit sees an incoming
transfer, checks its materials (四性), signs the receipt, and custody moves to it.

The transfers are made over the API in the test's setup: the two hosted units of the
test deployment are the sending and the receiving unit.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.console._server import Registered, Server, new_cadre, register_material
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
from transfer.db.types import utcnow


@pytest.fixture(scope="module")
def receiver_on_chain(server: Server) -> None:
    """The receiving unit gets a chain account of its own: two hosted units acting
    through the centre's one account could not hand a volume to each other (the
    contract refuses a dispatch from an account to itself)."""
    from transfer.db.models import TransferPeer, Unit
    from transfer.services.transfer_units import give_chain_account

    state = server.app.state.notary
    admin_key = bytes.fromhex((server.home / "keys" / "admin.key").read_text("ascii").strip())
    with state.write_sessions() as s:
        unit = s.scalar(select(Unit).where(Unit.code == server.receiver.unit_code))
        assert unit is not None
        if s.get(TransferPeer, unit.id) is None:  # tests/console/test_print.py may have
            give_chain_account(s, state.notary.deployment, unit, admin_key=admin_key)
            s.commit()


def _incoming_transfer(server: Server, tmp: Path, no: str) -> tuple[Registered, str]:
    """A volume of the sender with one anchored material, packaged and dispatched to
    the receiver; its transfer id."""
    from clients.demo import sample_pdf

    cadre = new_cadre("19491231")
    reg = register_material(server, server.sender, sample_pdf(no), tmp / f"{no}.pdf", cadre)
    with server.client(server.sender) as c:
        r = c.post(
            "/v1/transfers",
            json={
                "receiver": server.receiver.unit_code,
                "volume_ids": [reg.volume_id],
                "reason": "干部调动",
                "transfer_no": no,
                "classification": "内部",
            },
        )
        assert r.status_code == 201, r.text
        transfer_id = str(r.json()["transfer_id"])
        for step in ("package", "dispatch"):
            r = c.post(f"/v1/transfers/{transfer_id}/{step}", json={})
            assert r.status_code in (200, 201), f"{step}: {r.text}"
    return reg, transfer_id


def test_receiver_sees_the_transfer_accepts_it_and_custody_moves(
    receiver_on_chain: None, page: Any, server: Server, tmp_path: Path
) -> None:
    reg, transfer_id = _incoming_transfer(server, tmp_path, "组转字〔2026〕7号")

    # 收件箱: the receiver sees the transfer, from whom, in which state, with its deadline.
    sign_in(page, server, server.receiver)
    wait_for(lambda: "role=incoming" in page.current_url, "the inbox")
    row = visible(page, f'tr[data-transfer-id="{transfer_id}"]')
    assert "组转字〔2026〕7号" in row.text
    assert "甲市干部档案中心" in row.text or "SENDER" in row.text
    assert "已转出" in row.text
    assert css_all(row, "time"), "the deadline is shown"
    screenshot(page, "inbox")

    # The transfer's page: notice, materials not yet checked.
    css(row, "a").click()
    visible(page, '[data-action="verify"]')
    assert "转递通知单" in css(page, "#notice").text
    assert "未检测" in css(page, "#materials-results").text

    # 核验材料: delivery and the 四性 check; every property passes.
    css(page, '[data-action="verify"]').click()
    wait_status(page, "四性检测完成")
    assert active(page) == css(page, "#title")
    row = css(page, f'#materials-results tr[data-material-id="{reg.material_id}"]')
    assert row.text.count("通过") == 4, row.text
    accept = css(page, '[data-action="accept"]')
    assert accept.is_enabled()
    screenshot(page, "transfer-verified")

    # 签收回执 asks for confirmation first; then the receipt is signed and custody moves.
    accept.click()
    confirm = visible(page, "#confirm-accept")
    assert active(page) == confirm and "不能撤回" in css(page, "#accept-form").text
    css(page, "#cancel-accept").click()  # changing one's mind signs nothing
    assert not css(page, "#accept-form").is_displayed() and active(page) == accept
    accept.click()
    visible(page, "#confirm-accept").click()
    wait_status(page, "回执已签署")
    assert "已签收" in css(page, "#title").text
    assert not css_all(page, '[data-action="accept"]')
    screenshot(page, "transfer-received")

    # The custody change: the volume is now the receiver's …
    page.get(server.url("/console/volumes.html"))
    held = wait_for(
        lambda: [r for r in css_all(page, "#volumes tbody tr") if r.is_displayed()],
        "the receiver's volumes",
    )
    assert held
    screenshot(page, "volumes-after-receipt")
    # … and its timeline says so, proven in the log.
    css(held[-1], 'a[data-action="provenance"]').click()
    wait_status(page, "项")
    kinds = [li.get_attribute("data-kind") for li in css_all(page, "#timeline > li")]
    assert "custody.received" in kinds, kinds
    screenshot(page, "provenance-after-receipt")

    # The sender's outbox shows the transfer received.
    sign_in(page, server, server.sender, next_page="transfers.html?role=outgoing")
    row = visible(page, f'tr[data-transfer-id="{transfer_id}"]')
    assert "已签收" in row.text


def test_receiver_rejects_with_a_reason_using_the_keyboard(
    receiver_on_chain: None, page: Any, server: Server, tmp_path: Path
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    _, transfer_id = _incoming_transfer(server, tmp_path, "组转字〔2026〕8号")
    sign_in(page, server, server.receiver, next_page=f"transfer.html?id={transfer_id}")
    visible(page, '[data-action="verify"]').click()
    wait_status(page, "四性检测完成")

    reject = css(page, '[data-action="reject"]')
    page.execute_script("arguments[0].focus()", reject)
    ActionChains(page).send_keys(Keys.ENTER).perform()
    reason = css(page, "#reject-reason")
    assert reject.get_attribute("aria-expanded") == "true"
    assert active(page) == reason  # the form opens with the focus in it
    # An empty reason is refused.
    css(page, "#confirm-reject").click()
    wait_status(page, "请填写拒收理由")
    reason.send_keys("材料份数与通知单不符")
    screenshot(page, "transfer-reject-form")
    css(page, "#confirm-reject").click()
    wait_status(page, "已拒收")
    assert "已拒收" in css(page, "#title").text


def test_the_outbox_marks_a_transfer_without_receipt_overdue(
    receiver_on_chain: None, page: Any, server: Server, tmp_path: Path
) -> None:
    _, transfer_id = _incoming_transfer(server, tmp_path, "组转字〔2026〕9号")
    # Forty-five days later no receipt has come: past the one-month chase period.
    server.app.state.transfer_clock = lambda: utcnow() + timedelta(days=45)
    try:
        sign_in(page, server, server.sender, next_page="transfers.html?role=outgoing")
        row = visible(page, f'tr[data-transfer-id="{transfer_id}"]')
        assert "逾期" in row.text
        assert "overdue" in (row.get_attribute("class") or "")
        assert "逾期" in css(page, "#transfers caption").text
        screenshot(page, "outbox-overdue")

        # "只看逾期" keeps only the overdue ones.
        css(page, "#overdue-only").click()
        css(page, "#apply-filter").click()
        wait_for(
            lambda: all("逾期" in r.text for r in css_all(page, "#transfers tbody tr")),
            "only overdue rows",
        )

        css(row := visible(page, f'tr[data-transfer-id="{transfer_id}"]'), "a").click()
        wait_for(lambda: "逾期" in css(page, "#title").text, "the overdue mark on the page")
    finally:
        del server.app.state.transfer_clock
