"""Per-client rate limits on the routes anyone may call without a key (issue 15).

``/v1/check`` (a printed form's QR code), ``/v1/federation…`` (peer centres),
``/v1/health``, ``/v1/chain``, ``/v1/display`` and ``/metrics`` need no key, so nothing
else bounds how often one client calls them. Each client address has a token bucket
(:class:`notary._internal.ratelimit.RateLimiter`, ``public_rate_per_s`` /
``public_rate_burst``); past it the answer is a 429 with ``Retry-After``, sent before
any body is read. Routes that need a key are not limited here: their callers are known
and accountable (the access and read logs name them).
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from notary._internal.ratelimit import RateLimiter
from transfer.api.errors import TooManyRequests, refusal

#: The API routes that need no key.
PUBLIC_ROUTES = re.compile(r"/v1/(check|health|chain|display|federation(/.*)?)|/metrics")


class PublicRateLimit:
    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not self.limiter.enabled
            or PUBLIC_ROUTES.fullmatch(scope["path"]) is None
        ):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        wait = self.limiter.take(client[0] if client else "")
        if wait == 0:
            await self.app(scope, receive, send)
            return
        exc = TooManyRequests(wait)
        response = refusal(exc, scope["path"], close=True)
        await response(scope, receive, send)
