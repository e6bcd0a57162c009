"""Fuzzing the HTTP API from its own OpenAPI schema with schemathesis, in process (ASGI).

Every operation gets generated requests — valid and invalid bodies, parameters and
headers — sent with an operator's API key against a deployment that holds a volume and
an anchored material. Two properties hold for every response:

- never a server error (5xx), whatever the input;
- the response conforms to the schema: a documented status code, the documented
  content type, and a body matching the documented schema.

``NOTARY_FUZZ_EXAMPLES`` sets the examples per operation (default 50, ~40 s here); the
long run in SECURITY.md uses 200.
"""

from __future__ import annotations

import os
import zlib
from collections import Counter
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given
from schemathesis.checks import (
    FailureGroup,
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.python.asgi import ASGIClient

from notary.deployment import Deployment
from tests._support import notary_api as n
from tests._support.api import Cast
from tests.security._world import World, build_world

EXAMPLES = int(os.environ.get("NOTARY_FUZZ_EXAMPLES", "50"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.mark.slow  # a fuzzing campaign: EXAMPLES generated requests per operation
def test_no_server_errors_and_schema_conformant_responses(world: World) -> None:
    app = world.client.app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    cast = world.cast
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    operations = [op.ok() for op in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 20, "every route is in the schema"

    for operation in operations:
        # Archive routes as an operator; administrative ones also as each of the 三员,
        # so the fuzzer gets past the permission check everywhere.
        administrative = {"units", "audit"} & set(operation.tags or ())
        actors = (
            [cast.operator, cast.admin, cast.security, cast.audit]
            if administrative
            else [cast.operator]
        )
        for actor in actors:
            # The app's lifespan (chain, store) already runs in world.client; this client
            # reaches the same app in process without starting it again.
            session = ASGIClient(app)  # type: ignore[arg-type]
            session.headers.update(actor.headers)
            _fuzz(operation, session, world, statuses, failures)

    total = sum(statuses.values())
    print(f"\nschemathesis: {total} requests, {len(operations)} operations; statuses {statuses}")
    assert total >= EXAMPLES * len(operations) // 3
    assert not [s for s in statuses if s >= 500], failures
    assert failures == [], "\n".join(sorted(set(failures)))


def _fuzz(
    operation: Any, session: ASGIClient, world: World, statuses: Counter[int], failures: list[str]
) -> None:
    @given(case=operation.as_strategy())
    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        _fill_known_ids(case, world)
        label = case.operation.label
        try:
            response = case.call(session=session)
        except Exception as e:  # the in-process transport re-raises what became a 500
            statuses[500] += 1
            failures.append(f"{label}: 500 {type(e).__name__}: {e}"[:300])
            return
        statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            failures.extend(
                f"{label}: {f.title} ({response.status_code})" for f in group.exceptions
            )

    run()


def _fill_known_ids(case: Any, world: World) -> None:
    """Half the time, aim path ids at objects that exist, so deeper code paths run."""
    params = case.path_parameters or {}
    aim = zlib.crc32(repr(case.query).encode()) % 2 == 0
    if "material_id" in params and aim:
        params["material_id"] = world.a["id"]
    if "volume_id" in params and aim:
        params["volume_id"] = world.volume
    if "unit_id" in params and aim:
        params["unit_id"] = world.cast.other.unit_id


@pytest.fixture
def world(sclient: TestClient, scast: Cast, deployment: Deployment) -> World:
    w = build_world(sclient, scast, deployment)
    n.upload(sclient, scast.operator, w.volume, n.png(3))
    return w
