"""Response headers of the HTML pages served next to the API (the web console, the
API documentation at /docs): the pages where people paste API keys.

Content-Security-Policy: scripts, styles, images and requests from this origin only,
no inline code, never framed (clickjacking); no MIME sniffing, no referrer.
"""

from __future__ import annotations


def content_security_policy(*, inline_styles: bool = False) -> str:
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            # Swagger UI sets style attributes on its elements; no page runs inline code.
            "style-src 'self' 'unsafe-inline'" if inline_styles else "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )


def security_headers(*, inline_styles: bool = False) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(inline_styles=inline_styles),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        # Small files, changed with the code: always revalidate.
        "Cache-Control": "no-cache",
    }
