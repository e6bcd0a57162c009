"""``AsyncNotaryClient``: the asynchronous SDK (httpx.AsyncClient).

Same methods as :class:`clients.sdk.NotaryClient`, each returning an awaitable;
the same client-side verification (it runs in the event loop: hashing is fast,
the optional on-chain check is a few JSON-RPC calls).
"""

from __future__ import annotations

from typing import Any, Self

import anyio
import httpx

from clients.sdk import _core as core
from clients.sdk._api import ApiMethods
from notary.crypto import SM2PublicKey


class AsyncNotaryClient(ApiMethods):
    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        verify: bool = True,
        log_key: SM2PublicKey | str | bytes | None = None,
        rpc_url: str | None = None,
        timeout: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._setup_verifier(verify, log_key, rpc_url)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=core.auth_headers(api_key),
            timeout=timeout,
            transport=transport,
        )

    async def _send(self, call: core.Call) -> httpx.Response:
        req = self._http.build_request(
            call.method,
            call.path,
            params=call.params,
            json=call.json,
            data=call.data,
            files=call.files,
            content=call.content,
            headers=call.headers,
        )
        try:
            if call.dest is None:
                resp = await self._http.send(req)
            else:
                resp = await self._http.send(req, stream=True)
                try:
                    if resp.is_success:
                        with open(call.dest, "wb") as f:
                            async for chunk in resp.aiter_bytes():
                                f.write(chunk)
                    else:
                        await resp.aread()
                finally:
                    await resp.aclose()
        except httpx.HTTPError as e:
            raise core.transport_error(e, self.base_url) from None
        core.raise_for_problem(resp, call.ok)
        return resp

    async def _drive(self, op: core.Op) -> Any:
        try:
            step = next(op)
            while True:
                if isinstance(step, core.Sleep):
                    await anyio.sleep(step.seconds)
                    step = op.send(None)
                else:
                    try:
                        resp = await self._send(step)
                    except BaseException as e:
                        step = op.throw(e)
                        continue
                    step = op.send(resp)
        except StopIteration as stop:
            return stop.value

    def _run(self, op: core.Op) -> Any:
        return self._drive(op)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
