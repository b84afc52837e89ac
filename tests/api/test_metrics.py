"""/metrics: submissions, failures and queue depth per queue, in Prometheus text format."""

from __future__ import annotations

from typing import Any

from api.queue_depth import priority_lists
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import AUTH
from tests.support.redis_server import RedisServer
from tests.support.worker_process import celery_client


def samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


def test_priority_lists_follow_kombu() -> None:
    assert priority_lists("high") == ["high", "high\x06\x163", "high\x06\x166", "high\x06\x169"]


def test_queue_depth_counts_every_priority_sub_list(client: TestClient, redis_server: RedisServer) -> None:
    publisher: Any = celery_client(redis_server)
    for priority in (0, 3, 6, 9, 9):
        publisher.send_task("add", kwargs={"x": 1, "y": 1}, queue="high", priority=priority)
    publisher.send_task("external_call", kwargs={}, queue="default")
    lists = {name.decode() if isinstance(name, bytes) else name for name in redis_server.client().keys("high*")}
    assert lists == set(priority_lists("high"))  # kombu really used all four lists

    found = samples(client)

    assert value(found, "cloudrun_celery_queue_depth", queue="high") == 5
    assert value(found, "cloudrun_celery_queue_depth", queue="default") == 1
    assert value(found, "cloudrun_celery_queue_depth", queue="low") == 0
    assert value(found, "cloudrun_celery_broker_up") == 1


def test_submissions_and_failures_are_counted_per_task_and_queue(client: TestClient) -> None:
    for _ in range(3):
        client.post("/v1/tasks/add", json={"x": 1, "y": 2}, headers=AUTH)
    client.post("/v1/tasks/flaky", json={"fail_times": 99}, headers=AUTH)
    client.post("/v1/tasks/add", json={"x": 1, "y": 2}, headers={**AUTH, "Idempotency-Key": "a"})
    client.post("/v1/tasks/add", json={"x": 1, "y": 2}, headers={**AUTH, "Idempotency-Key": "a"})
    client.post("/v1/tasks/add", json={"x": 1, "y": 3}, headers={**AUTH, "Idempotency-Key": "a"})

    found = samples(client)

    assert value(found, "cloudrun_celery_task_submissions_total", task="add", queue="high") == 4
    assert value(found, "cloudrun_celery_task_submissions_total", task="flaky", queue="low") == 0
    assert value(found, "cloudrun_celery_task_idempotent_replays_total", task="add", queue="high") == 1
    failures = "cloudrun_celery_task_submission_failures_total"
    assert value(found, failures, task="flaky", queue="low", reason="invalid_payload") == 1
    assert value(found, failures, task="add", queue="high", reason="idempotency_conflict") == 1
    assert value(found, failures, task="add", queue="high", reason="broker_unavailable") == 0
    assert value(found, "cloudrun_celery_queue_depth", queue="high") == 4


def test_broker_down_is_counted_and_metrics_still_answer(client: TestClient, redis_server: RedisServer) -> None:
    redis_server.stop()
    assert client.post("/v1/tasks/add", json={"x": 1, "y": 2}, headers=AUTH).status_code == 503

    found = samples(client)

    assert value(found, "cloudrun_celery_task_submission_failures_total",
                 task="add", queue="high", reason="broker_unavailable") == 1
    assert value(found, "cloudrun_celery_broker_up") == 0
    assert not any(name == "cloudrun_celery_queue_depth" for name, _ in found)
