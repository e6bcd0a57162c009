"""Printable forms: ``notary transfer print`` and ``notary receipt print`` write A4 PDFs
whose text carries the record's fields and whose QR code leads to a check against the
chain that passes for the genuine record and names the field of a tampered one.

Each PDF is read as a person or a scanner would: its text through poppler's
``pdftotext``, its QR code from the rendered page (``pdftoppm``) through zbar's
``zbarimg`` (Debian packages installed by scripts/dev.sh).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select

from tests._support.paper import needs_paper_tools, pdf_pages, pdf_text, scan_qr
from tests._support.served import Service, new_volume, running_service, write_materials
from transfer.db.models import Transfer
from transfer.db.session import make_engine, write_sessionmaker
from transfer.services.setup import settings_for

TX = re.compile(r"0x[0-9a-f]{64}")

pytestmark = needs_paper_tools


def _env(service: Service, unit: str) -> dict[str, str]:
    return {"NOTARY_URL": service.url, "NOTARY_API_KEY": service.keys[unit]}


def follow(url: str) -> dict[str, Any]:
    """What the check page does with the URL it is opened at: its fragment becomes the
    query of GET /v1/check (no API key: whoever holds the paper may check it)."""
    parts = urlsplit(url)
    assert parts.path == "/console/check.html"
    r = httpx.get(f"{parts.scheme}://{parts.netloc}/v1/check?{parts.fragment}", timeout=30)
    assert r.status_code == 200, r.text
    return dict(r.json())


def tampered(url: str, key: str, value: str) -> str:
    return re.sub(rf"([#&]){key}=[^&]*", rf"\g<1>{key}={value}", url)


def _volume(service: Service, tmp_path: Path, n: int) -> tuple[str, list[dict[str, Any]]]:
    vol = new_volume(service, "UNIT-A")
    names = write_materials(tmp_path / vol, n)
    ups = []
    with service.client("UNIT-A") as c:
        for i, name in enumerate(names, 1):
            up = c.upload_material(
                vol,
                tmp_path / vol / name,
                category=str(i % 2 + 1),
                seq_no=i,
                pages=i + 1,
                title=f"干部履历表第{i}份",
                formation_date=f"199{i}-07-01",
            )
            ups.append(up.material)
        for m in ups:
            assert c.receipt(str(m["id"]), wait=30).anchored
    return vol, ups


def _send(service: Service, cli: Any, vol: str, no: str) -> dict[str, Any]:
    a = _env(service, "UNIT-A")
    with service.client("UNIT-A") as c:
        t = c.create_transfer(
            transfer_no=no, volume_ids=[vol], receiver="UNIT-B", reason="干部调动（交流任职）"
        )
    r = cli("transfer", "send", t["transfer_id"], env=a)
    assert r.code == 0, r.err
    with service.client("UNIT-A") as c:
        return dict(c.get_transfer(t["transfer_id"]))


@pytest.fixture(scope="module")
def sent(service: Service, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A dispatched transfer of one volume with three materials."""
    from clients.cli import run

    tmp = tmp_path_factory.mktemp("forms")
    vol, ups = _volume(service, tmp, 3)
    with service.client("UNIT-A") as c:
        t = c.create_transfer(
            transfer_no="组转字〔2026〕12号",
            volume_ids=[vol],
            receiver="UNIT-B",
            reason="干部调动（交流任职）",
        )
    assert run(["transfer", "send", t["transfer_id"], *_opts(service, "UNIT-A")]) == 0
    with service.client("UNIT-A") as c:
        return {"transfer": c.get_transfer(t["transfer_id"]), "materials": ups, "volume": vol}


def _opts(service: Service, unit: str) -> list[str]:
    return ["--url", service.url, "--key", service.keys[unit]]


