"""Nothing lost, nothing phantom: the real API process on a real Redis that hangs, fills up or has a full queue.

- A submit whose Redis hangs answers 503 (outcome unknown); its retry with the same
  Idempotency-Key returns a task that really is on the queue, exactly once.
- Back-pressure: a queue at MAX_QUEUE_LENGTH (all priority lists counted), or Redis near
  maxmemory, answers 429 with Retry-After and enqueues nothing; a Redis at maxmemory under
  ``noeviction`` (writes refused with OOM) is a 429 too, never a 500.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

import httpx
import pytest

from tests.support.api_process import ApiProcess
from tests.support.redis_server import RedisServer
from tests.support.worker_process import queue_depth

pytestmark = pytest.mark.slow

ADD = {"x": 1, "y": 2}


def queued_ids(redis_server: RedisServer, queue: str = "high") -> list[str]:
    client = redis_server.client()
    return [json.loads(raw)["headers"]["id"] for raw in client.lrange(queue, 0, -1)]


def post(api: ApiProcess, http: httpx.Client, key: str | None = None, body: dict[str, int] = ADD) -> httpx.Response:
    headers = {**api.auth_headers, **({"Idempotency-Key": key} if key else {})}
    return http.post("/v1/tasks/add", json=body, headers=headers)


def test_a_retry_after_a_hung_redis_never_confirms_an_unpublished_task(
    redis_server: RedisServer, api_factory: Callable[..., ApiProcess]
) -> None:
    # The repro: before the fix the retry got 202 "replayed" with an id that was
    # claimed while Redis hung but never published (GET 404, never ran).
    api = api_factory(redis_server)
    with api.client() as http:
        assert http.get("/readyz").status_code == 200
        with redis_server.hung():
            failed = post(api, http, key="hung-1")
            unkeyed = post(api, http)
        time.sleep(0.3)  # Redis runs what it had buffered
        retried = post(api, http, key="hung-1")
        status = http.get(f"/v1/tasks/{retried.json()['task_id']}", headers=api.auth_headers)

    assert retried.status_code == 202, retried.text
    task_id = retried.json()["task_id"]
    assert status.status_code == 200 and status.json()["state"] == "PENDING", status.text
    # Whatever Redis ran of the hung requests, the keyed task is on the queue exactly once.
    assert queued_ids(redis_server).count(task_id) == 1
    assert failed.status_code == 503 and unkeyed.status_code == 503
    for response in (failed, unkeyed):
        detail = response.json()["detail"]
        assert "outcome is unknown" in detail and "Idempotency-Key is safe" in detail, detail
        assert str(redis_server.port) not in detail


def test_a_queue_at_its_maximum_length_answers_429_and_enqueues_nothing(
    redis_server: RedisServer, api_factory: Callable[..., ApiProcess]
) -> None:
    api = api_factory(redis_server, MAX_QUEUE_LENGTHS="high=3", MAX_QUEUE_LENGTH="0")
    client = redis_server.client()
    client.lpush("high\x06\x169", "a message at priority 9")  # another priority list of the same queue
    with api.client() as http:
        first = post(api, http, key="first")
        assert post(api, http).status_code == 202
        refused = post(api, http, key="third")
        replay = post(api, http, key="first")  # already enqueued: still answered
        other_queue = http.post("/v1/tasks/flaky", json={"fail_times": 0}, headers=api.auth_headers)
        metrics = http.get("/metrics").text

    assert first.status_code == 202
    assert refused.status_code == 429, refused.text
    assert refused.headers["retry-after"] == "5"
    assert "queue 'high' holds 3 tasks" in refused.json()["detail"]
    assert "nothing was enqueued" in refused.json()["detail"]
    assert replay.status_code == 202 and replay.json()["task_id"] == first.json()["task_id"]
    assert other_queue.status_code == 202  # the limit is per queue
    assert queue_depth(redis_server, "high") == 3
    assert client.exists(f"cloudrun_celery:submitted:{first.json()['task_id']}")
    assert 'reason="backpressure",task="add"} 1.0' in metrics


def test_redis_near_or_at_maxmemory_answers_429_never_500(
    redis_server: RedisServer, api_factory: Callable[..., ApiProcess]
) -> None:
    client = redis_server.client()
    near = api_factory(redis_server)  # REDIS_MEMORY_HIGH_WATER_PERCENT=90 by default
    full = api_factory(redis_server, REDIS_MEMORY_HIGH_WATER_PERCENT="100")  # only Redis's own OOM
    used = int(client.info("memory")["used_memory"])
    client.config_set("maxmemory", str(int(used / 0.95)))  # ~95 % full
    try:
        with near.client() as http:
            high_water = post(near, http, key="near")
        client.config_set("maxmemory", str(used // 2))  # over the limit: noeviction refuses writes
        with full.client() as http:
            refused = post(full, http, key="full")
            refused_again = post(full, http, key="full")
    finally:
        client.config_set("maxmemory", "0")
    with full.client() as http:
        retried = post(full, http, key="full")

    assert high_water.status_code == 429, high_water.text
    assert re.match(r"Redis memory is \d+% full, over REDIS_MEMORY_HIGH_WATER_PERCENT=90%", high_water.json()["detail"])
    assert high_water.headers["retry-after"] == "5"
    for response in (refused, refused_again):
        assert response.status_code == 429, response.text
        assert "memory limit" in response.json()["detail"] and response.headers["retry-after"] == "5"
    assert retried.status_code == 202 and retried.json()["idempotent_replay"] is False
    assert queue_depth(redis_server, "high") == 1  # only the retry
    assert all('"severity": "ERROR"' not in line for line in near.log_lines() + full.log_lines())
