"""The gate every request body passes before anything reads it.

In order, for every request with a body-carrying method (all such routes are
authenticated, but for the peer centres' messages, :data:`PEER_ROUTES`):

1. **authentication first** — for a request that has a body, the API key is checked
   (the same lookup as every route's, :func:`transfer.api.deps.authenticate`) before
   one byte of the body is read: a caller without a valid key gets its 401 with the
   body unread and the connection closed, whatever the body's size or type. A peer
   centre holds no key here: its messages carry signed acts checked against the
   chain (transfer/api/routes/federation.py), and pass steps 2–4 like any body;
2. **a well-formed ``Content-Length``** (digits only), else 400;
3. **a size limit on every body**: the three streaming routes (:data:`STREAMED_ROUTES`:
   material upload, verify-by-file, package import), with their content type only,
   pass their body through counted against their own limit; every other body —
   whatever its declared type — is read here up to ``body_max_bytes`` and answered 413
   beyond it: on the declared ``Content-Length`` before reading anything, or while a
   chunked body arrives;
4. **no stalled body**: a body that sends nothing for ``body_idle_timeout_s`` seconds is
   answered 408;
5. **no body nested too deeply to parse** (notary/_internal/jsondepth.py): 422, as
   any JSON the routes cannot read.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from notary._internal.jsondepth import too_deep
from transfer.api.deps import GATE_PRINCIPAL, authenticate, presented_key
from transfer.api.errors import RequestTimeout, refusal
from transfer.api.state import AppState
from transfer.services.errors import BadRequest, PayloadTooLarge, ServiceError, Unprocessable
from transfer.services.ingest import FORM_OVERHEAD
from transfer.settings import Settings
from transfer.workflow.package import DEFAULT_LIMITS

#: A transfer package's largest body: the bag limits, plus tar overhead.
IMPORT_MAX_BYTES = DEFAULT_LIMITS.max_total_bytes + (64 << 20)
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DIGITS = re.compile(r"[0-9]{1,19}")


@dataclass(frozen=True, slots=True)
class StreamedRoute:
    """A route that reads its own body as it streams (never whole)."""

    method: str
    path: re.Pattern[str]
    content_types: tuple[str, ...]
    limit: Callable[[Settings], int]

    def matches(self, method: str, path: str, content_type: str) -> bool:
        return (
            method == self.method
            and self.path.fullmatch(path) is not None
            and content_type.startswith(self.content_types)
        )


def _upload_limit(settings: Settings) -> int:
    return settings.upload_max_bytes + FORM_OVERHEAD


STREAMED_ROUTES = (
    StreamedRoute(
        "POST", re.compile(r"/v1/volumes/[^/]+/materials"), ("multipart/form-data",), _upload_limit
    ),
    StreamedRoute("POST", re.compile(r"/v1/verify"), ("multipart/form-data",), _upload_limit),
    StreamedRoute(
        "POST",
        re.compile(r"/v1/transfers/[^/]+/import"),
        ("application/x-tar", "application/octet-stream"),
        lambda _: IMPORT_MAX_BYTES,
    ),
)


#: Messages from peer archive centres: no API key, bounded like every other body.
PEER_ROUTES = re.compile(r"/v1/federation/(dispatches|outcomes)")


class BodyLimit:
    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        idle_timeout_s: float = 30.0,
        total_timeout_s: float = 60.0,
        min_bytes_per_s: int = 8 * 1024,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # No chunk for this long: 408 (any body).
        self.idle_timeout_s = idle_timeout_s
        # A small body not whole after this long: 408 (a key holder dribbling JSON).
        self.total_timeout_s = total_timeout_s
        # A streamed body slower than this on average, after idle_timeout_s: 408.
        self.min_bytes_per_s = min_bytes_per_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if headers.get(b"content-length", b"0") == b"0" and b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body: nothing to guard
            return
        try:
            await self._gate(scope, receive, send, headers)
        except ServiceError as exc:
            await _refuse(exc, scope, receive, send)

    async def _gate(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[bytes, bytes]
    ) -> None:
        state: AppState = scope["app"].state.notary
        if not (scope["method"] == "POST" and PEER_ROUTES.fullmatch(scope["path"])):
            principal = await authenticate(
                state,
                presented_key(
                    headers.get(b"authorization", b"").decode("latin-1"),
                    headers.get(b"x-api-key", b"").decode("latin-1"),
                ),
            )
            scope.setdefault("state", {})[GATE_PRINCIPAL] = principal

        declared: int | None = None
        length = headers.get(b"content-length")
        if length is not None:
            if not _DIGITS.fullmatch(length.decode("latin-1")):
                raise BadRequest("Content-Length 必须是十进制整数")
            declared = int(length)

        ctype = headers.get(b"content-type", b"").decode("latin-1").lower()
        for route in STREAMED_ROUTES:
            if route.matches(scope["method"], scope["path"], ctype):
                limit = route.limit(state.settings)
                if declared is not None and declared > limit:
                    raise _too_large(limit)
                await self.app(scope, self._counted(receive, limit), send)
                return

        if declared is not None and declared > self.max_bytes:
            raise _too_large(self.max_bytes)
        chunks: list[bytes] = []
        size = 0
        deadline = time.monotonic() + self.total_timeout_s
        while True:
            message = await self._next(receive, deadline)
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message]), send)
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_bytes:
                raise _too_large(self.max_bytes)
            chunks.append(body)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if too_deep(body):
            # FastAPI parses JSON bodies with json.loads: this deep, it would crash the
            # process (notary/_internal/jsondepth.py).
            raise Unprocessable("JSON 嵌套层数过多", limit_levels=200)
        whole: Message = {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, _replay([whole], then=receive), send)

    async def _next(
        self, receive: Receive, deadline: float | None = None, slow: str | None = None
    ) -> Message:
        """The next message, within the idle timeout and before ``deadline`` (then 408:
        ``slow`` says why, else the small body's total time)."""
        wait = self.idle_timeout_s
        if deadline is not None:
            wait = min(wait, max(0.0, deadline - time.monotonic()))
        try:
            with anyio.fail_after(wait):
                return await receive()
        except TimeoutError:
            if wait < self.idle_timeout_s:
                why = slow or f"请求体没有在 {self.total_timeout_s:g} 秒内传完"
                raise RequestTimeout(why + "：请检查网络后重试") from None
            raise RequestTimeout(
                f"请求体超过 {self.idle_timeout_s:g} 秒没有传来数据", limit_s=self.idle_timeout_s
            ) from None

    def _counted(self, receive: Receive, limit: int) -> Receive:
        """``receive`` for a streaming route: the same messages, counted against
        ``limit``, the idle timeout and the least average rate (raised into the route,
        which answers them). The rate: after ``idle_timeout_s`` of grace, the bytes
        received must keep up with ``min_bytes_per_s``, so a key holder cannot hold a
        worker thread for hours sending a byte now and then."""
        size = 0
        started = time.monotonic()
        slow = f"上传过慢（平均低于每秒 {self.min_bytes_per_s} 字节）"

        async def counted() -> Message:
            nonlocal size
            due = started + self.idle_timeout_s + size / self.min_bytes_per_s
            message = await self._next(receive, due, slow)
            size += len(message.get("body", b""))
            if size > limit:
                raise _too_large(limit)
            return message

        return counted


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"请求体超过上限 {limit} 字节", limit=limit)


async def _refuse(exc: ServiceError, scope: Scope, receive: Receive, send: Send) -> None:
    response = refusal(exc, scope["path"], close=True)
    await response(scope, receive, send)


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()  # e.g. http.disconnect, for streaming responses
        return {"type": "http.disconnect"}

    return receive
