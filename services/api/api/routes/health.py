"""Open operations endpoints: liveness, readiness (Redis answers) and Prometheus metrics."""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.broker import Broker
from api.metrics import ApiMetrics
from api.schemas import ErrorResponse, HealthResponse

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=HealthResponse, summary="The process is alive")
async def healthz() -> HealthResponse:
    return HealthResponse(status="alive")


@router.get(
    "/readyz",
    response_model=HealthResponse,
    responses={503: {"model": ErrorResponse, "description": "Redis did not answer within about 1 s."}},
    summary="Redis (broker and result backend) answers PING",
)
async def readyz(request: Request) -> HealthResponse:
    broker: Broker = request.app.state.broker
    await broker.call(broker.ping, "readiness check")
    return HealthResponse(status="ready")


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"}},
    summary="Prometheus metrics",
)
async def metrics(request: Request) -> Response:
    api_metrics: ApiMetrics = request.app.state.metrics
    # Queue depth reads Redis (with ~1 s timeouts): keep it off the event loop.
    body = await anyio.to_thread.run_sync(generate_latest, api_metrics.registry)
    return Response(content=body, media_type=CONTENT_TYPE_LATEST)
