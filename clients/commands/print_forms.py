"""Download a printable form (A4 PDF) into a file: what ``notary transfer print`` and
``notary receipt print`` share. The file appears only once complete."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from clients.commands._common import client, out
from clients.errors import UserError
from clients.sdk import NotaryClient


def save_pdf(
    url: str, key: str, dest: Path, what: str, fetch: Callable[[NotaryClient, Path], object]
) -> None:
    if dest.exists():
        raise UserError(f"文件已存在：{dest}（请删除或用 -o 指定其他文件名）")
    if not dest.parent.is_dir():
        raise UserError(f"目录不存在：{dest.parent}")
    part = dest.with_name(dest.name + ".part")
    with client(url, key) as c:
        try:
            fetch(c, part)
            part.replace(dest)
        finally:
            part.unlink(missing_ok=True)
    out.print(f"{what}已保存：{dest}（{dest.stat().st_size:,} 字节，A4 PDF，可直接打印）")