def test_notice_prints_the_transfer_and_its_qr_checks_on_chain(
    service: Service, cli: Any, sent: dict[str, Any], tmp_path: Path
) -> None:
    t = sent["transfer"]
    pdf = tmp_path / "notice.pdf"
    r = cli("transfer", "print", t["transfer_id"], "--form", "notice", "-o", pdf,
            env=_env(service, "UNIT-A"))  # fmt: skip
    assert r.code == 0, r.err
    assert "干部人事档案转递通知单已保存" in r.out
    assert pdf.read_bytes().startswith(b"%PDF-") and pdf_pages(pdf) == 1
    text = pdf_text(pdf)
    for expected in (
        "干部人事档案转递通知单",
        "组转字〔2026〕12号",
        "甲市委组织部档案室（UNIT-A）",  # 转出单位
        "乙县人社局档案室（UNIT-B）",  # 接收单位
        "正本1卷",
        "副本0卷",
        "3份材料",
        "干部调动（交流任职）",
        "经办人",
        "转出单位（盖章）",
        "干部人事档案转递回执",  # the stub to return
        "接收单位（盖章）",
        t["transfer_id"],
        t["package_root"],
    ):
        assert expected in text, expected
    dispatch_txs = [
        e["tx"] for e in _timeline(service, t["transfer_id"]) if e["event"] == "dispatch"
    ]
    assert dispatch_txs and dispatch_txs[0][0] in text

    url = scan_qr(pdf)
    assert url.startswith(service.url + "/console/check.html#v=1&t=transfer&")
    answer = follow(url)
    assert answer["valid"] is True, answer
    assert answer["summary"].startswith("核验通过")
    assert {m["field"] for m in answer["matched"]} == {"root", "tx"}

    # A form whose package root was altered: the check names the field.
    forged = tampered(url, "root", "ab" * 32)
    answer = follow(forged)
    assert answer["valid"] is False
    assert [m["field"] for m in answer["mismatches"]] == ["root"]
    assert "转递包根" in answer["summary"]
    assert t["package_root"] not in str(answer)  # the chain's value is not given away
    # And one naming another transaction.
    answer = follow(tampered(url, "tx", "0x" + "12" * 32))
    assert answer["valid"] is False and [m["field"] for m in answer["mismatches"]] == ["tx"]
    assert "链上交易" in answer["summary"]


def _timeline(service: Service, transfer_id: str) -> list[dict[str, Any]]:
    r = httpx.get(
        f"{service.url}/v1/transfers/{transfer_id}/timeline",
        headers={"Authorization": f"Bearer {service.keys['UNIT-A']}"},
    )
    assert r.status_code == 200, r.text
    return list(r.json()["events"])


def test_a_tampered_record_prints_a_form_the_check_refuses(
    service: Service, cli: Any, tmp_path: Path
) -> None:
    """The database row's package root changed after dispatch: the form printed from it
    carries the altered root, and its own QR code leads to a refusal naming it."""
    vol, _ = _volume(service, tmp_path, 1)
    t = _send(service, cli, vol, "组转字〔2026〕14号")
    engine = make_engine(settings_for(service.home).database_url_resolved)
    try:
        with write_sessionmaker(engine)() as s:
            row = s.scalar(select(Transfer).where(Transfer.transfer_id == t["transfer_id"]))
            assert row is not None
            row.package_root = "0" * 64
            s.commit()
        pdf = tmp_path / "notice.pdf"
        r = cli("transfer", "print", t["transfer_id"], "-o", pdf, env=_env(service, "UNIT-A"))
        assert r.code == 0, r.err
        assert "0" * 64 in pdf_text(pdf)
        answer = follow(scan_qr(pdf))
        assert answer["valid"] is False
        assert [m["field"] for m in answer["mismatches"]] == ["root"]
        assert "转递包根" in answer["summary"] and "不符" in answer["summary"]
    finally:
        with write_sessionmaker(engine)() as s:
            row = s.scalar(select(Transfer).where(Transfer.transfer_id == t["transfer_id"]))
            assert row is not None
            row.package_root = t["package_root"]
            s.commit()
        engine.dispose()


