"""An idle keep-alive connection stays open for ``keep_alive_s`` (default 75 s), not
uvicorn's own 5 s: a reader idle between pages (one read per 10 s in the open-loop
benchmark) sends the next request on the same connection. With the 5 s default the
server closed it, and a request sent as it closed was lost (benches/results/reads.md)."""

from __future__ import annotations

import json
import time

from tests._support.served import RawConnection, Service
from transfer.settings import Settings

IDLE_S = 6.5  # longer than uvicorn's default of 5 s


def test_the_default_keep_alive_is_well_above_a_readers_idle_gap() -> None:
    assert Settings().keep_alive_s >= 60
    assert Settings(keep_alive_s=120).keep_alive_s == 120


def test_a_connection_idle_longer_than_5_s_serves_the_next_request(service: Service) -> None:
    conn = RawConnection(service.url)
    try:
        status, body = conn.get("/v1/health")
        assert status == 200
        pid = json.loads(body)["checks"]["process"]["detail"]["pid"]
        time.sleep(IDLE_S)
        assert not conn.closed_by_server()
        status, body = conn.get("/v1/chain", service.keys["UNIT-A"])
        assert status == 200 and json.loads(body)["rpc_url"] == service.rpc_url
        status, body = conn.get("/v1/health")  # the same process: the same connection
        assert json.loads(body)["checks"]["process"]["detail"]["pid"] == pid
    finally:
        conn.close()
