"""A request body read from a worker thread, for the streaming parsers that run there
(uploads are sealed and hashed off the event loop)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import anyio.from_thread
from starlette.requests import Request


def body_reader(request: Request) -> Callable[[], bytes]:
    """A blocking ``pull()`` for a worker thread started from ``request``'s handler: the
    body's next chunk, ``b""`` once it is exhausted."""
    stream: AsyncIterator[bytes] = request.stream().__aiter__()

    async def next_chunk() -> bytes:
        # Empty chunks are not the end; only an exhausted stream is.
        async for chunk in stream:
            if chunk:
                return chunk
        return b""

    return lambda: anyio.from_thread.run(next_chunk)