def test_list_has_one_row_per_material_in_category_order(
    service: Service, cli: Any, sent: dict[str, Any], tmp_path: Path
) -> None:
    t = sent["transfer"]
    pdf = tmp_path / "list.pdf"
    r = cli(
        "transfer",
        "print",
        t["transfer_id"],
        "--form",
        "list",
        "-o",
        pdf,
        env=_env(service, "UNIT-B"),
    )  # fmt: skip  (the receiver prints it too)
    assert r.code == 0, r.err
    raw = subprocess.run(
        ["pdftotext", "-layout", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True
    ).stdout.decode()
    text = pdf_text(pdf)
    for label in ("转递材料目录", "序号", "类号", "材料名称", "形成时间", "页数", "SM3（前16位）"):
        assert label in text, label
    # Materials 2 (类号 1) then 1 and 3 (类号 2): 类号-序号, title, date, pages, SM3 prefix.
    by_seq = {i + 1: m for i, m in enumerate(sent["materials"])}
    rows = [line.split() for line in raw.splitlines() if re.match(r"\s*\d+\s+正本", line)]
    assert [r[2] for r in rows] == ["1-2", "2-1", "2-3"]
    for row in rows:
        seq = int(row[2].split("-")[1])
        assert row[3] == f"干部履历表第{seq}份"
        assert row[4] == f"199{seq}-07-01" and row[5] == str(seq + 1)
        assert row[6] == by_seq[seq]["sm3"][:16]
    assert follow(scan_qr(pdf))["valid"] is True


def test_receipt_prints_the_signed_receipt_and_its_chain_tx(
    service: Service, cli: Any, tmp_path: Path
) -> None:
    vol, _ = _volume(service, tmp_path, 2)
    t = _send(service, cli, vol, "组转字〔2026〕15号")
    b = _env(service, "UNIT-B")
    pdf = tmp_path / "receipt.pdf"
    r = cli("transfer", "print", t["transfer_id"], "--form", "receipt", "-o", pdf, env=b)
    assert r.code == 1 and r.err.count("\n") == 1 and "尚无回执" in r.err  # not yet answered
    assert not pdf.exists() and not list(tmp_path.glob("*.part"))
    assert cli("transfer", "accept", t["transfer_id"], env=b).code == 0
    with service.client("UNIT-B") as c:
        done = c.get_transfer(t["transfer_id"])
    r = cli("transfer", "print", t["transfer_id"], "--form", "receipt", "-o", pdf, env=b)
    assert r.code == 0, r.err
    text = pdf_text(pdf)
    receive_txs = [e["tx"] for e in _timeline(service, t["transfer_id"]) if e["event"] == "accept"]
    for expected in (
        "干部人事档案转递回执",
        "组转字〔2026〕15号",
        "已签收",
        "四性检测结果",
        "真实性22",  # 检测项, 通过, 检测材料数
        "安全性22",
        done["outcome_hash"],
        *TX.findall(str(receive_txs)),
    ):
        assert expected in text, expected
    answer = follow(scan_qr(pdf))
    assert answer["valid"] is True and answer["kind"] == "receipt", answer
    answer = follow(tampered(scan_qr(pdf), "h", "cd" * 32))
    assert answer["valid"] is False and [m["field"] for m in answer["mismatches"]] == ["h"]
    assert "文书摘要" in answer["summary"]


def test_rejection_prints_the_reasons(service: Service, cli: Any, tmp_path: Path) -> None:
    vol, _ = _volume(service, tmp_path, 1)
    t = _send(service, cli, vol, "组转字〔2026〕16号")
    b = _env(service, "UNIT-B")
    assert cli("transfer", "reject", t["transfer_id"], "--reason", "材料不齐全", env=b).code == 0
    pdf = tmp_path / "rejection.pdf"
    r = cli("transfer", "print", t["transfer_id"], "--form", "rejection", "-o", pdf,
            env=_env(service, "UNIT-A"))  # fmt: skip
    assert r.code == 0, r.err
    text = pdf_text(pdf)
    with service.client("UNIT-A") as c:
        done = c.get_transfer(t["transfer_id"])
    for expected in (
        "干部人事档案退回单",
        "退回原因",
        "材料不齐全",
        "退回单摘要",
        done["outcome_hash"],
    ):
        assert expected in text, expected
    assert len(TX.findall(text)) >= 1  # the rejectVolume transaction
    url = scan_qr(pdf)
    assert "&t=rejection&" in url and follow(url)["valid"] is True
    # The same act presented as a receipt: the chain says it was a rejection.
    answer = follow(url.replace("t=rejection", "t=receipt"))
    assert answer["valid"] is False and answer["mismatches"][0]["field"] == "outcome"
    r = cli("transfer", "print", t["transfer_id"], "--form", "receipt", "-o", tmp_path / "x.pdf",
            env=_env(service, "UNIT-A"))  # fmt: skip
    assert r.code == 1 and "尚无回执" in r.err


def test_evidence_certificate_of_a_material(service: Service, cli: Any, tmp_path: Path) -> None:
    _, ups = _volume(service, tmp_path, 1)
    m = ups[0]
    with service.client("UNIT-A") as c:
        receipt = c.receipt(str(m["id"]), wait=30).document
    assert receipt is not None
    pdf = tmp_path / "evidence.pdf"
    r = cli("receipt", "print", m["id"], "-o", pdf, env=_env(service, "UNIT-A"))
    assert r.code == 0, r.err
    text = pdf_text(pdf)
    anchor = receipt["anchor"]
    for expected in (
        "电子档案存证证明",
        "干部履历表第1份",
        m["sm3"],
        m["cid"],
        f"第{receipt['leaf_index']}条",
        anchor["tx_hash"],
        f"区块{anchor['block_number']}",
        f"{m['size']:,}字节（明文）",
    ):
        assert expected in text, expected
    url = scan_qr(pdf)
    assert "&t=material&" in url
    answer = follow(url)
    assert answer["valid"] is True, answer
    assert {x["field"] for x in answer["matched"]} == {"sm3", "n", "tx"}
    answer = follow(tampered(url, "sm3", "ef" * 32))
    assert answer["valid"] is False and [x["field"] for x in answer["mismatches"]] == ["sm3"]
    assert "材料SM3摘要" in answer["summary"].replace(" ", "")
    # The file exists already: refused, kept as it was.
    before = pdf.read_bytes()
    r = cli("receipt", "print", m["id"], "-o", pdf, env=_env(service, "UNIT-A"))
    assert r.code == 2 and "文件已存在" in r.err and pdf.read_bytes() == before


def test_forms_need_a_party_and_a_key(service: Service, sent: dict[str, Any]) -> None:
    t, m = sent["transfer"], sent["materials"][0]
    notice = f"{service.url}/v1/transfers/{t['transfer_id']}/forms/notice.pdf"
    assert httpx.get(notice).status_code == 401
    bad = httpx.get(
        f"{service.url}/v1/transfers/{t['transfer_id']}/forms/cover.pdf",
        headers={"Authorization": f"Bearer {service.keys['UNIT-A']}"},
    )
    assert bad.status_code == 422
    # UNIT-B holds no custody of the material yet (the transfer is not received).
    r = httpx.get(
        f"{service.url}/v1/materials/{m['id']}/evidence.pdf",
        headers={"Authorization": f"Bearer {service.keys['UNIT-B']}"},
    )
    assert r.status_code == 404 and "不由本单位保管" in r.json()["detail"]


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("", "版本"),
        ("v=2&t=transfer&id=x", "版本"),
        ("v=1&t=cover&id=x", "文书类型"),
        ("v=1&t=transfer&id=x&root=XYZ", "root"),
        ("v=1&t=transfer&id=x&x=1", "未知字段"),
        ("v=1&t=transfer&id=x&id=y", "重复"),
        ("v=1&t=transfer&id=x" + "&v=1" * 20, "字段过多"),
        ("v=1&t=material&id=x&n=-1", "n"),
    ],
)
def test_check_refuses_a_malformed_reference(service: Service, query: str, says: str) -> None:
    r = httpx.get(f"{service.url}/v1/check?{query}")
    assert r.status_code == 422 and says in r.json()["detail"]


