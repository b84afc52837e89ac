"""``create_app()`` builds the API: settings -> Redis connections -> routes, metrics, error handling."""

from __future__ import annotations

import logging
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
from task_contract import (
    QUEUES,
    TASKS,
    BrokerSettings,
    TaskSpec,
    celery_connection_config,
)

from api import access_log
from api.auth import ApiKeys
from api.body_limit import BodySizeLimit
from api.broker import Broker, BrokerUnavailable
from api.core.config import ApiSettings
from api.metrics import INVALID_PAYLOAD, PAYLOAD_TOO_LARGE, ApiMetrics
from api.routes import health, tasks

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5

_ENQUEUE_PATH = re.compile(rf"^{re.escape(tasks.router.prefix)}/(?P<name>[^/]+)$")


def _enqueued_spec(method: str, path: str) -> TaskSpec | None:
    """The task a request was submitting, if it is an enqueue of a known task."""
    match = _ENQUEUE_PATH.match(path)
    if method != "POST" or match is None:
        return None
    return TASKS.get(match["name"])


def create_app(settings: ApiSettings | None = None, broker_settings: BrokerSettings | None = None) -> FastAPI:
    settings = settings if settings is not None else ApiSettings()
    broker_settings = broker_settings if broker_settings is not None else BrokerSettings()
    broker = Broker.from_settings(broker_settings, settings.redis_max_connections)
    transport = celery_connection_config(broker_settings)["broker_transport_options"]
    metrics_kwargs: dict[str, Any] = {k: transport[k] for k in ("sep", "priority_steps") if k in transport}
    if "priority_steps" in metrics_kwargs:
        metrics_kwargs["steps"] = metrics_kwargs.pop("priority_steps")
    metrics = ApiMetrics(TASKS.values(), broker.broker_redis, QUEUES, **metrics_kwargs)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await broker.aclose()

    app = FastAPI(
        title="cloudrun-celery API",
        version="0.1.0",
        description="Enqueue Celery tasks by name and read their results. "
        "Enqueue and status need `Authorization: Bearer <API key>`.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.broker = broker
    app.state.metrics = metrics
    app.state.api_keys = ApiKeys(settings.bearer_keys())
    app.include_router(health.router)
    app.include_router(tasks.router)

    def count_too_large(scope: Scope) -> None:
        spec = _enqueued_spec(scope["method"], scope["path"])
        if spec is not None:
            metrics.failed(spec, PAYLOAD_TOO_LARGE)

    access_log.install()
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, on_reject=count_too_large)

    @app.exception_handler(BrokerUnavailable)
    async def broker_unavailable(request: Request, exc: BrokerUnavailable) -> JSONResponse:
        return JSONResponse(
            status_code=503,
            content={"detail": f"broker unavailable: {exc}; retry later"},
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        spec = _enqueued_spec(request.method, request.url.path)
        if spec is not None and any(error.get("loc", ())[:1] == ("body",) for error in exc.errors()):
            metrics.failed(spec, INVALID_PAYLOAD)
        return await request_validation_exception_handler(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # FastAPI answers 400 when the body is not even text (UnicodeDecodeError while
        # parsing JSON); to a client that is one more invalid body: 422, like bad JSON.
        if exc.status_code == 400 and isinstance(exc.__cause__, ValueError):
            return await invalid_request(
                request,
                RequestValidationError(
                    [{"type": "json_invalid", "loc": ("body",), "msg": "body is not UTF-8 encoded JSON", "input": {}}]
                ),
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
