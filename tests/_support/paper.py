"""Printed forms read as a person or a scanner reads them: a PDF's text through
poppler's ``pdftotext``, its page count through ``pdfinfo``, the QR code of its first
page rendered by ``pdftoppm`` and decoded by zbar's ``zbarimg`` (Debian packages,
installed by scripts/dev.sh)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

_MISSING = [t for t in ("pdftotext", "pdftoppm", "pdfinfo", "zbarimg") if not shutil.which(t)]

#: Skipped on a developer machine without the tools; in CI a missing tool fails.
needs_paper_tools = pytest.mark.skipif(
    bool(_MISSING) and not os.environ.get("CI"),
    reason=f"{', '.join(_MISSING)} not installed (scripts/dev.sh)",
)


def pdf_text(path: Path, *, by_page: bool = False) -> str:
    """The PDF's text as pdftotext extracts it, whitespace collapsed (cells, wraps);
    ``by_page``: pages kept apart by a form feed."""
    raw = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True
    ).stdout.decode("utf-8")
    if by_page:
        return "\f".join(re.sub(r"\s+", "", page) for page in raw.split("\f"))
    return re.sub(r"\s+", "", raw)


def pdf_pages(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True)
    return int(re.search(r"Pages:\s+(\d+)", info.stdout)[1])  # type: ignore[index]


def scan_qr(path: Path) -> str:
    """Render page 1 at 150 dpi and decode the one QR code on it, as a scanner would.

    Only QR codes are looked for: zbar's other symbologies could read a stray bar code
    in a line of printed hex, and the scan would then be two symbols, not the form's."""
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp) / "page"
        subprocess.run(
            ["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", str(path), str(prefix)],
            check=True,
        )
        (png,) = Path(tmp).glob("page*.png")
        r = subprocess.run(
            ["zbarimg", "-q", "--raw", "-Sdisable", "-Sqrcode.enable", str(png)],
            capture_output=True,
            text=True,
        )
    codes = [line for line in r.stdout.splitlines() if line]
    assert len(codes) == 1, (r.returncode, r.stdout, r.stderr)
    return codes[0]
