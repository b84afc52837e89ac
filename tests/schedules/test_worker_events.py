"""Task events and heartbeats (Flower's feed) only on a group with WORKER_EVENTS=true: a real worker, a real Redis.

Celery publishes events on the ``celeryev`` fanout exchange, which kombu's Redis transport
sends with PUBLISH; a pattern subscription sees every one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.redis_server import RedisServer
from tests.support.worker_process import WorkerProcess, result_of


def event_types(redis: RedisServer, run: Callable[[], None], listen_seconds: float) -> list[str]:
    pubsub = redis.client().pubsub()
    pubsub.psubscribe("*celeryev*")
    run()
    seen: list[str] = []
    deadline = time.monotonic() + listen_seconds
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.5)
        if message and message["type"] == "pmessage":
            delivery = json.loads(message["data"]).get("properties", {}).get("delivery_info", {})
            seen.append(str(delivery.get("routing_key")))
    pubsub.close()
    return seen


@pytest.mark.parametrize("events", [True, False], ids=["watched", "not-watched"])
def test_events_and_heartbeats_only_when_watched(
    events: bool, redis_server: RedisServer, worker_factory: Callable[..., WorkerProcess], client: Any
) -> None:
    env = {"WORKER_EVENTS": "true"} if events else {}
    worker_factory(redis_server, WORKER_QUEUES="high", **env)

    def submit() -> None:
        result_of(client, client.send_task("add", kwargs={"x": 1, "y": 2}, queue="high").id, timeout=30)

    # Celery sends a heartbeat every 2 s: 3 s of listening sees at least one.
    seen = event_types(redis_server, submit, listen_seconds=3)
    if events:
        # Task events travel grouped (task.multi); heartbeats on their own.
        assert "task.multi" in seen and "worker.heartbeat" in seen, seen
    else:
        assert seen == []
