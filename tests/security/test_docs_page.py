"""/docs (Swagger UI, where people paste API keys) loads nothing from another origin and
carries the console's security headers: CSP, X-Frame-Options, nosniff (issue 15)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from httpx import Headers


def _assert_secured(headers: Headers) -> None:
    csp = headers.get("content-security-policy", "")
    for directive in ("default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"):
        assert directive in csp
    assert headers.get("x-frame-options") == "DENY"
    assert headers.get("x-content-type-options") == "nosniff"


def test_docs_are_served_from_this_origin_with_the_security_headers(
    sclient: TestClient,
) -> None:
    page = sclient.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    _assert_secured(page.headers)
    assert "http://" not in page.text and "https://" not in page.text and "//" not in page.text
    assert "<script>" not in page.text  # no inline code: the policy would block it
    refs = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(refs) >= 3
    for ref in refs:
        assert ref.startswith("/docs/")
        r = sclient.get(ref)
        assert r.status_code == 200 and r.content, ref
        _assert_secured(r.headers)
    init = sclient.get("/docs/init.js").text
    assert '"/openapi.json"' in init and "validatorUrl: null" in init
    assert sclient.get("/openapi.json").status_code == 200


def test_only_the_listed_assets_are_served_and_redoc_is_gone(sclient: TestClient) -> None:
    for path in ("/docs/assets/index.html", "/docs/assets/..%2f..%2fsettings.py", "/redoc"):
        assert sclient.get(path).status_code == 404, path
