"""Writing what a command fetched into the file the user named, whole or not at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from clients.errors import UserError


def refuse_existing(dest: Path) -> None:
    """An existing file is never overwritten (nothing the user had is lost)."""
    if dest.exists():
        raise UserError(f"文件已存在：{dest}（请另选文件名或先移走它）")
    if not dest.parent.is_dir():
        raise UserError(f"目录不存在：{dest.parent}")


def write_new(dest: Path, data: bytes) -> None:
    """Write ``data`` beside ``dest`` and link it in place: a crash leaves no half file,
    and a file that appeared meanwhile is not overwritten."""
    refuse_existing(dest)
    try:
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
    except OSError as e:
        raise UserError(f"无法写入 {dest}：{e.strerror or e}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, dest)  # fails if dest exists (unlike rename)
        except FileExistsError:
            raise UserError(f"文件已存在：{dest}") from None
        except OSError as e:
            raise UserError(f"无法写入 {dest}：{e.strerror or e}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
