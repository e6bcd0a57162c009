"""A deployment home is private to its owner (issue 15): ``notary init`` (and ``unit
add``) create it 0700 with 0600 files, ``notary serve`` creates its files the same way
and names every entry of a home that others may read."""

from __future__ import annotations

import contextlib
import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from clients.cli import run
from tests._support.served import ServeProcess


def _notary(*args: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run(list(args))
    assert code == 0, err.getvalue()
    return out.getvalue()


def _open_to_others(home: Path) -> list[str]:
    paths = [home, *home.rglob("*")]
    return [
        f"{p.relative_to(home.parent)} {stat.S_IMODE(p.lstat().st_mode):04o}"
        for p in paths
        if not p.is_symlink() and stat.S_IMODE(p.lstat().st_mode) & 0o077
    ]


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    previous = os.umask(0o022)  # a usual login umask: the service must not rely on it
    try:
        home = tmp_path / "home"
        _notary("init", "--home", str(home), "--centre-code", "CENTRE")
        _notary("unit", "add", "--home", str(home), "UNIT-A", "甲市委组织部档案室")
        yield home
    finally:
        os.umask(previous)


def test_init_creates_a_private_home(home: Path) -> None:
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert (home / "notary.db").exists()
    assert _open_to_others(home) == []


@pytest.mark.slow
def test_serve_names_a_wider_home_and_creates_private_files(home: Path) -> None:
    home.chmod(0o755)
    (home / "notary.db").chmod(0o644)
    with ServeProcess(home, args=("--no-access-log",)) as served:
        log = served.log
    text = log.read_text()
    assert f"{home} 的权限为 0755" in text
    assert f"{home / 'notary.db'} 的权限为 0644" in text
    assert "chmod -R go-rwx" in text
    # What the running service created (the database's WAL, the chain's files …) is
    # private; only the two entries widened above are not.
    home.chmod(0o700)
    (home / "notary.db").chmod(0o600)
    assert _open_to_others(home) == []
