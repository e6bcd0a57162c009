"""What staff can read on a page: visible text outside 详情 must be Chinese.

Identifiers are exempt: anything in <code> (ids, keys, hashes), <time>, an open or
closed 详情 (<details>), the test deployment's unit codes and the file-format and
algorithm names staff know by their letters (PDF, SM3 …).
"""

from __future__ import annotations

import re
from typing import Any

ALLOWED = {
    "PDF", "OFD", "TIFF", "JPEG", "PNG", "CSV", "JSON", "json", "API", "BagIt", "GBK", "UTF",
    "SENDER", "RECEIVER", "CENTRE",
}  # fmt: skip

_VISIBLE_TEXT = """
const out = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
  const node = walker.currentNode;
  const el = node.parentElement;
  if (!el || el.closest("code, time, details, script, style, [hidden], option")) continue;
  const box = el.getBoundingClientRect();
  if (box.width === 0 && box.height === 0) continue;
  if (getComputedStyle(el).visibility === "hidden") continue;
  const text = node.textContent.trim();
  const where = el.closest("[id]");
  if (text) out.push([text, `${where ? where.id : ""} ${el.tagName.toLowerCase()}`]);
}
for (const el of document.querySelectorAll("select")) {
  if (el.selectedOptions[0]) out.push([el.selectedOptions[0].textContent, el.id]);
}
return out;
"""


def english_words(driver: Any, also_allowed: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Words of three or more Latin letters visible outside 详情 and identifiers."""
    texts: list[list[str]] = driver.execute_script(_VISIBLE_TEXT)
    found = []
    for text, where in texts:
        words = re.findall(r"[A-Za-z][A-Za-z_-]{2,}", text)
        found += [
            f"{w} (in {text[:80]!r} at {where})" for w in words if w not in ALLOWED | also_allowed
        ]
    return found


def no_sideways_scroll(driver: Any) -> bool:
    return bool(
        driver.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1"
        )
    )
