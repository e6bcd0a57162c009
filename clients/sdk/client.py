"""``NotaryClient``: the synchronous SDK.

>>> with NotaryClient("http://127.0.0.1:8000", api_key) as c:   # doctest: +SKIP
...     up = c.upload_material(vol, "scan.pdf", category="1", seq_no=1, pages=2,
...                            title="干部履历表", formation_date="1990-07-01")
...     d = c.download(up.material["id"], purpose="审核")   # SM3 + receipt checked here

Verification is on by default (``verify=False`` turns it off explicitly); ``log_key``
pins the deployment's log key, else its fingerprint is fetched once from the service;
``rpc_url`` adds the on-chain check of every anchored receipt.
"""

from __future__ import annotations

import time
from typing import Any, Self

import httpx

from clients.sdk import _core as core
from clients.sdk._api import ApiMethods
from notary.crypto import SM2PublicKey


class NotaryClient(ApiMethods):
    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        verify: bool = True,
        log_key: SM2PublicKey | str | bytes | None = None,
        rpc_url: str | None = None,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._setup_verifier(verify, log_key, rpc_url)
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=core.auth_headers(api_key),
            timeout=timeout,
            transport=transport,
        )

    def _send(self, call: core.Call) -> httpx.Response:
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
                resp = self._http.send(req)
            else:
                resp = self._http.send(req, stream=True)
                try:
                    if resp.is_success:
                        with open(call.dest, "wb") as f:
                            for chunk in resp.iter_bytes():
                                f.write(chunk)
                    else:
                        resp.read()
                finally:
                    resp.close()
        except httpx.HTTPError as e:
            raise core.transport_error(e, self.base_url) from None
        core.raise_for_problem(resp, call.ok)
        return resp

    def _run(self, op: core.Op) -> Any:
        try:
            step = next(op)
            while True:
                if isinstance(step, core.Sleep):
                    time.sleep(step.seconds)
                    step = op.send(None)
                else:
                    try:
                        resp = self._send(step)
                    except BaseException as e:
                        step = op.throw(e)
                        continue
                    step = op.send(resp)
        except StopIteration as stop:
            return stop.value

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
