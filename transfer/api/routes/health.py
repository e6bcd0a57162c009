"""Service health for load balancers and operators (no authentication)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel

from transfer.api.deps import StateDep
from transfer.api.errors import problem_responses
from transfer.api.routes import API_V1
from transfer.services.errors import ServiceUnavailable
from transfer.services.health import CheckResult, Status, worst
from transfer.workflow.times import utc_offset, zone_label

router = APIRouter(prefix=API_V1, tags=["ops"], responses=problem_responses(429))


class CheckOut(BaseModel):
    status: Status
    duration_ms: float
    detail: dict[str, Any]


class HealthOut(BaseModel):
    status: Status
    checks: dict[str, CheckOut]


@router.get(
    "/health",
    response_model=HealthOut,
    summary="Health of the database, content store, chain and anchoring",
    description="200 when every check is ok or degraded, 503 when any is down.",
    responses={503: {"model": HealthOut, "description": "A check is down."}},
)
def health(state: StateDep, response: Response) -> HealthOut:
    checks: dict[str, CheckOut] = {}
    for check in state.health_checks:
        start = time.perf_counter()
        try:
            result = check.check()
        except Exception as e:
            # The exception type tells operators where to look; its message may carry
            # connection strings, so it stays in the server log.
            result = CheckResult("down", {"error": type(e).__name__})
        checks[check.name] = CheckOut(
            status=result.status,
            duration_ms=round((time.perf_counter() - start) * 1000, 3),
            detail=result.detail,
        )
    overall = worst([c.status for c in checks.values()])
    if overall == "down":
        response.status_code = 503
    return HealthOut(status=overall, checks=checks)


class ChainOut(BaseModel):
    chain_id: int
    contract: str
    log_id: str
    rpc_url: str | None


@router.get(
    "/chain",
    response_model=ChainOut,
    summary="Where this deployment anchors: chain id, contract, log id, read-only JSON-RPC",
    description="What a third party needs to check an evidence receipt against the chain "
    "alone (`notary verify --receipt FILE --rpc URL`). `rpc_url` is the embedded chain's "
    "read-only JSON-RPC when `NOTARY_CHAIN_RPC_PORT` is set, else null (a JSON-RPC chain "
    "is reached through its own nodes).",
)
async def chain_info(state: StateDep) -> ChainOut:
    if state.notary is None:
        raise ServiceUnavailable("this home is not a deployment yet (run notary init)")
    ctx = state.notary
    return ChainOut(
        chain_id=ctx.chain_id,
        contract=ctx.contract,
        log_id=ctx.log_id.hex(),
        rpc_url=state.chain_rpc_url,
    )


class DisplayOut(BaseModel):
    timezone: str
    label: str
    utc_offset: str


@router.get(
    "/display",
    response_model=DisplayOut,
    summary="How times are shown to staff: the deployment's time zone and its label",
    description="Every client (console, CLI, printed forms) shows times in this IANA zone, "
    "to the minute, labelled (北京时间, or UTC+hh:mm for a zone without a common name). "
    "No authentication: the page that checks a printed form's QR code uses it too.",
)
def display(state: StateDep) -> DisplayOut:
    name = state.settings.timezone
    return DisplayOut(timezone=name, label=zone_label(name), utc_offset=utc_offset(name))
