"""打印 in the console: a transfer's page and a material's trace download the A4 PDF
forms; a console page prints without its header, navigation and buttons; the QR code
of a downloaded form opens the check page, which says (without signing in) whether the
form matches the chain."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests._support.paper import needs_paper_tools, pdf_text, scan_qr
from tests.console._server import Registered, Server, new_cadre, register_material
from tests.console._ui import (
    css,
    css_all,
    screenshot,
    sign_in,
    visible,
    wait_for,
    wait_status,
    wait_verdict,
)

pytestmark = needs_paper_tools


@pytest.fixture(scope="module")
def receiver_account(server: Server) -> None:
    """The receiving unit's own chain account (a dispatch needs an addressee account);
    another module may have provisioned it already in this session."""
    from transfer.db.models import TransferPeer, Unit
    from transfer.services.transfer_units import give_chain_account

    state = server.app.state.notary
    admin_key = bytes.fromhex((server.home / "keys" / "admin.key").read_text("ascii").strip())
    with state.write_sessions() as s:
        unit = s.scalar(select(Unit).where(Unit.code == server.receiver.unit_code))
        assert unit is not None
        if s.get(TransferPeer, unit.id) is None:
            give_chain_account(s, state.notary.deployment, unit, admin_key=admin_key)
            s.commit()


def _dispatched(server: Server, tmp: Path, no: str) -> tuple[Registered, dict[str, Any]]:
    from clients.demo import sample_pdf

    cadre = new_cadre("19491231")
    reg = register_material(server, server.sender, sample_pdf(no), tmp / "m.pdf", cadre)
    with server.client(server.sender) as c:
        r = c.post(
            "/v1/transfers",
            json={
                "receiver": server.receiver.unit_code,
                "volume_ids": [reg.volume_id],
                "reason": "干部调动",
                "transfer_no": no,
            },
        )
        assert r.status_code == 201, r.text
        tid = r.json()["transfer_id"]
        for step in ("package", "dispatch"):
            assert c.post(f"/v1/transfers/{tid}/{step}", json={}).status_code == 200
        return reg, dict(c.get(f"/v1/transfers/{tid}").json())


def _downloaded(downloads: Path, name: str) -> Path:
    path = downloads / name
    wait_for(lambda: path.exists() and path.stat().st_size > 0, f"the download {name}")
    wait_for(lambda: not list(downloads.glob("*.crdownload")), "the download to finish")
    return path


def _displayed(page: Any, selector: str) -> bool:
    return any(e.is_displayed() for e in css_all(page, selector))


def test_transfer_page_prints_its_forms_and_the_qr_opens_the_check(
    receiver_account: None, page: Any, server: Server, downloads: Path, tmp_path: Path
) -> None:
    _, t = _dispatched(server, tmp_path, "组转字〔2026〕31号")
    tid = t["transfer_id"]
    sign_in(page, server, server.sender)
    page.get(server.url(f"/console/transfer.html?id={tid}"))
    visible(page, '[data-action="print-notice"]')
    # Neither 回执 nor 退回单 before the receiver answers.
    assert not css_all(page, '[data-action="print-receipt"]')
    css(page, "#print-cadre").send_keys("欧阳明远")
    css(page, "#print-handler").send_keys("司马经办")
    css(page, '[data-action="print-notice"]').click()
    wait_status(page, "已下载")
    screenshot(page, "transfer-print")
    pdf = _downloaded(downloads, f"{tid}-notice.pdf")
    text = pdf_text(pdf)
    assert "干部人事档案转递通知单" in text and "组转字〔2026〕31号" in text
    assert t["package_root"] in text
    assert "现将欧阳明远同志" in text and "经办人司马经办" in text

    # Printing the page itself: the content without header, navigation and buttons.
    page.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert _displayed(page, "#notice")
        for hidden in (".bar", "nav", "button", "#print", "#status"):
            assert not _displayed(page, hidden), hidden
    finally:
        page.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    assert _displayed(page, ".bar")

    # The form's QR code opens the check page, signed out.
    url = scan_qr(pdf)
    assert url.startswith(server.url("/console/check.html#v=1&t=transfer&"))
    page.execute_script("sessionStorage.clear()")
    page.get(url)
    verdict = wait_verdict(page)
    assert "与链上记录一致" in verdict
    assert "核验通过" in css(page, "#summary").text
    assert t["package_root"] in css(page, "#claimed").text
    screenshot(page, "check-genuine")

    page.get("about:blank")
    page.get(re.sub(r"root=[0-9a-f]+", "root=" + "ab" * 32, url))
    verdict = wait_verdict(page)
    assert "与链上记录不符" in verdict
    assert "转递包根" in css(page, "#summary").text
    bad = css(page, '#checks li[data-ok="false"]')
    assert bad.get_attribute("data-check") == "root" and "不符" in bad.text
    screenshot(page, "check-tampered")


def test_material_trace_prints_its_evidence_certificate(
    page: Any, server: Server, downloads: Path, tmp_path: Path
) -> None:
    from clients.demo import sample_pdf

    cadre = new_cadre("19491231")
    reg = register_material(server, server.sender, sample_pdf("ev"), tmp_path / "e.pdf", cadre)
    sign_in(page, server, server.sender)
    page.get(server.url(f"/console/provenance.html?volume={reg.volume_id}"))
    button = visible(page, f'[data-action="print-evidence"][data-material-id="{reg.material_id}"]')
    button.click()
    wait_status(page, "存证证明已下载")
    pdf = _downloaded(downloads, f"{reg.material_id}-evidence.pdf")
    text = pdf_text(pdf)
    assert "电子档案存证证明" in text and reg.receipt["anchor"]["tx_hash"] in text
