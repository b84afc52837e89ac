"""API fixtures: the app in-process on a real Redis (fast), or as a real ``python -m api`` subprocess."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from api.core.config import ApiSettings
from api.main import create_app
from fastapi.testclient import TestClient
from task_contract import BrokerSettings

from tests.support.redis_server import RedisServer

API_KEY = "test-api-key-0123456789"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


def api_settings(**overrides: Any) -> ApiSettings:
    return ApiSettings(**{"api_keys": f"{API_KEY},second-key", "api_keys_file": None, **overrides})


def broker_settings(redis: RedisServer, **overrides: Any) -> BrokerSettings:
    ca = redis.tls_files.ca if redis.tls_files is not None else None
    return BrokerSettings(**{"redis_url": redis.url, "redis_ca_file": ca, **overrides})


@pytest.fixture
def client_factory(redis_server: RedisServer) -> Iterator[Callable[..., TestClient]]:
    """``client_factory(**ApiSettings overrides)``: the app in-process, on the test's real redis-server."""
    clients: list[TestClient] = []

    def make(redis: RedisServer = redis_server, **overrides: Any) -> TestClient:
        app = create_app(api_settings(**overrides), broker_settings(redis))
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(client_factory: Callable[..., TestClient]) -> TestClient:
    return client_factory()
