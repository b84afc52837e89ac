"""Bearer API keys on enqueue and status, compared in constant time; health endpoints stay open."""

from __future__ import annotations

import secrets

import pytest
from api.auth import ApiKeys
from fastapi.testclient import TestClient

from tests.api.conftest import API_KEY
from tests.support.redis_server import RedisServer
from tests.support.worker_process import queue_depth

TASK_ID = "6f1c1a54-7d0e-4a8e-9a3c-5d1e2b3c4d5e"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-key"},
        {"Authorization": f"Bearer {API_KEY}x"},
        {"Authorization": f"Basic {API_KEY}"},
        {"Authorization": API_KEY},
        {"Authorization": "Bearer "},
    ],
)
def test_enqueue_and_status_need_a_valid_key(
    client: TestClient, redis_server: RedisServer, headers: dict[str, str]
) -> None:
    enqueue = client.post("/v1/tasks/add", json={"x": 1, "y": 2}, headers=headers)
    status = client.get(f"/v1/tasks/{TASK_ID}", headers=headers)
    unknown = client.post("/v1/tasks/nope", json={}, headers=headers)

    for response in (enqueue, status, unknown):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert "API key" in response.json()["detail"]
    assert queue_depth(redis_server, "high") == 0


def test_every_configured_key_works(client: TestClient) -> None:
    for key in (API_KEY, "second-key"):
        response = client.post("/v1/tasks/add", json={"x": 1, "y": 2}, headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 202


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_operations_endpoints_are_open(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 200


def test_the_key_is_compared_with_every_key_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = secrets.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(secrets, "compare_digest", recording)
    keys = ApiKeys(["first", "second", "third"])

    assert keys.identify("first") is not None  # a match on the first key still compares all three
    assert keys.identify("nope") is None
    assert [b for _, b in compared] == [b"first", b"second", b"third"] * 2


def test_callers_are_told_apart_without_revealing_the_key() -> None:
    keys = ApiKeys(["first", "second"])
    first, second = keys.identify("first"), keys.identify("second")
    assert first is not None and second is not None
    assert first != second
    assert "first" not in first.key_id
