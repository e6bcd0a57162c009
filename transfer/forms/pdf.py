"""A4 page primitives over reportlab, with an embedded CJK font.

The font is WenQuanYi Micro Hei from Debian's ``fonts-wqy-microhei`` (scripts/dev.sh
installs it), embedded as a subset with its ToUnicode map: the PDF shows the same on
any machine and its text can be extracted (pdftotext) and searched. reportlab's
built-in CID fonts (STSong-Light) are not embedded, so a viewer would substitute.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from transfer.forms.qr import qr_matrix
from transfer.workflow.times import local_minutes, zone_label

FONT = "WenQuanYiMicroHei"
# Where Debian puts the font; NOTARY_FORMS_FONT names another TrueType CJK font file.
FONT_PATHS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
)
PAGE_W, PAGE_H = A4
MARGIN = 18 * mm
CONTENT_W = PAGE_W - 2 * MARGIN
# The deployment's time zone (Settings.timezone) while a form is rendered: set by
# :func:`display_zone` around the rendering, so the renderers need not pass it down.
_ZONE: ContextVar[str] = ContextVar("forms_zone", default="Asia/Shanghai")


@contextmanager
def display_zone(name: str) -> Iterator[None]:
    token = _ZONE.set(name)
    try:
        yield
    finally:
        _ZONE.reset(token)


class FontMissing(RuntimeError):
    """No CJK font to embed: the forms cannot be rendered on this machine."""


@cache
def register_font() -> str:
    candidates = [os.environ.get("NOTARY_FORMS_FONT", ""), *FONT_PATHS]
    path = next((p for p in candidates if p and Path(p).is_file()), None)
    if path is None:
        raise FontMissing(
            "未找到中文字体（Debian 软件包 fonts-wqy-microhei），无法生成表单；"
            "请安装该软件包或以 NOTARY_FORMS_FONT 指定字体文件"
        )
    pdfmetrics.registerFont(TTFont(FONT, path, subfontIndex=0))
    return FONT


def fmt_time(value: datetime | None) -> str:
    """The deployment's local time, as a clerk writes it on paper, labelled with the
    zone (2026年12月05日 14:03（北京时间）); the service keeps UTC."""
    if value is None:
        return "—"
    name = _ZONE.get()
    local = local_minutes(value, name)
    return f"{local[:4]}年{local[5:7]}月{local[8:10]}日 {local[11:]}（{zone_label(name, value)}）"


def fmt_date(value: datetime | None) -> str:
    return "—" if value is None else fmt_time(value)[:11]


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    width: float  # points
    mono: bool = False


class Page:
    """One document: pages drawn top-down with a moving cursor ``y``."""

    def __init__(self, title: str, subject: str) -> None:
        self.font = register_font()
        self.buf = io.BytesIO()
        # invariant=1: no creation date or random id in the file, so the same data
        # renders the same bytes (tests compare, and a reprint is identical).
        self.c = Canvas(self.buf, pagesize=A4, invariant=1, pageCompression=1)
        self.c.setTitle(title)
        self.c.setSubject(subject)
        self.c.setAuthor("Archive Notary")
        self.number = 1
        self.y = PAGE_H - MARGIN

    # ---------------------------------------------------------------- text

    def width(self, text: str, size: float) -> float:
        return float(pdfmetrics.stringWidth(text, self.font, size))

    def fit(self, text: str, size: float, width: float) -> str:
        """``text`` cut with … to fit ``width`` (a table cell is one line)."""
        if self.width(text, size) <= width:
            return text
        while text and self.width(text + "…", size) > width:
            text = text[:-1]
        return text + "…"

    def wrap(self, text: str, size: float, width: float) -> list[str]:
        """Lines of ``text`` that fit ``width``; CJK breaks anywhere, hex too."""
        lines: list[str] = []
        for para in text.split("\n"):
            line = ""
            for ch in para:
                if self.width(line + ch, size) > width and line:
                    lines.append(line)
                    line = ""
                line += ch
            lines.append(line)
        return lines

    def text(self, x: float, y: float, s: str, size: float = 10.5) -> None:
        self.c.setFont(self.font, size)
        self.c.drawString(x, y, s)

    def title(self, s: str, size: float = 18) -> None:
        self.c.setFont(self.font, size)
        self.c.drawCentredString(PAGE_W / 2, self.y - size, s)
        self.y -= size + 6 * mm

    def line_text(self, s: str, size: float = 10.5, indent: float = 0) -> None:
        for line in self.wrap(s, size, CONTENT_W - indent):
            self.need(size + 3)
            self.text(MARGIN + indent, self.y - size, line, size)
            self.y -= size + 4

    def fields(
        self, rows: Sequence[tuple[str, str]], *, label_w: float = 30 * mm, width: float = 0
    ) -> None:
        """Label/value rows in a ruled box; long values wrap."""
        size = 10.5
        width = width or CONTENT_W
        for label, value in rows:
            lines = self.wrap(value or "—", size, width - label_w - 4 * mm)  # " ": left blank
            h = max(1, len(lines)) * (size + 3) + 6
            self.need(h)
            top = self.y
            self.c.setLineWidth(0.5)
            self.c.rect(MARGIN, top - h, width, h)
            self.c.line(MARGIN + label_w, top, MARGIN + label_w, top - h)
            self.text(MARGIN + 2 * mm, top - size - 3, label, size)
            for i, line in enumerate(lines):
                self.text(MARGIN + label_w + 2 * mm, top - size - 3 - i * (size + 3), line, size)
            self.y -= h

    def table(self, columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> None:
        """A ruled table whose header repeats on every page; one line per cell."""
        size, h = 9.0, 16.0
        self._table_head(columns, size, h)
        for row in rows:
            if self.y - h < MARGIN + 12 * mm:
                self.next_page()
                self._table_head(columns, size, h)
            x = MARGIN
            for col, cell in zip(columns, row, strict=True):
                self.c.rect(x, self.y - h, col.width, h)
                self.text(x + 1.5 * mm, self.y - h + 4.5, self.fit(cell, size, col.width - 3 * mm))
                x += col.width
            self.y -= h

    def _table_head(self, columns: Sequence[Column], size: float, h: float) -> None:
        x = MARGIN
        self.c.setLineWidth(0.5)
        for col in columns:
            self.c.setFillGray(0.9)
            self.c.rect(x, self.y - h, col.width, h, fill=1)
            self.c.setFillGray(0)
            self.text(x + 1.5 * mm, self.y - h + 4.5, col.title, size)
            x += col.width
        self.y -= h

    # ---------------------------------------------------------------- marks

    def signature_boxes(self, labels: Sequence[str], height: float = 24 * mm) -> None:
        """签字/盖章 boxes side by side, each with a 年 月 日 line."""
        self.need(height + 2 * mm)
        w = CONTENT_W / len(labels)
        for i, label in enumerate(labels):
            x = MARGIN + i * w
            self.c.rect(x, self.y - height, w, height)
            self.text(x + 2 * mm, self.y - 5 * mm, label, 10)
            self.text(x + w - 38 * mm, self.y - height + 3 * mm, "年    月    日", 10)
        self.y -= height + 3 * mm

    def cut_line(self, caption: str) -> None:
        self.need(10 * mm)
        self.y -= 3 * mm
        self.c.setDash(4, 3)
        self.c.line(MARGIN - 8 * mm, self.y, PAGE_W - MARGIN + 8 * mm, self.y)
        self.c.setDash()
        self.text(MARGIN, self.y - 12, caption, 9)
        self.y -= 9 * mm

    def qr(self, url: str, x: float, y_top: float, size: float = 32 * mm) -> None:
        """The QR symbol (4-module quiet zone) with its caption, drawn as vector squares."""
        matrix = qr_matrix(url)
        n = len(matrix) + 8
        cell = size / n
        self.c.setFillGray(1)
        self.c.rect(x, y_top - size, size, size, stroke=0, fill=1)
        self.c.setFillGray(0)
        for r, row in enumerate(matrix):
            for col, dark in enumerate(row):
                if dark:
                    self.c.rect(
                        x + (col + 4) * cell, y_top - (r + 5) * cell, cell, cell, stroke=0, fill=1
                    )
        self.c.setFont(self.font, 7.5)
        self.c.drawCentredString(x + size / 2, y_top - size - 8, "扫码核验（链上比对）")

    # ---------------------------------------------------------------- pages

    def need(self, h: float) -> None:
        if self.y - h < MARGIN + 10 * mm:
            self.next_page()

    def _footer(self) -> None:
        self.c.setFont(self.font, 8)
        self.c.drawCentredString(PAGE_W / 2, MARGIN / 2, f"第 {self.number} 页")

    def next_page(self) -> None:
        self._footer()
        self.c.showPage()
        self.number += 1
        self.y = PAGE_H - MARGIN

    def finish(self) -> bytes:
        self._footer()
        self.c.showPage()
        self.c.save()
        return self.buf.getvalue()
