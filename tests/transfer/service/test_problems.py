"""Every error is an RFC 9457 problem document, and none leaks internals or input."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests._support.api import Cast
from transfer.api import create_app
from transfer.settings import Settings

PROBLEM_KEYS = {"type", "title", "status"}


def assert_problem(r: object, status: int) -> dict[str, object]:
    from httpx import Response

    assert isinstance(r, Response)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = r.json()
    assert body.keys() >= PROBLEM_KEYS
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    return body


def test_unknown_route_is_404_problem(client: TestClient) -> None:
    body = assert_problem(client.get("/v1/nothing-here"), 404)
    assert body["type"] == "about:blank" and body["instance"] == "/v1/nothing-here"


def test_wrong_method_is_405_problem_with_allow(client: TestClient) -> None:
    r = client.delete("/v1/health")
    assert_problem(r, 405)
    assert "GET" in r.headers["allow"]


def test_validation_is_422_with_field_errors_and_no_input_echo(
    client: TestClient, cast: Cast
) -> None:
    secret_id = "110105194912310020"
    r = client.post(
        "/v1/volumes",
        json={"cadre_identifier": secret_id, "kind": "original"},
        headers=cast.operator.headers,
    )
    body = assert_problem(r, 422)
    assert body["type"] == "urn:archive-notary:problem:validation"
    errors = body["errors"]
    assert isinstance(errors, list)
    assert [e["loc"] for e in errors] == [["body", "kind"]]
    assert secret_id not in r.text


def test_malformed_json_is_422(client: TestClient, cast: Cast) -> None:
    r = client.post(
        "/v1/units",
        content=b"{not json",
        headers={**cast.admin.headers, "content-type": "application/json"},
    )
    assert_problem(r, 422)


def test_bad_path_parameter_is_422(client: TestClient, cast: Cast) -> None:
    body = assert_problem(client.get("/v1/volumes/not-a-uuid", headers=cast.operator.headers), 422)
    errors = body["errors"]
    assert isinstance(errors, list) and errors[0]["loc"] == ["path", "volume_id"]


def test_bad_query_parameter_is_422(client: TestClient, cast: Cast) -> None:
    assert_problem(client.get("/v1/units?limit=0", headers=cast.admin.headers), 422)


@pytest.mark.parametrize(
    ("path", "status"), [("/v1/units", 401), ("/v1/read-log", 401), ("/v1/volumes", 401)]
)
def test_auth_errors_are_problems(client: TestClient, path: str, status: int) -> None:
    body = assert_problem(client.get(path), status)
    assert body["type"] == "urn:archive-notary:problem:unauthorized"


def test_unexpected_error_is_500_without_internals(
    settings: Settings, clean_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings, engine=clean_engine)

    def explode() -> None:
        raise RuntimeError("password=hunter2 at /srv/notary/secret.key")

    app.add_api_route("/v1/explode", explode)
    with (
        caplog.at_level(logging.ERROR, logger="transfer.api"),
        TestClient(app, raise_server_exceptions=False) as c,
    ):
        r = c.get("/v1/explode")
    body = assert_problem(r, 500)
    assert "hunter2" not in r.text and "RuntimeError" not in r.text and "secret" not in r.text
    incident = body["incident"]
    assert isinstance(incident, str)
    assert any(incident in rec.getMessage() for rec in caplog.records)  # operators can find it


def test_openapi_documents_problem_responses(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    get_unit = spec["paths"]["/v1/units/{unit_id}"]["get"]
    assert {"401", "403", "404", "422"} <= get_unit["responses"].keys()
    assert "application/problem+json" in get_unit["responses"]["404"]["content"]
    assert {"bearer", "apiKey"} <= spec["components"]["securitySchemes"].keys()