def test_check_of_an_unknown_transfer_names_it(service: Service) -> None:
    r = httpx.get(f"{service.url}/v1/check?v=1&t=transfer&id=no-such-transfer&root={'a' * 64}")
    answer = r.json()
    assert answer["valid"] is False and answer["mismatches"][0]["field"] == "id"


def test_names_written_on_the_notice_are_printed_and_never_stored(
    service: Service, cli: Any, sent: dict[str, Any], tmp_path: Path
) -> None:
    t = sent["transfer"]
    pdf = tmp_path / "filled.pdf"
    a = _env(service, "UNIT-A")
    r = cli("transfer", "print", t["transfer_id"], "-o", pdf, "--cadre-name", "欧阳明远",
            "--handler", "司马经办", env=a)  # fmt: skip
    assert r.code == 0, r.err
    text = pdf_text(pdf)
    assert "现将欧阳明远同志的干部人事档案转去" in text
    assert "转来欧阳明远同志的干部人事档案" in text  # the receipt stub
    assert "经办人司马经办" in text
    assert follow(scan_qr(pdf))["valid"] is True  # the QR does not carry them
    # Neither the database, nor its journal, nor the service's log holds the names.
    db = Path(settings_for(service.home).database_url_resolved.removeprefix("sqlite:///"))
    assert db.is_file()
    for f in [*db.parent.glob(db.name + "*"), service.log]:
        data = f.read_bytes()
        assert "欧阳明远".encode() not in data and "司马经办".encode() not in data, f
    r = cli("transfer", "print", t["transfer_id"], "--form", "list", "-o", tmp_path / "l.pdf",
            "--cadre-name", "欧阳明远", env=a)  # fmt: skip
    assert r.code == 2 and "--form notice" in r.err and not (tmp_path / "l.pdf").exists()


