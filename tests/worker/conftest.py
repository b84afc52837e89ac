"""Fixtures for the worker tests: a publishing client like the API's, cleaned up before Redis stops."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.redis_server import RedisServer
from tests.support.worker_process import celery_client


@pytest.fixture
def client_factory(redis_factory: Callable[..., RedisServer]) -> Iterator[Callable[..., Any]]:
    """``client_factory(redis, **BrokerSettings fields)``: a Celery app that publishes by task name.

    Depends on ``redis_factory`` so it is torn down first: pending results unsubscribe while
    Redis still answers, instead of retrying against a stopped server at interpreter exit.
    """
    apps: list[Any] = []

    def make(redis: RedisServer, **settings: Any) -> Any:
        app = celery_client(redis, **settings)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()
    # Collect the apps and their results now, while Redis answers: an AsyncResult collected
    # later, in another test, unsubscribes from a dead Redis, which Celery retries for 20 s.
    apps.clear()
    gc.collect()


@pytest.fixture
def client(redis_server: RedisServer, client_factory: Callable[..., Any]) -> Any:
    return client_factory(redis_server)
