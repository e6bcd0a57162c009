"""A size limit on small request bodies (JSON and other non-streamed content).

Upload routes stream their multipart bodies and count them against
``upload_max_bytes`` themselves. Every other body is read whole by the framework
before a route sees it, so without a limit one request of a few hundred megabytes of
JSON is held in memory (and parsed) by a single call. This middleware buffers such a
body up to ``max_bytes`` and answers 413 problem+json beyond it — on the declared
``Content-Length`` before reading anything, or while a chunked body arrives.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from transfer.api.errors import PROBLEM_TYPE_BASE, problem_response

# Bodies of these content types are streamed by their routes (uploads, packages), which
# count them against their own limits; a new streaming route uses one of them.
STREAMED_TYPES = (
    "multipart/",
    "application/octet-stream",
    "application/x-tar",
    "application/gzip",
    "application/zip",
)


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        ctype = headers.get(b"content-type", b"").decode("latin-1").lower()
        if ctype.startswith(STREAMED_TYPES):
            await self.app(scope, receive, send)
            return
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message]), send)
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        whole: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([whole], then=receive), send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413,
            "Payload Too Large",
            type_=f"{PROBLEM_TYPE_BASE}payload-too-large",
            detail=f"the request body exceeds the limit of {self.max_bytes} bytes",
            limit=self.max_bytes,
            # The rest of the body is not read: the connection cannot be reused.
            headers={"Connection": "close"},
        )
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