def test_a_notice_printed_before_dispatch_says_so(
    service: Service, cli: Any, tmp_path: Path
) -> None:
    vol, _ = _volume(service, tmp_path, 1)
    with service.client("UNIT-A") as c:
        t = c.create_transfer(
            transfer_no="组转字〔2026〕17号", volume_ids=[vol], receiver="UNIT-B", reason="调动"
        )
    pdf = tmp_path / "early.pdf"
    a = _env(service, "UNIT-A")
    assert cli("transfer", "print", t["transfer_id"], "-o", pdf, env=a).code == 0
    text = pdf_text(pdf)
    assert "转递包根尚未打包" in text and "转出交易尚未上链" in text
    url = scan_qr(pdf)
    assert "root=" not in url and "tx=" not in url
    answer = follow(url)
    assert answer["valid"] is False and answer["mismatches"][0]["field"] == "id"
    assert "未转出" in answer["mismatches"][0]["message"]
    assert cli("transfer", "send", t["transfer_id"], env=a).code == 0
    answer = follow(url)  # the early paper, after dispatch: reprint it
    assert answer["valid"] is False and "重新打印" in answer["mismatches"][0]["message"]


@pytest.mark.slow
def test_the_qr_code_uses_the_public_url_when_one_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Any
) -> None:
    """Behind a proxy the service is reached at another address than it listens on:
    NOTARY_PUBLIC_URL is what the QR codes lead to."""
    monkeypatch.setenv("NOTARY_PUBLIC_URL", "https://archive.example.gov.cn")
    with running_service(tmp_path / "home") as svc:
        vol = new_volume(svc, "UNIT-A")
        write_materials(tmp_path / "m", 1)
        with svc.client("UNIT-A") as c:
            c.upload_material(vol, tmp_path / "m" / "m0.pdf", category="1", seq_no=1, pages=1,
                              title="履历", formation_date="1990-01-01")  # fmt: skip
            t = c.create_transfer(
                transfer_no="组转字〔2026〕1号", volume_ids=[vol], receiver="UNIT-B", reason="调动"
            )
        pdf = tmp_path / "n.pdf"
        r = cli("transfer", "print", t["transfer_id"], "-o", pdf, env=_env(svc, "UNIT-A"))
        assert r.code == 0, r.err
        url = scan_qr(pdf)
        assert url.startswith("https://archive.example.gov.cn/console/check.html#v=1&")
