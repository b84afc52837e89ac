"""What routes depend on, as ``Depends`` aliases: the one place that knows where ``create_app`` keeps them.

``create_app`` builds each collaborator once and stores it on ``app.state``; routes declare
``submitter: SubmitterDep`` and never touch the request's app themselves. The providers are
``async`` because FastAPI runs a plain ``def`` dependency in its thread pool.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.metrics import ApiMetrics
from api.redis_clients import RedisClients
from api.submission import Submitter


async def app_submitter(request: Request) -> Submitter:
    """The app's ``Submitter`` (also for ``api.enqueue_fast_lane``, which answers before any dependency)."""
    submitter: Submitter = request.app.state.submitter
    return submitter


async def _redis(request: Request) -> RedisClients:
    clients: RedisClients = request.app.state.redis
    return clients


async def _metrics(request: Request) -> ApiMetrics:
    metrics: ApiMetrics = request.app.state.metrics
    return metrics


SubmitterDep = Annotated[Submitter, Depends(app_submitter)]
RedisDep = Annotated[RedisClients, Depends(_redis)]
MetricsDep = Annotated[ApiMetrics, Depends(_metrics)]
