"""User errors are one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from notary._internal.net import free_port
from tests._support.served import Service, new_volume, write_materials


def one_line(r: Any) -> str:
    assert r.code != 0, r.out
    assert "Traceback" not in r.err and r.err.count("\n") == 1, r.err
    return str(r.err)


def test_unreachable_service(cli: Any, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    err = one_line(cli("provenance", "v", "--url", url, "--key", "an_x"))
    assert "无法连接服务" in err
    err = one_line(cli("log", "checkpoints", "--url", "ftp://example", "--key", "k"))
    assert "http://" in err


def test_bad_and_missing_key(service: Service, cli: Any) -> None:
    err = one_line(cli("log", "checkpoints", "--url", service.url, "--key", "an_" + "A" * 43))
    assert "401" in err and "API 密钥无效" in err
    err = one_line(cli("log", "checkpoints", "--url", service.url, env={"NOTARY_API_KEY": ""}))
    assert "缺少 API 密钥" in err


def test_missing_files(service: Service, cli: Any, tmp_path: Path) -> None:
    env = {"NOTARY_URL": service.url, "NOTARY_API_KEY": service.keys["UNIT-A"]}
    err = one_line(cli("verify", tmp_path / "nope.pdf", env=env))
    assert "nope.pdf" in err
    (tmp_path / "m.csv").write_text("file,category,title,formation_date,pages\n")
    err = one_line(
        cli(
            "ingest", tmp_path / "nodir", "--volume", "v", "--manifest", tmp_path / "m.csv", env=env
        )
    )
    assert "目录不存在" in err
    (tmp_path / "d").mkdir()
    err = one_line(
        cli("ingest", tmp_path / "d", "--volume", "v", "--manifest", tmp_path / "none.csv", env=env)
    )
    assert "清单文件不存在" in err
    err = one_line(cli("transfer", "import", tmp_path / "none.tar", env=env))
    assert "文件不存在" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("file;category;title\nx;1;y\n", "缺少列"),
        ("file,category,title,formation_date,pages,colour\n", "未知的列"),
        ("file,category,title,formation_date,pages\n", "清单为空"),
        (b"\xff\xfe\x00bad", "UTF-8"),
    ],
    ids=["columns", "unknown-column", "empty", "encoding"],
)
def test_malformed_manifest(
    service: Service, cli: Any, tmp_path: Path, content: str | bytes, message: str
) -> None:
    vol = new_volume(service)
    write_materials(tmp_path / "d", 1)
    manifest = tmp_path / "m.csv"
    if isinstance(content, bytes):
        manifest.write_bytes(content)
    else:
        manifest.write_text(content, encoding="utf-8")
    env = {"NOTARY_URL": service.url, "NOTARY_API_KEY": service.keys["UNIT-A"]}
    err = one_line(cli("ingest", tmp_path / "d", "--volume", vol, "--manifest", manifest, env=env))
    assert message in err


def test_unknown_volume_stops_before_any_upload(service: Service, cli: Any, tmp_path: Path) -> None:
    names = write_materials(tmp_path / "d", 1)
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"file,category,title,formation_date,pages\n{names[0]},1,t,2000-01-01,1\n")
    env = {"NOTARY_URL": service.url, "NOTARY_API_KEY": service.keys["UNIT-B"]}
    vol = new_volume(service, "UNIT-A")  # not UNIT-B's: 404
    err = one_line(cli("ingest", tmp_path / "d", "--volume", vol, "--manifest", manifest, env=env))
    assert "404" in err


@pytest.mark.slow
def test_the_installed_entry_point_maps_errors_too(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    p = subprocess.run(
        [
            sys.executable,
            "-c",
            "from clients.cli import main; main()",
            "verify",
            "--sm3",
            "ab" * 32,
            "--url",
            url,
            "--key",
            "an_x",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 1 and p.stderr.count("\n") == 1 and "无法连接服务" in p.stderr
    p = subprocess.run(
        [sys.executable, "-c", "from clients.cli import main; main()", "verify", "--sm3", "xyz"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 2 and "64 hex" in p.stderr


def test_usage_errors_are_one_line_too(cli: Any) -> None:
    err = one_line(cli("ingest"))
    assert "用法：notary ingest 目录" in err  # in Chinese, with the template hint
    err = one_line(cli("transfer", "send", "t-1", "--bogus"))
    assert "没有这个选项：--bogus" in err
    assert cli("--help").code == 0
