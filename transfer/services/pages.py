"""One page of a verified material as an image the browser shows (在线阅档).

The material's bytes come from a verified, logged read (transfer/services/reads.py);
this only turns them into one page: a PDF page rendered to PNG with PDFium
(``pypdfium2``), a TIFF frame converted to PNG (browsers do not show TIFF), a JPEG or
PNG as it is (one page). Rendering on the server keeps the console a set of static
files under its strict CSP (no PDF engine shipped to the browser, no ``blob:`` or
worker sources) and hands the browser only the page it shows.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass

from transfer.services.media import JPEG, PDF, PNG, TIFF

# PDFium is not thread-safe (pypdfium2's documentation): one render at a time per
# process; reads themselves (decrypt, verify) still run in parallel.
_PDFIUM = threading.Lock()
# A4 at ~150 dpi: legible scans on a 1440-px screen and a phone, ~0.2–1 MB a page.
_TARGET_WIDTH_PX = 1240
_MAX_SCALE = 4.0
# Decompression bombs: a page image larger than this is refused, not rendered.
_MAX_PIXELS = 60_000_000


class PageUnavailable(Exception):
    """The page cannot be shown: ``reason`` is ``no-such-page`` or ``unsupported``."""

    def __init__(self, reason: str, message: str, count: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.count = count


@dataclass(frozen=True, slots=True)
class Page:
    content: bytes
    media_type: str
    number: int
    count: int


def _no_such_page(number: int, count: int) -> PageUnavailable:
    return PageUnavailable("no-such-page", f"第 {number} 页不存在（共 {count} 页）。", count)


def render_page(content: bytes | bytearray, media_type: str, number: int) -> Page:
    """Page ``number`` (from 1) of a material as PNG (or its own JPEG/PNG)."""
    if media_type in (JPEG, PNG):
        if number != 1:
            raise _no_such_page(number, 1)
        return Page(bytes(content), media_type, 1, 1)
    if media_type == PDF:
        return _pdf_page(content, number)
    if media_type == TIFF:
        return _tiff_page(content, number)
    raise PageUnavailable(
        "unsupported",
        "这种格式（如 OFD）暂不能在浏览器中逐页阅览，请由保管单位导出后用相应阅读器查看。",
    )


def _png(image: object) -> bytes:
    # zlib level 1: a rendered scan page encodes ~3× faster than at the default level 6
    # (measured ~160 ms vs ~490 ms for an A4 page at 1240 px) for ~2× the bytes.
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)  # type: ignore[attr-defined]
    return out.getvalue()


def _pdf_page(content: bytes | bytearray, number: int) -> Page:
    import pypdfium2  # a native library, loaded only when a PDF is shown

    with _PDFIUM:
        try:
            # pypdfium2 takes bytes, not a bytearray (one copy; rendering costs far more)
            doc = pypdfium2.PdfDocument(bytes(content))
        except pypdfium2.PdfiumError:
            raise PageUnavailable("unsupported", "这份 PDF 无法打开，不能逐页阅览。") from None
        try:
            count = len(doc)
            if not 1 <= number <= count:
                raise _no_such_page(number, count)
            page = doc[number - 1]
            try:
                width, height = page.get_size()
                scale = min(_MAX_SCALE, _TARGET_WIDTH_PX / max(width, 1.0))
                if width * height * scale * scale > _MAX_PIXELS:
                    scale = (_MAX_PIXELS / max(width * height, 1.0)) ** 0.5
                bitmap = page.render(scale=scale)
                image = bitmap.to_pil()
            finally:
                page.close()
        finally:
            doc.close()
    return Page(_png(image), PNG, number, count)


def _tiff_page(content: bytes | bytearray, number: int) -> Page:
    from PIL import Image  # loaded only when a TIFF is shown

    try:
        image = Image.open(io.BytesIO(content))
        count = getattr(image, "n_frames", 1)
        if not 1 <= number <= count:
            raise _no_such_page(number, count)
        image.seek(number - 1)
        if image.width * image.height > _MAX_PIXELS:
            raise PageUnavailable("unsupported", "这一页图像过大，不能在浏览器中阅览。")
        frame = image.convert("RGB") if image.mode not in ("1", "L", "RGB") else image
        return Page(_png(frame), PNG, number, count)
    except (OSError, Image.DecompressionBombError):
        raise PageUnavailable("unsupported", "这份 TIFF 无法打开，不能逐页阅览。") from None
