"""`notary hash` prints SM3 like sha256sum prints SHA-256, and fails cleanly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

NOTARY = str(Path(sys.executable).with_name("notary"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NOTARY, "hash", *args], capture_output=True, text=True, timeout=60)


@pytest.mark.slow
def test_prints_digest_two_spaces_and_path(tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "档案.pdf"
    a.write_bytes(b"abc")
    b.write_bytes(b"abcd" * 16)
    out = run(str(a), str(b))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        f"66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0  {a}",
        f"debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732  {b}",
    ]


@pytest.mark.slow
def test_missing_or_unreadable_files_fail_with_one_line_each(tmp_path: Path) -> None:
    good = tmp_path / "ok"
    good.write_bytes(b"")
    out = run(str(tmp_path / "missing"), str(good), str(tmp_path))
    assert out.returncode == 1
    assert out.stdout.splitlines() == [
        f"1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b  {good}"
    ]
    errors = out.stderr.splitlines()
    assert len(errors) == 2 and "No such file" in errors[0] and "directory" in errors[1]
    assert "Traceback" not in out.stderr
