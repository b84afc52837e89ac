"""``create_app()`` builds the API: settings -> Redis connections -> routes, metrics, error handling."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import math
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope
from task_contract import QUEUES, TASKS, BrokerSettings, TaskSpec

from api import access_log
from api.auth import ApiKeys, KeysFileReloader
from api.google_identity import GoogleIdTokens
from api.body_limit import BodySizeLimit
from api.celery_message import MessageBuilder, publisher_app
from api.core.config import ApiSettings
from api.enqueue_fast_lane import EnqueueFastLane
from api.idempotency import IdempotencyConflict
from api.trace_context import TraceContext
from api.metrics import INVALID_PAYLOAD, PAYLOAD_TOO_LARGE, ApiMetrics
from api.redis_clients import BrokerFull, BrokerUnavailable, RedisClients
from api.routes import dead_letters, health, tasks
from api.submission import Backpressure, MemoryWatch, Submitter

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5

UNAVAILABLE_DETAIL = (
    "broker unavailable: Redis did not answer in time or failed the command (the API log has the details). "
    "The outcome is unknown: the task may or may not have been enqueued. Retrying with the same "
    "Idempotency-Key is safe; without one a retry may enqueue it twice. Retry later"
)
BROKER_FULL_DETAIL = (
    "Redis is at its memory limit and refused the write: nothing was enqueued; retry after Retry-After seconds"
)

_ENQUEUE_PATH = re.compile(rf"^{re.escape(tasks.router.prefix)}/(?P<name>[^/]+)$")


def _enqueued_spec(method: str, path: str) -> TaskSpec | None:
    """The task a request was submitting, if it is an enqueue of a known task."""
    match = _ENQUEUE_PATH.match(path)
    if method != "POST" or match is None:
        return None
    return TASKS.get(match["name"])


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as strings: JSON responses cannot carry them."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def create_app(settings: ApiSettings | None = None, broker_settings: BrokerSettings | None = None) -> FastAPI:
    settings = settings if settings is not None else ApiSettings()
    broker_settings = broker_settings if broker_settings is not None else BrokerSettings()
    redis = RedisClients.from_settings(broker_settings, settings.redis_max_connections)
    celery = publisher_app(broker_settings)
    metrics = ApiMetrics(TASKS.values(), redis.broker_redis, QUEUES)
    api_keys = ApiKeys(settings.bearer_keys())
    submitter = Submitter(
        redis,
        metrics,
        MessageBuilder(celery),
        MemoryWatch(redis.broker_client),
        idempotency_window_seconds=settings.idempotency_window_seconds,
        memory_high_water=settings.redis_memory_high_water_percent / 100,
        max_queue_lengths=settings.queue_length_limits(),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        reloader = None
        if settings.api_keys_file is not None:
            keys = KeysFileReloader(api_keys, settings.bearer_keys, settings.api_keys_reload_seconds)
            reloader = asyncio.get_running_loop().create_task(keys.run())
        # Everything built so far lives as long as the process: move it out of the collector's
        # reach, so the full (gen-2) collections under load stop walking it (they were ~50 ms
        # pauses, the API's p99; docs/benchmarks.md).
        gc.collect()
        gc.freeze()
        yield
        if reloader is not None:
            reloader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reloader
        await redis.aclose()
        celery.close()

    app = FastAPI(
        title="cloudrun-celery API",
        version="0.1.0",
        description="Enqueue Celery tasks by name and read their results. "
        "Enqueue, status and dead letters need `Authorization: Bearer <API key>`. "
        "Every bad request body is a 422 (never a 400). A 503 means the outcome is unknown: "
        "retry with the same `Idempotency-Key`.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.redis = redis
    app.state.submitter = submitter
    app.state.metrics = metrics
    app.state.api_keys = api_keys
    callers = settings.google_id_callers()
    app.state.google_id_tokens = (
        GoogleIdTokens.create(settings.google_id_audience or "", callers, settings.google_certs_url) if callers else None
    )
    app.include_router(health.router)
    app.include_router(tasks.router)
    app.include_router(dead_letters.router)

    def count_too_large(scope: Scope) -> None:
        spec = _enqueued_spec(scope["method"], scope["path"])
        if spec is not None:
            metrics.failed(spec, PAYLOAD_TOO_LARGE)

    access_log.install()
    # Innermost: a well-formed enqueue is answered here, inside the body limit and the trace.
    app.add_middleware(EnqueueFastLane)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, on_reject=count_too_large)
    # Outermost: the trace is bound for everything the request logs, the access line included.
    app.add_middleware(TraceContext)

    def retry_later(status_code: int, detail: str) -> JSONResponse:
        return JSONResponse({"detail": detail}, status_code, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    @app.exception_handler(BrokerUnavailable)
    async def broker_unavailable(request: Request, exc: BrokerUnavailable) -> JSONResponse:
        # The cause (host, port, error) is in the log (RedisClients.call), not in the response.
        return retry_later(503, UNAVAILABLE_DETAIL)

    @app.exception_handler(BrokerFull)
    async def broker_full(request: Request, exc: BrokerFull) -> JSONResponse:
        return retry_later(429, BROKER_FULL_DETAIL)

    @app.exception_handler(IdempotencyConflict)
    async def idempotency_conflict(request: Request, exc: IdempotencyConflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, 409)

    @app.exception_handler(Backpressure)
    async def backpressure(request: Request, exc: Backpressure) -> JSONResponse:
        return retry_later(429, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        spec = _enqueued_spec(request.method, request.url.path)
        if spec is not None and any(error.get("loc", ())[:1] == ("body",) for error in exc.errors()):
            metrics.failed(spec, INVALID_PAYLOAD)
        # The errors echo the input, which may hold NaN or Infinity: JSON cannot carry those.
        return await request_validation_exception_handler(request, RequestValidationError(_finite(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # FastAPI answers 400 when it cannot parse the body for another reason than bad JSON
        # syntax: not UTF-8, or nested too deeply for the parser (RecursionError). To a client
        # that is one more invalid body, so 422 like every other (docs/runtime-contract.md).
        if exc.status_code == 400 and exc.__cause__ is not None:
            why = "nested too deeply" if isinstance(exc.__cause__, RecursionError) else "not UTF-8 encoded JSON"
            return await invalid_request(
                request,
                RequestValidationError([{"type": "json_invalid", "loc": ("body",), "msg": f"body is {why}", "input": {}}]),
            )
        return await http_exception_handler(request, exc)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The traceback goes to the log (as stack_trace), never to the client.
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse(status_code=500, content={"detail": "internal error; the API log has the details"})

    return app


def __getattr__(name: str) -> FastAPI:
    # ``api.main:app`` for uvicorn and tools, built on first use so that importing
    # ``create_app`` does not need API keys in the environment.
    if name == "app":
        app = create_app()
        globals()["app"] = app
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
