"""Printed forms of a transfer between two centres: the receiving centre prints the
notice and the 回执 of a transfer whose dispatch the other centre sent to the chain, and
each form's QR reference checks on either centre's service (one chain)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from tests._support.centres import Centre
from tests._support.paper import needs_paper_tools, pdf_text, scan_qr
from tests.transfer.between_centres._flow import dispatched, verified

pytestmark = needs_paper_tools


def _scan(pdf: bytes, tmp: Path, name: str) -> tuple[str, str]:
    """The PDF's text (whitespace removed) and the QR code on its first page."""
    path = tmp / f"{name}.pdf"
    path.write_bytes(pdf)
    return pdf_text(path), scan_qr(path)


def _check(c: Centre, url: str) -> dict[str, object]:
    r = c.client.get(f"/v1/check?{urlsplit(url).fragment}")  # no API key
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_the_receiver_prints_forms_whose_qr_checks_on_both_centres(
    centres: tuple[Centre, Centre], tmp_path: Path
) -> None:
    a, b = centres
    out, _ = dispatched(a, b, 2)
    tid = out["transfer_id"]
    verified(b, out)

    # B's notice: the dispatch transaction is A's, read from the chain.
    r = b.get(f"/v1/transfers/{tid}/forms/notice.pdf")
    assert r.status_code == 200, r.text
    text, url = _scan(r.content, tmp_path, "notice")
    timeline = a.get(f"/v1/transfers/{tid}/timeline").json()
    dispatch_tx = next(e["tx"] for e in timeline["events"] if e["event"] == "dispatch")[0]
    assert out["package_root"] in text and dispatch_tx in text
    assert f"tx={dispatch_tx}" in url
    for centre in (a, b):
        answer = _check(centre, url)
        assert answer["valid"] is True, answer

    assert b.post(f"/v1/transfers/{tid}/receipt").status_code == 201
    r = b.get(f"/v1/transfers/{tid}/forms/receipt.pdf")
    assert r.status_code == 200, r.text
    text, url = _scan(r.content, tmp_path, "receipt")
    assert "干部人事档案转递回执" in text and "&t=receipt&" in url
    # A, before it syncs: its row has no outcome yet, the chain has the receipt.
    assert _check(a, url)["valid"] is True
    assert _check(b, url)["valid"] is True
    forged = re.sub(r"h=[0-9a-f]{64}", "h=" + "00" * 32, url)
    answer = _check(a, forged)
    assert answer["valid"] is False
    assert [m["field"] for m in answer["mismatches"]] == ["h"]  # type: ignore[attr-defined]
