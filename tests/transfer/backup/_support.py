"""Helpers of the backup and replica tests: distinct uploads (a served home is
tests/_support/served.py's ServeProcess)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clients.demo import sample_pdf
from clients.sdk import NotaryClient


def upload(c: NotaryClient, vol: str, file: Path, seq: int) -> dict[str, Any]:
    up = c.upload_material(
        vol, file, category="1", seq_no=seq, pages=1, title=f"材料{seq}",
        formation_date="2001-02-03",
    )  # fmt: skip
    return {**up.material, "sm3": up.sm3}


def scan(directory: Path, i: int) -> Path:
    """A distinct small PDF per upload."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"m{i}.pdf"
    path.write_bytes(sample_pdf(f"material {i}"))
    return path


def new_volume_at(c: NotaryClient) -> str:
    return str(c.create_volume("110101199001019999", "main")["id"])
