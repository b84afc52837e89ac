"""POST /v1/tasks/{name}: validate, publish to the task's queue, answer 202 with the id; idempotency."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from api.routes.tasks import accepted, accepted_body
from api.submission import Submitted
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from task_contract import TASKS

from tests.api.conftest import AUTH
from tests.support.redis_server import RedisServer
from tests.support.worker_process import queue_depth


def queued_messages(redis: RedisServer, queue: str) -> list[dict[str, object]]:
    """The kombu messages waiting in ``queue`` (all priority lists), oldest first."""
    client = redis.client()
    names = [queue, *(f"{queue}\x06\x16{step}" for step in (3, 6, 9))]
    return [json.loads(raw) for name in names for raw in reversed(client.lrange(name, 0, -1))]


@pytest.mark.parametrize(
    ("task", "payload"),
    [("add", {"x": 2, "y": 3}), ("external_call", {"latency_seconds": 0}), ("flaky", {"fail_times": 0})],
)
def test_publishes_to_the_task_queue_by_name(
    client: TestClient, redis_server: RedisServer, task: str, payload: dict[str, object]
) -> None:
    response = client.post(f"/v1/tasks/{task}", json=payload, headers=AUTH)

    assert response.status_code == 202, response.text
    body = response.json()
    queue = TASKS[task].queue
    assert body["task"] == task
    assert body["queue"] == queue
    assert body["status_url"] == f"/v1/tasks/{body['task_id']}"
    assert response.headers["location"] == body["status_url"]
    assert body["idempotent_replay"] is False
    [message] = queued_messages(redis_server, queue)
    headers = message["headers"]
    assert isinstance(headers, dict)
    assert headers["task"] == task
    assert headers["id"] == body["task_id"]
    for other in {spec.queue for spec in TASKS.values()} - {queue}:
        assert queue_depth(redis_server, other) == 0


def test_defaults_are_filled_in_before_publishing(client: TestClient, redis_server: RedisServer) -> None:
    response = client.post("/v1/tasks/flaky", json={}, headers=AUTH)

    assert response.status_code == 202
    [message] = queued_messages(redis_server, "low")
    args, kwargs, _ = json.loads(base64.b64decode(str(message["body"])))
    assert (args, kwargs) == ([], {"fail_times": 1})


def test_status_of_a_queued_task_is_pending(client: TestClient) -> None:
    task_id = client.post("/v1/tasks/add", json={"x": 1, "y": 1}, headers=AUTH).json()["task_id"]

    response = client.get(f"/v1/tasks/{task_id}", headers=AUTH)

    assert response.status_code == 200
    assert response.json() == {
        "task_id": task_id, "task": "add", "state": "PENDING", "result": None, "error": None, "date_done": None
    }


def test_idempotency_key_returns_the_same_task_and_enqueues_once(
    client: TestClient, redis_server: RedisServer
) -> None:
    headers = {**AUTH, "Idempotency-Key": "order-42"}
    first = client.post("/v1/tasks/add", json={"x": 1, "y": 2}, headers=headers)
    retry = client.post("/v1/tasks/add", json={"x": 1, "y": 2}, headers=headers)

    assert first.status_code == retry.status_code == 202
    assert retry.json()["task_id"] == first.json()["task_id"]
    assert retry.json()["idempotent_replay"] is True
    assert queue_depth(redis_server, "high") == 1


def test_idempotency_keys_are_scoped_to_the_task_and_the_api_key(
    client: TestClient, redis_server: RedisServer
) -> None:
    ids = {
        client.post("/v1/tasks/add", json={"x": 1, "y": 2}, headers={**AUTH, "Idempotency-Key": "k"}).json()["task_id"],
        client.post("/v1/tasks/flaky", json={}, headers={**AUTH, "Idempotency-Key": "k"}).json()["task_id"],
        client.post(
            "/v1/tasks/add", json={"x": 1, "y": 2},
            headers={"Authorization": "Bearer second-key", "Idempotency-Key": "k"},
        ).json()["task_id"],
    }
    assert len(ids) == 3
    assert queue_depth(redis_server, "high") == 2
    assert queue_depth(redis_server, "low") == 1


def test_reusing_an_idempotency_key_for_another_payload_is_refused(
    client: TestClient, redis_server: RedisServer
) -> None:
    headers = {**AUTH, "Idempotency-Key": "order-43"}
    assert client.post("/v1/tasks/add", json={"x": 1, "y": 2}, headers=headers).status_code == 202

    response = client.post("/v1/tasks/add", json={"x": 1, "y": 3}, headers=headers)

    assert response.status_code == 409
    assert "different task or payload" in response.json()["detail"]
    assert queue_depth(redis_server, "high") == 1


def test_idempotency_window_expires(client_factory: Callable[..., TestClient], redis_server: RedisServer) -> None:
    client = client_factory(idempotency_window_seconds=1)
    headers = {**AUTH, "Idempotency-Key": "short-lived"}
    first = client.post("/v1/tasks/add", json={"x": 1, "y": 2}, headers=headers).json()["task_id"]
    time.sleep(1.2)

    later = client.post("/v1/tasks/add", json={"x": 1, "y": 2}, headers=headers).json()

    assert later["task_id"] != first
    assert later["idempotent_replay"] is False
    assert queue_depth(redis_server, "high") == 2


def test_concurrent_submits_with_one_key_enqueue_once(client: TestClient, redis_server: RedisServer) -> None:
    headers = {**AUTH, "Idempotency-Key": "racing"}
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(
            lambda _: client.post("/v1/tasks/add", json={"x": 5, "y": 5}, headers=headers), range(16)
        ))

    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["task_id"] for r in responses}) == 1
    assert queue_depth(redis_server, "high") == 1


def test_integral_floats_are_integers_as_in_json_schema(client: TestClient, redis_server: RedisServer) -> None:
    response = client.post("/v1/tasks/add", json={"x": 3.0, "y": -2}, headers=AUTH)

    assert response.status_code == 202, response.text
    [message] = queued_messages(redis_server, "high")
    _, kwargs, _ = json.loads(base64.b64decode(str(message["body"])))
    assert kwargs == {"x": 3, "y": -2} and isinstance(kwargs["x"], int)


@pytest.mark.parametrize("replayed", [False, True])
@pytest.mark.parametrize("task_id", ["6f1c1a54-7d0e-4a8e-9a3c-5d1e2b3c4d5e", 'odd "id" \\ é'])
def test_the_202_is_what_jsonresponse_renders_of_the_model(replayed: bool, task_id: str) -> None:
    """``accepted`` writes the body directly; it must be the bytes JSONResponse renders of ``TaskAccepted``."""
    spec, submitted = TASKS["external_call"], Submitted(task_id, replayed)
    response = accepted(spec, submitted)
    expected = JSONResponse(accepted_body(spec, submitted).model_dump(), status_code=202,
                            headers={"Location": f"/v1/tasks/{task_id}"})
    assert (response.status_code, response.body, response.headers.items()) == (
        expected.status_code, expected.body, expected.headers.items())
