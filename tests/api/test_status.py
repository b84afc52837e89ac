"""GET /v1/tasks/{id}: the state, result or error that Celery's Redis result backend holds.

Results are written here by Celery's own RedisBackend (as a worker writes them); the
end-to-end tests (tests/e2e) get them from real worker processes.
"""

from __future__ import annotations

import datetime
import traceback
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import AUTH
from tests.support.redis_server import RedisServer
from tests.support.worker_process import celery_client


@pytest.fixture
def backend(redis_server: RedisServer) -> Any:
    return celery_client(redis_server).backend


def submit(client: TestClient) -> str:
    response = client.post("/v1/tasks/add", json={"x": 2, "y": 3}, headers=AUTH)
    assert response.status_code == 202
    return str(response.json()["task_id"])


def test_success_returns_the_result(client: TestClient, backend: Any) -> None:
    task_id = submit(client)
    backend.store_result(task_id, {"sum": 5, "items": [1, 2]}, "SUCCESS")

    body = client.get(f"/v1/tasks/{task_id}", headers=AUTH).json()

    assert body["state"] == "SUCCESS"
    assert body["task"] == "add"
    assert body["result"] == {"sum": 5, "items": [1, 2]}
    assert body["error"] is None
    assert body["date_done"]


def test_failure_returns_the_error_type_and_message_never_the_traceback(client: TestClient, backend: Any) -> None:
    task_id = submit(client)
    try:
        raise ValueError("x must be positive")
    except ValueError as exc:
        backend.mark_as_failure(task_id, exc, traceback=traceback.format_exc())

    response = client.get(f"/v1/tasks/{task_id}", headers=AUTH)

    body = response.json()
    assert body["state"] == "FAILURE"
    assert body["error"] == {"type": "ValueError", "message": "x must be positive"}
    assert body["result"] is None
    assert "Traceback" not in response.text
    assert "test_status.py" not in response.text


def test_retry_and_started_states_are_reported(client: TestClient, backend: Any) -> None:
    task_id = submit(client)
    backend.store_result(task_id, None, "STARTED")
    assert client.get(f"/v1/tasks/{task_id}", headers=AUTH).json()["state"] == "STARTED"

    backend.mark_as_retry(task_id, RuntimeError("attempt 1 failed"))
    body = client.get(f"/v1/tasks/{task_id}", headers=AUTH).json()
    assert body["state"] == "RETRY"
    assert body["error"] == {"type": "RuntimeError", "message": "attempt 1 failed"}


def test_a_result_outlives_the_submission_record(client: TestClient, backend: Any, redis_server: RedisServer) -> None:
    # A task that waited long in the queue: its record expired, its result is fresh.
    task_id = submit(client)
    redis_server.client().delete(f"cloudrun_celery:submitted:{task_id}")
    backend.store_result(task_id, 5, "SUCCESS")

    body = client.get(f"/v1/tasks/{task_id}", headers=AUTH).json()

    assert (body["state"], body["result"]) == ("SUCCESS", 5)


def test_submission_record_expires_with_the_result_ttl(client: TestClient, redis_server: RedisServer) -> None:
    task_id = submit(client)
    ttl = redis_server.client().ttl(f"cloudrun_celery:submitted:{task_id}")
    assert 86_000 < ttl <= 86_400


def test_uppercase_and_braced_ids_find_the_same_task(client: TestClient) -> None:
    task_id = submit(client)
    for spelling in (task_id.upper(), task_id.replace("-", "")):
        response = client.get(f"/v1/tasks/{spelling}", headers=AUTH)
        assert response.status_code == 200
        assert response.json()["task_id"] == task_id


def test_results_with_non_json_types_are_shown_as_strings(client: TestClient, backend: Any) -> None:
    task_id = submit(client)
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    backend.store_result(task_id, {"at": when, "id": uuid.UUID(int=7), "raw": b"\xff\x00"}, "SUCCESS")

    response = client.get(f"/v1/tasks/{task_id}", headers=AUTH)

    assert response.status_code == 200
    result = response.json()["result"]
    assert result["at"].startswith("2026-01-02")
    assert result["id"] == "00000000-0000-0000-0000-000000000007"
    assert isinstance(result["raw"], str)
