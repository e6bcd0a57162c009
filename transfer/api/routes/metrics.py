"""Prometheus scrape endpoint (text exposition format)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from transfer.api.deps import StateDep
from transfer.api.errors import problem_responses

router = APIRouter(tags=["ops"], responses=problem_responses(429))


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(state: StateDep) -> Response:
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
