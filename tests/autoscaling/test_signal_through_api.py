"""The scaling spec's signal against a real Redis, through the real API: it equals the backlog.

A backlog is published across several queues: through the API (which adds each task to its
queue's ledger in the script that publishes it) and, with priorities, through Celery's
``send_task`` with ``work_ledger.count_publishes`` (the API has no priority field). It is counted
independently with ``LLEN`` over every list in Redis (found by ``SCAN`` + ``TYPE``, not by the
names the code expects), and must equal each queue's ledger length, the signal KEDA's Redis
scaler reads (``ZCARD`` for a sorted set). The desired count is then computed as CREMA does.

The same test runs for both autoscalers: the trigger CREMA reads on Cloud Run and the
ScaledObject KEDA reads on GKE, each rendered by the program from one scaling spec; the key each
names is counted as KEDA's scaler counts it, and its ``listLength`` is the target.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from typing import Any


from task_contract import work_ledger
from task_contract.autoscaling import Behavior, Policy, Rules, Stabilizer, desired_instances
from task_contract.queues import QUEUES

from tests.autoscaling.renderers import RENDERERS, group_spec, keda_redis_count
from tests.support.redis_server import RedisServer
from tests.support.worker_process import celery_client

SEPARATOR = "\x06\x16"  # kombu's priority-list separator; the test finds lists without it too


def every_list_length(redis: RedisServer) -> Counter[str]:
    """LLEN of every list key in Redis, summed per queue (the part of the name before the separator)."""
    client = redis.client()
    per_queue: Counter[str] = Counter()
    for key in client.scan_iter(count=1000):
        if client.type(key) == b"list":
            name = key.decode()
            per_queue[name.split(SEPARATOR)[0]] += int(client.llen(key))
    return per_queue


def test_signal_equals_the_backlog_and_the_desired_count_follows(redis_server: RedisServer, api_factory: Any) -> None:
    api = api_factory(redis_server)
    published: Counter[str] = Counter()
    with api.client() as http:
        for name, body, queue, n in (("add", {"x": 1, "y": 2}, "high", 7), ("external_call", {}, "default", 11), ("flaky", {}, "low", 5)):
            for _ in range(n):
                response = http.post(f"/v1/tasks/{name}", json=body, headers=api.auth_headers)
                assert response.status_code == 202, response.text
            published[queue] += n

    ledger_client = redis_server.client()
    # Undone after: the hook is process-wide and would touch this Redis, gone, on later tests' publishes.
    stop_counting = work_ledger.count_publishes(ledger_client, time.time)
    client = celery_client(redis_server)
    try:
        for priority, queue, n in ((3, "high", 4), (6, "default", 6), (9, "low", 8), (9, "high", 2)):
            for _ in range(n):
                client.send_task("add", kwargs={"x": 1, "y": 1}, queue=queue, priority=priority)
            published[queue] += n
    finally:
        client.close()
        stop_counting()

    lengths = every_list_length(redis_server)
    assert {q: lengths[q] for q in QUEUES} == {q: published[q] for q in QUEUES}
    # The priorities landed in kombu's sub-lists, which a plain LLEN of the queue name misses.
    assert all(int(ledger_client.llen(q)) < published[q] for q in QUEUES)
    # What each autoscaler reads (CREMA on Cloud Run, KEDA on GKE): the key and target its rendered
    # trigger names, counted as KEDA's Redis scaler counts it.
    for renderer, render in sorted(RENDERERS.items()):
        signals: dict[str, int] = {}
        for q in QUEUES:
            (trigger,) = render(group_spec(q, target=4, min_instances=0, max_instances=10))["triggers"]
            assert int(trigger["metadata"]["listLength"]) == 4, renderer
            signals[q] = keda_redis_count(ledger_client, trigger["metadata"]["listName"])
        assert signals == {q: lengths[q] for q in QUEUES}, f"{renderer}: the signal is exactly the backlog"
        assert math.ceil(signals["default"] / 4) == 5  # AverageValue: ceil(17 / 4) replicas wanted

    # docs/scaling.md: desired = ceil(signal / target), one instance first from zero, clamped.
    behavior = Behavior(Rules(0, (Policy("Pods", 10, 15),)), Rules(120, (Policy("Percent", 50, 60),)))
    target, stabilizer = 4, Stabilizer.starting(0, 0)
    signal = signals["default"]  # 17
    assert desired_instances(signal, target, 0, 0, 10, behavior, stabilizer, now=15) == 1
    assert desired_instances(signal, target, 1, 0, 10, behavior, stabilizer, now=30) == 5  # ceil(17 / 4)
    low = Stabilizer.starting(0, 5)  # another group: target 1, at 5 instances
    assert desired_instances(signals["low"], 1, 5, 0, 10, behavior, low, now=15) == 10  # 13, clamped to max

    # Stopped, the hook is gone: a later publish from this process leaves the ledger alone.
    before = int(ledger_client.zcard(work_ledger.ledger_key("high")))
    client = celery_client(redis_server)
    try:
        client.send_task("add", kwargs={"x": 1, "y": 1}, queue="high")
    finally:
        client.close()
    assert int(ledger_client.zcard(work_ledger.ledger_key("high"))) == before
