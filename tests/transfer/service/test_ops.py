"""Health checks and Prometheus metrics."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests._support.api import Cast
from transfer.api import create_app
from transfer.db.migrate import head_revision
from transfer.services.health import CheckResult
from transfer.settings import Settings


class _Fixed:
    def __init__(self, name: str, result: CheckResult | Exception) -> None:
        self.name = name
        self._result = result

    def check(self) -> CheckResult:
        if isinstance(self._result, Exception):
            raise self._result
        return self._result


def test_health_reports_the_database(client: TestClient) -> None:
    r = client.get("/v1/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    db = body["checks"]["database"]
    assert db["status"] == "ok" and db["detail"]["revision"] == head_revision()


def test_injected_checks_decide_the_overall_status(
    settings: Settings, clean_engine: Engine
) -> None:
    degraded = _Fixed("anchoring", CheckResult("degraded", {"lag_s": 42}))
    app = create_app(settings, engine=clean_engine, health_checks=[degraded])
    with TestClient(app) as c:
        r = c.get("/v1/health")
        assert r.status_code == 200 and r.json()["status"] == "degraded"
        assert r.json()["checks"]["anchoring"]["detail"] == {"lag_s": 42}
        # Checks can also be added once the parts they watch are built.
        app.state.notary.health_checks.append(
            _Fixed("chain", ConnectionError("http://user:pw@10.0.0.1:8545 refused"))
        )
        r = c.get("/v1/health")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "down"
    assert body["checks"]["chain"] == {
        "status": "down",
        "duration_ms": body["checks"]["chain"]["duration_ms"],
        "detail": {"error": "ConnectionError"},
    }
    assert "pw@" not in r.text


def test_metrics_count_requests_by_route_template(client: TestClient, cast: Cast) -> None:
    vol = client.post(
        "/v1/volumes",
        json={"cadre_identifier": "110105194912310020", "kind": "main"},
        headers=cast.operator.headers,
    ).json()
    client.get(f"/v1/volumes/{vol['id']}", headers=cast.operator.headers)
    client.get("/v1/no-such-thing")
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert (
        'notary_http_requests_total{method="GET",route="/v1/volumes/{volume_id}",status="200"} 1.0'
        in text
    )
    assert 'route="<unmatched>",status="404"' in text
    assert vol["id"] not in text
    assert "notary_http_request_duration_seconds_bucket" in text
