"""``notary ingest`` with a manifest made in a spreadsheet: the template, Chinese column
headers in GBK, month-only dates, and a corrected manifest run again registering
nothing twice."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests._support.served import Service, new_volume, write_materials


def _env(service: Service) -> dict[str, str]:
    return {"NOTARY_URL": service.url, "NOTARY_API_KEY": service.keys["UNIT-A"]}


def test_template_then_a_gbk_manifest_with_chinese_headers_then_the_same_again(
    service: Service, cli: Any, tmp_path: Path
) -> None:
    # The template: Chinese header, an example row, UTF-8 with a BOM for spreadsheets.
    tpl = tmp_path / "清单模板.csv"
    r = cli("ingest", "--template", tpl)
    assert r.code == 0, r.err
    assert "清单模板已写入" in r.out
    raw = tpl.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.decode("utf-8-sig").splitlines()[0] == "文件,类号,顺序号,题名,形成日期,页数"
    r = cli("ingest", "--template", tpl)  # never overwrites
    assert r.code == 2 and "文件已存在" in r.err and r.err.count("\n") == 1

    # The clerk fills it in a spreadsheet and saves it as CSV on a Chinese Windows: GBK.
    vol = new_volume(service)
    names = write_materials(tmp_path / "scans", 3)
    manifest = tmp_path / "清单.csv"
    manifest.write_bytes(
        (
            "文件,类号,顺序号,题名,形成日期,页数\r\n"
            f"{names[0]},1,,干部履历表,1998-07,2\r\n"
            f"{names[1]},4-1,,学历证明,1994.07.01,1\r\n"
            f"{names[2]},9-1,,任免审批表,2003年5月,1\r\n"
            ",,,,,\r\n"  # the empty row a spreadsheet leaves
        ).encode("gbk")
    )
    args = ("ingest", tmp_path / "scans", "--volume", vol, "--manifest", manifest)
    r = cli(*args, env=_env(service))
    assert r.code == 0, r.out + r.err
    assert "共 3 行，成功 3，失败 0" in r.out
    with service.client() as c:
        registered = {m["title"]: m for m in c.volume_materials(vol)}
    assert registered["干部履历表"]["formation_date"] == "1998-07-01"  # month only: the 1st
    assert registered["学历证明"]["formation_date"] == "1994-07-01"
    assert registered["任免审批表"]["formation_date"] == "2003-05-01"

    # Run again (a corrected manifest, say): nothing is registered twice.
    r = cli(*args, env=_env(service))
    assert r.code == 0, r.out + r.err
    assert "成功 0，失败 0，重复未登记 3" in r.out
    assert "本卷已登记相同文件：1-1《干部履历表》" in r.out
    with service.client() as c:
        assert len(c.volume_materials(vol)) == 3

    # Deliberately registering the same file again needs saying so.
    one = tmp_path / "one.csv"
    one.write_text(f"file,category,title,formation_date,pages\n{names[0]},1,复印件,1998-07,2\n")
    r = cli(*args[:-1], one, "--allow-duplicates", "--json", env=_env(service))
    assert r.code == 0, r.out + r.err
    summary = json.loads(r.out)
    assert summary["registered"] == 1 and summary["skipped"] == 0


def test_a_row_with_a_bad_date_says_which_forms_are_accepted(
    service: Service, cli: Any, tmp_path: Path
) -> None:
    vol = new_volume(service)
    names = write_materials(tmp_path / "d", 1)
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"文件,类号,题名,形成日期,页数\n{names[0]},1,履历,7/1/1998,2\n", "utf-8")
    args = ("ingest", tmp_path / "d", "--volume", vol, "--manifest", manifest, "--json")
    r = cli(*args, env=_env(service))
    assert r.code == 1
    (failure,) = json.loads(r.out)["failures"]
    assert "形成日期须为 1998-07-01、1998-07 或 1998.07.01 的形式" in failure["reason"]


def test_ingest_without_its_arguments_says_how_to_use_it(cli: Any) -> None:
    r = cli("ingest")
    assert r.code == 2 and r.err.count("\n") == 1
    assert "notary ingest --template" in r.err
