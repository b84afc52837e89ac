"""Open operations endpoints: liveness, readiness (Redis answers) and Prometheus metrics."""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.collaborators import MetricsDep, RedisDep
from api.redis_clients import BrokerUnavailable
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
async def readyz(redis: RedisDep) -> HealthResponse | JSONResponse:
    try:
        await redis.call(redis.ping, "readiness check")
    except BrokerUnavailable:
        # Unauthenticated: the cause (Redis host, port, error) goes to the log only (RedisClients.call).
        return JSONResponse({"detail": "not ready: Redis did not answer PING (the API log has the cause)"}, 503)
    return HealthResponse(status="ready")


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"}},
    summary="Prometheus metrics",
)
async def metrics(api_metrics: MetricsDep) -> Response:
    # Queue depth reads Redis (with ~1 s timeouts): keep it off the event loop.
    body = await anyio.to_thread.run_sync(generate_latest, api_metrics.registry)
    return Response(content=body, media_type=CONTENT_TYPE_LATEST)
