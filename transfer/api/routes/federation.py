"""Between archive centres (docs/federation.md): what this centre says about itself,
and the messages peer centres push to it. No API key: a peer centre holds none here.
Each message carries signed acts that are checked against keys the chain's member
registry vouches for and against the chain's own record of the transfer, so a forged
or replayed message is refused whoever sends it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from transfer.api.deps import Notary, StateDep
from transfer.api.errors import problem_responses
from transfer.api.routes import API_V1
from transfer.api.routes.transfers import ClockDep
from transfer.services import federation, transfer_receive

router = APIRouter(
    prefix=f"{API_V1}/federation",
    tags=["federation"],
    responses=problem_responses(404, 409, 422, 429, 503),
)


class DispatchMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dispatch: dict[str, Any] = Field(description="The sender's signed dispatch act.")
    chain_volumes: dict[str, str] = Field(description="notice volume id → chain volume id")
    package_cid: str | None = Field(default=None, max_length=128)


class OutcomeMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    transfer_id: str = Field(max_length=64)
    act: dict[str, Any] = Field(description="The receiver's signed receipt or rejection.")


@router.get("", summary="This archive centre: chain account, log key, units, IPFS node")
def describe(state: StateDep, ctx: Notary) -> dict[str, Any]:
    return federation.describe(state, ctx)


@router.post(
    "/dispatches",
    status_code=status.HTTP_202_ACCEPTED,
    summary="A peer centre's dispatch to a unit hosted here (checked against the chain)",
)
def take_dispatch(
    body: DispatchMessage, state: StateDep, ctx: Notary, clock: ClockDep
) -> dict[str, str]:
    t = transfer_receive.take_dispatch(state, ctx, body.model_dump(), clock())
    return {"transfer_id": t.transfer_id, "state": t.state.value}


@router.post(
    "/outcomes",
    status_code=status.HTTP_202_ACCEPTED,
    summary="A peer centre's receipt or rejection of our dispatch (checked on chain)",
)
def take_outcome(body: OutcomeMessage, state: StateDep, ctx: Notary) -> dict[str, str]:
    t = federation.take_outcome(state, ctx, body.model_dump())
    return {"transfer_id": t.transfer_id, "state": t.state.value}
