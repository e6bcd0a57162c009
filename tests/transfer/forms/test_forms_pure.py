"""The QR reference format (docs/qr-format.md) and the form layout, without a service:
references round-trip and malformed ones are refused; the same record renders the same
bytes; a long catalogue runs over pages with its header repeated; the QR code drawn on
the page decodes to the reference."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests._support.paper import needs_paper_tools, pdf_text, scan_qr
from transfer.forms import documents as doc
from transfer.forms.qr import CheckRef, RefError, RefKind, parse_ref

ROOT = "ab" * 32
TX = "0x" + "cd" * 32


def _facts(**kw: object) -> doc.TransferFacts:
    base: dict[str, object] = dict(
        transfer_id="tr-0123456789abcdef0123",
        transfer_no="组转字〔2026〕12号",
        classification="机密",
        reason="干部调动",
        sender=doc.Party("UNIT-A", "甲市委组织部档案室"),
        receiver=doc.Party("UNIT-B", "乙县人社局档案室"),
        cadre_ref="ef" * 32,
        volumes_main=1,
        volumes_copy=1,
        material_count=120,
        created_at=datetime(2026, 12, 1, 2, 0, tzinfo=UTC),
        deadline=datetime(2026, 12, 1, 2, 0, tzinfo=UTC) + timedelta(days=60),
        dispatched_at=datetime(2026, 12, 1, 3, 0, tzinfo=UTC),
        state_zh="已转出",
        package_root=ROOT,
        chain_id=13370001,
        contract="0x" + "12" * 20,
        dispatch_txs=(doc.ChainTx(TX, 7, "vol-1"),),
    )
    base.update(kw)
    return doc.TransferFacts(**base)  # type: ignore[arg-type]


def test_a_reference_round_trips_through_its_url() -> None:
    ref = CheckRef(RefKind.RECEIPT, "tr-1", chain_id=5, root=ROOT, act="01" * 32, tx=(TX, TX))
    url = ref.url("https://archive.example.gov.cn/")
    assert url == (
        "https://archive.example.gov.cn/console/check.html#v=1&t=receipt&id=tr-1&c=5"
        f"&root={ROOT}&h={'01' * 32}&tx={TX},{TX}"
    )
    assert parse_ref(url) == ref
    assert parse_ref(ref.fragment()) == ref
    material = CheckRef(RefKind.MATERIAL, "3f2b0c4e-1d2a-4b5c-8d9e-0a1b2c3d4e5f", sm3=ROOT,
                        leaf=0, tx=(TX,))  # fmt: skip
    assert parse_ref(material.url("http://x")) == material


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("v=1&t=transfer", "缺少编号"),
        ("v=1&t=transfer&id=../etc", "编号"),
        (f"v=1&t=transfer&id=x&root={ROOT.upper()}", "root"),
        (f"v=1&t=transfer&id=x&tx={TX[2:]}", "交易哈希"),
        (f"v=1&t=transfer&id=x&sm3={ROOT}", "不含 sm3"),
        (f"v=1&t=material&id=x&root={ROOT}", "不含 root"),
        (f"v=1&t=transfer&id=x&h={ROOT}", "不含 h"),
        ("v=1&t=material&id=x&n=1e3", "十进制"),
        # A regular expression's $ also matches before a final newline (%0A in a URL).
        ("v=1&t=transfer&id=x%0A", "编号"),
        (f"v=1&t=transfer&id=x&root={ROOT}%0A", "root"),
        (f"v=1&t=transfer&id=x&tx={TX}%0A", "交易哈希"),
        ("v=1&t=material&id=x&n=1%0A", "十进制"),
        ("v=1.0&t=material&id=x", "版本"),
    ],
)
def test_a_malformed_reference_is_refused_in_chinese(text: str, says: str) -> None:
    with pytest.raises(RefError, match=re.escape(says)):
        parse_ref(text)


def test_the_same_record_renders_the_same_bytes() -> None:
    url = CheckRef(RefKind.TRANSFER, "tr-1", root=ROOT, tx=(TX,)).url("http://x")
    first = doc.render_notice(_facts(), url)
    assert first.startswith(b"%PDF-") and first == doc.render_notice(_facts(), url)
    assert first != doc.render_notice(_facts(reason="退休"), url)


@needs_paper_tools
def test_a_long_catalogue_runs_over_pages_and_the_qr_decodes(tmp_path: Path) -> None:
    rows = [
        doc.CatalogueRow(
            "正本",
            str(i % 10 + 1),
            str(i),
            f"材料{i:03d}" + "很长的题名" * 8,
            "1990-01-01",
            "3",
            f"{i:064x}",
        )
        for i in range(1, 121)
    ]
    url = CheckRef(RefKind.TRANSFER, "tr-1", chain_id=5, root=ROOT, tx=(TX,)).url("http://x")
    pdf = tmp_path / "list.pdf"
    pdf.write_bytes(doc.render_list(_facts(), rows, url))
    pages = [p for p in pdf_text(pdf, by_page=True).split("\f") if p]
    assert len(pages) >= 3
    for i, page in enumerate(pages, 1):
        assert f"第{i}页" in page
        if "正本" in page:  # every page with rows repeats the table's header
            assert "材料名称" in page
    text = "".join(pages)
    assert all(f"材料{i:03d}" in text for i in range(1, 121))
    assert "…" in text  # long titles cut to their cell
    assert scan_qr(pdf) == url
