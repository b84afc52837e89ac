"""The worker's /metrics on a real worker and Redis: prefork counters, queue gauges, consuming."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.support.ports import wait_until
from tests.support.redis_server import RedisServer
from tests.support.worker_process import WorkerProcess, celery_client, result_of


def samples(worker: WorkerProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{worker.port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_prefork_children_counters_reach_metrics(
    redis_server: RedisServer, worker_factory: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    stale = tmp_path / "counter_99999.db"
    stale.write_bytes(b"left by an earlier run")
    worker = worker_factory(
        redis_server, WORKER_POOL="prefork", WORKER_CONCURRENCY="2", WORKER_QUEUES="high",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path),
    )
    assert not stale.exists(), "files of an earlier run must be cleared before the pool starts"
    client = celery_client(redis_server)
    for i in range(4):
        assert result_of(client, client.send_task("add", kwargs={"x": i, "y": 1}, queue="high").id) == i + 1
    key = ("cloudrun_celery_task_executions_total", (("outcome", "success"), ("task", "add")))
    wait_until(lambda: samples(worker).get(key) == 4.0, timeout=10, what="4 successes counted from the children")
    assert any(tmp_path.glob("counter_*.db")), "the children write their counters to the directory"


def test_queue_gauges_count_every_priority_list_and_age_the_oldest_message(
    redis_server: RedisServer, worker_factory: Callable[..., WorkerProcess]
) -> None:
    # The worker consumes `high` only; `low` fills up with nobody consuming it.
    worker = worker_factory(redis_server, WORKER_QUEUES="high")
    client = celery_client(redis_server)
    for priority in (0, 3, 6, 9):
        client.send_task("flaky", kwargs={"fail_times": 0}, queue="low", priority=priority)
    first = samples(worker)
    assert first[("cloudrun_celery_queue_depth", (("queue", "low"),))] == 4
    assert first[("cloudrun_celery_broker_up", ())] == 1
    assert first[("cloudrun_celery_worker_consuming", (("queue", "high"),))] == 1
    assert ("cloudrun_celery_worker_consuming", (("queue", "low"),)) not in first
    time.sleep(1.5)
    age = samples(worker)[("cloudrun_celery_queue_oldest_message_age_seconds", (("queue", "low"),))]
    assert 1.0 <= age < 10
    redis_server.client().delete("low", "low\x06\x163", "low\x06\x166", "low\x06\x169")
    assert first[("cloudrun_celery_dead_letters", ())] == 0
    redis_server.client().zadd("cloudrun_celery:dead_letters", {"some-task-id": time.time()})
    emptied = samples(worker)
    assert emptied[("cloudrun_celery_dead_letters", ())] == 1
    assert emptied[("cloudrun_celery_queue_depth", (("queue", "low"),))] == 0
    assert emptied[("cloudrun_celery_queue_oldest_message_age_seconds", (("queue", "low"),))] == 0
