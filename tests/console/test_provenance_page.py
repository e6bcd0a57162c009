"""本单位案卷 and 来源追溯: the volumes a unit holds and the timeline of each, with the
log position and chain anchor of every event."""

from __future__ import annotations

from typing import Any

from tests.console._server import Registered, Server
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


def test_volumes_list_links_to_the_volume_timeline(
    page: Any, server: Server, registered: Registered
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    sign_in(page, server, server.sender, next_page="volumes.html")
    row = visible(page, f'tr[data-volume-id="{registered.volume_id}"]')
    assert "正本" in row.text and "在库" in row.text
    screenshot(page, "volumes")

    link = css(row, 'a[data-action="provenance"]')
    assert link.text == "来源追溯"
    page.execute_script("arguments[0].focus()", link)
    ActionChains(page).send_keys(Keys.ENTER).perform()  # links work from the keyboard
    wait_status(page, "已锚定上链")
    assert active(page) == css(page, "#result-title")

    kinds = [li.get_attribute("data-kind") for li in css_all(page, "#timeline > li")]
    assert kinds[:2] == ["custody.registered", "registered"]
    first, second = css_all(page, "#timeline > li")[:2]
    assert "建档登记" in first.text and "至 SENDER" in first.text
    assert "材料登记" in second.text and registered.material_id in second.text
    assert "已锚定上链" in second.text
    assert registered.receipt["anchor"]["tx_hash"][:18] in second.text
    assert "干部履历表" in css(page, "#volume-materials").text
    screenshot(page, "provenance-volume")

    css(page, "#volume-materials a").click()
    wait_for(lambda: f"material={registered.material_id}" in page.current_url, "material page")
    wait_status(page, "项")
    assert css(page, "#kind-material").is_selected()
    assert "材料登记" in css(page, "#timeline").text


def test_a_malformed_id_is_refused_and_another_units_volume_is_not_found(
    page: Any, server: Server, registered: Registered
) -> None:
    from selenium.webdriver.common.keys import Keys

    sign_in(page, server, server.receiver, next_page="provenance.html")
    field = visible(page, "#target-id")
    field.send_keys("12345", Keys.ENTER)
    wait_status(page, "请输入案卷或材料的 ID")
    assert field.get_attribute("aria-invalid") == "true"
    field.clear()
    # The sender's volume: the receiver does not hold it, and is not told who does.
    field.send_keys(registered.volume_id, Keys.ENTER)
    wait_status(page, "不存在或不由本单位保管")


def test_a_custody_record_that_contradicts_its_log_entry_is_flagged(
    page: Any, server: Server, registered: Registered
) -> None:
    """The registration row moved to the receiving unit behind the service's back: the
    timeline still shows it, marked as failing its check against the logged entry."""
    import uuid

    from sqlalchemy import select, update

    from transfer.db.models import CustodyEvent, Unit

    state = server.app.state.notary
    volume = uuid.UUID(registered.volume_id)
    with state.write_sessions() as s:
        receiver = s.scalars(select(Unit.id).where(Unit.code == server.receiver.unit_code)).one()
        original = s.scalars(
            select(CustodyEvent.to_unit_id).where(CustodyEvent.volume_id == volume)
        ).one()
        s.execute(
            update(CustodyEvent).where(CustodyEvent.volume_id == volume).values(to_unit_id=receiver)
        )
        s.commit()
    try:
        sign_in(page, server, server.sender, next_page=f"provenance.html?volume={volume}")
        wait_status(page, "项")
        first = css_all(page, "#timeline > li")[0]
        assert first.get_attribute("data-kind") == "custody.registered"
        alert = css(first, '[role="alert"]')
        assert "未通过核验（entry）" in alert.text and "to" in alert.text
        # The material's own registration is not flagged.
        assert not css_all(css_all(page, "#timeline > li")[1], '[role="alert"]')
    finally:
        with state.write_sessions() as s:
            s.execute(
                update(CustodyEvent)
                .where(CustodyEvent.volume_id == volume)
                .values(to_unit_id=original)
            )
            s.commit()
