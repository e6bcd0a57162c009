"""The verify page (核验): a file chosen or dropped is hashed in the browser and checked
with POST /v1/verify; the answer says whether, when, by whom and where it was anchored,
and the evidence receipt downloads as JSON."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from notary.crypto import sm3
from tests.console._server import Registered, Server
from tests.console._ui import (
    active,
    css,
    css_all,
    drop_file,
    screenshot,
    sign_in,
    visible,
    wait_for,
    wait_status,
)


def _open_verify(page: Any, server: Server) -> None:
    sign_in(page, server, server.auditor, next_page="verify.html")
    wait_for(lambda: page.current_url.endswith("verify.html"), "the verify page")
    visible(page, "#file")


def test_a_chosen_file_is_found_anchored_with_its_chain_reference(
    page: Any, server: Server, registered: Registered
) -> None:
    _open_verify(page, server)
    css(page, "#file").send_keys(str(registered.path))
    wait_status(page, "已登记并已锚定上链")

    content = registered.path.read_bytes()
    assert css(page, "#result-sm3").text == sm3(content).hex()
    # The focus moves to the result, so that keyboard and screen reader users land on it.
    assert active(page) == css(page, "#result-title")
    card = css(page, "article.registration")
    text = card.text
    anchor = registered.receipt["anchor"]
    assert "SENDER" in text  # by which unit
    assert registered.material_id in text
    assert "已锚定上链" in text
    assert str(anchor["block_number"]) in text
    assert css(card, '[data-field="tx-hash"]').text == anchor["tx_hash"]
    assert f"树大小 {registered.receipt['checkpoint']['checkpoint']['tree_size']}" in text
    assert "文件未上传" in css(page, "#result-body").text
    screenshot(page, "verify-anchored")


def test_the_receipt_downloads_as_json(
    page: Any, server: Server, registered: Registered, downloads: Path
) -> None:
    _open_verify(page, server)
    css(page, "#file").send_keys(str(registered.path))
    wait_status(page, "已登记并已锚定上链")
    before = set(downloads.iterdir())
    css(page, '[data-action="download-receipt"]').click()
    wait_status(page, "存证回执已下载")

    def finished() -> Path | None:
        new = [
            p
            for p in set(downloads.iterdir()) - before
            if p.suffix == ".json" and not p.name.endswith(".crdownload")
        ]
        return new[0] if new else None

    saved = wait_for(finished, "the downloaded receipt")
    time.sleep(0.1)
    doc = json.loads(saved.read_text("utf-8"))
    assert doc == registered.receipt
    assert saved.name.startswith("receipt-")


def test_a_dropped_unknown_file_is_not_registered(
    page: Any, server: Server, tmp_path: Path
) -> None:
    unknown = tmp_path / "伪造的学历证明.pdf"
    unknown.write_bytes(b"%PDF-1.4\n% never registered\n%%EOF\n")
    _open_verify(page, server)
    drop_file(page, "#dropzone", unknown)
    wait_status(page, "未找到此摘要的存证登记")
    assert "未登记" in css(page, "#verdict").text
    assert css(page, "#result-sm3").text == sm3(unknown.read_bytes()).hex()
    assert css_all(page, "article.registration") == []
    screenshot(page, "verify-unknown")


def test_a_dropped_registered_file_and_its_receipt_verify(
    page: Any, server: Server, registered: Registered, tmp_path: Path
) -> None:
    _open_verify(page, server)
    drop_file(page, "#dropzone", registered.path)
    wait_status(page, "已登记并已锚定上链")
    receipt = tmp_path / "receipt.json"
    receipt.write_text(json.dumps(registered.receipt), "utf-8")
    css(page, "#receipt-file").send_keys(str(receipt))
    wait_status(page, "回执核验通过")
    text = css(page, "#receipt-result").text
    assert "是（已比对）" in text  # bound to the file hashed above
    assert str(registered.receipt["anchor"]["block_number"]) in text

    # The file's own bytes reach the API's strict reader: a repeated key (the wrong
    # leaf_index first, the right one last) is refused, not resolved by JSON.parse.
    right = f'"leaf_index": {registered.receipt["leaf_index"]}'
    twice = json.dumps(registered.receipt).replace(right, f'"leaf_index": 999, {right}')
    duplicated = tmp_path / "receipt-duplicated.json"
    duplicated.write_text(twice, "utf-8")
    css(page, "#receipt-file").send_keys(str(duplicated))
    wait_status(page, "回执核验未通过")
    assert "format" in css(page, "#receipt-result").text


def test_a_digest_typed_in_is_checked_and_a_malformed_one_refused(
    page: Any, server: Server, registered: Registered
) -> None:
    from selenium.webdriver.common.keys import Keys

    _open_verify(page, server)
    field = css(page, "#sm3")
    field.send_keys("not-a-digest", Keys.ENTER)
    wait_status(page, "64 位十六进制")
    assert field.get_attribute("aria-invalid") == "true"
    field.clear()
    field.send_keys(sm3(registered.path.read_bytes()).hex().upper(), Keys.ENTER)
    wait_status(page, "已登记并已锚定上链")
