"""Fixtures shared by every test folder."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator

import pytest

from tests.support.api_process import ApiProcess, api_factory_fixture
from tests.support.redis_server import RedisServer
from tests.support.worker_process import WorkerProcess, worker_factory_fixture


@pytest.fixture
def redis_factory() -> Iterator[Callable[..., RedisServer]]:
    """Start private redis-servers (``redis_factory(password=..., tls=...)``); all stopped at teardown."""
    servers: list[RedisServer] = []

    def start(**kwargs: object) -> RedisServer:
        server = RedisServer(**kwargs).start()  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield start
    # The test's Celery clients and results are garbage by now: collect them while their Redis
    # still answers. Collected later (in another test) an AsyncResult unsubscribes from a stopped
    # Redis, and Celery's result backend retries that for 20 s.
    gc.collect()
    for server in servers:
        server.cleanup()


@pytest.fixture
def redis_server(redis_factory: Callable[..., RedisServer]) -> RedisServer:
    """A fresh redis-server with AUTH on, like Memorystore."""
    return redis_factory(password="test-auth-string")


@pytest.fixture
def worker_factory() -> Iterator[Callable[..., WorkerProcess]]:
    """Start real ``python -m worker`` processes: ``worker_factory(redis_server, WORKER_POOL=..., ...)``.

    Each call waits for /healthz 200; every worker still running is killed at teardown.
    """
    yield from worker_factory_fixture()


@pytest.fixture
def api_factory() -> Iterator[Callable[..., ApiProcess]]:
    """``api_factory(redis, **env)``: a real ``python -m api`` subprocess, healthy, stopped at teardown."""
    yield from api_factory_fixture()
