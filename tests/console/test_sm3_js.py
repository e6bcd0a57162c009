"""The console's SM3 (clients/console/sm3.js), run in Chromium, is SM3.

A file on the verify page is hashed in the browser; a wrong digest would make every
registered file look unregistered. The function is checked against the two examples of
GB/T 32905-2016 (Appendix A) and against the project's SM3 (OpenSSL) on lengths around
the 64-byte block and padding boundaries, fed whole, byte by byte, and as a sliced Blob.
"""

from __future__ import annotations

import os
from typing import Any

from notary.crypto import sm3
from tests.console._server import Server

GBT_32905 = [
    ("abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
    (
        "abcd" * 16,
        "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732",
    ),
]

_RUN = """
const [inputs, done] = [arguments[0], arguments[arguments.length - 1]];
import("/console/sm3.js").then(async (m) => {
  const out = [];
  for (const input of inputs) {
    const bytes =
      typeof input === "string" ? new TextEncoder().encode(input) : Uint8Array.from(input);
    const whole = m.sm3Hex(input);
    const h = new m.SM3();
    for (const b of bytes) h.update(Uint8Array.of(b));
    const sliced = await m.sm3File(new Blob([bytes]), () => {}, 7);
    out.push([whole, h.hexdigest(), sliced]);
  }
  done(out);
}).catch((e) => done("error: " + e));
"""


def _run(browser: Any, server: Server, inputs: list[Any]) -> list[list[str]]:
    browser.get(server.url("/console/"))
    result = browser.execute_async_script(_RUN, inputs)
    assert isinstance(result, list), result
    return result


def test_gbt_32905_examples(browser: Any, server: Server) -> None:
    results = _run(browser, server, [text for text, _ in GBT_32905])
    for (text, expected), got in zip(GBT_32905, results, strict=True):
        assert got == [expected, expected, expected], text


def test_agrees_with_openssl_sm3_around_block_boundaries(browser: Any, server: Server) -> None:
    lengths = [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000]
    data = [list(os.urandom(n)) for n in lengths]
    results = _run(browser, server, data)
    for n, raw, got in zip(lengths, data, results, strict=True):
        expected = sm3(bytes(raw)).hex()
        assert got == [expected, expected, expected], f"{n} bytes"
