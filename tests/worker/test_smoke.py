"""A real worker on a real redis-server runs each catalog task and reports on its HTTP port."""

from __future__ import annotations

import json
import signal
import urllib.error
import urllib.request

import pytest

from tests.support.ports import wait_until
from tests.support.worker_process import result_of


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode()


def test_worker_runs_the_catalog_tasks_and_counts_them(redis_server, worker_factory, client):
    worker = worker_factory(redis_server)
    base = f"http://127.0.0.1:{worker.port}"
    status, body = get(base + "/healthz")
    assert (status, json.loads(body)) == (200, {"status": "consuming", "queues": ["high", "default", "low"]})

    assert result_of(client, client.send_task("add", kwargs={"x": 2, "y": 3}).id) == 5
    assert result_of(client, client.send_task("external_call", kwargs={"latency_seconds": 0.2}).id)[
        "latency_seconds"
    ] >= 0.2
    assert result_of(client, client.send_task("flaky", kwargs={"fail_times": 1}).id) == {"attempts": 2}
    with pytest.raises(AssertionError, match="invalid payload for task 'add'"):
        result_of(client, client.send_task("add", kwargs={"x": 1}).id)

    status, metrics = get(base + "/metrics")
    assert status == 200
    for line in (
        'cloudrun_celery_task_executions_total{outcome="success",task="add"} 1.0',
        'cloudrun_celery_task_executions_total{outcome="failure",task="add"} 1.0',
        'cloudrun_celery_task_executions_total{outcome="retry",task="flaky"} 1.0',
        'cloudrun_celery_task_executions_total{outcome="success",task="flaky"} 1.0',
    ):
        assert line in metrics
    assert get(base + "/nope")[0] == 404
    worker.stop(signal.SIGTERM)


def test_only_long_tasks_report_started(redis_server, worker_factory, client):
    worker_factory(redis_server)
    slow = client.send_task("external_call", kwargs={"latency_seconds": 3})
    wait_until(lambda: client.backend.get_task_meta(slow.id)["status"] == "STARTED", 10, "external_call STARTED")
    quick = client.send_task("add", kwargs={"x": 1, "y": 2})
    assert result_of(client, quick.id) == 3
    # add never stored STARTED: its only write is the result (checked through the task's option).
    assert client.backend.get_task_meta(quick.id)["status"] == "SUCCESS"
    assert result_of(client, slow.id)["latency_seconds"] >= 3


def test_worker_consumes_only_its_queues(redis_server, worker_factory, client):
    worker = worker_factory(redis_server, WORKER_QUEUES="high")
    assert result_of(client, client.send_task("add", kwargs={"x": 1, "y": 1}).id) == 2  # routed to high
    low = client.send_task("flaky", kwargs={"fail_times": 0})  # routed to low
    overridden = client.send_task("flaky", kwargs={"fail_times": 0}, queue="high")  # per-call override
    assert result_of(client, overridden.id) == {"attempts": 1}
    assert client.backend.get_task_meta(low.id)["status"] == "PENDING"
    assert f"[{low.id}]" not in worker.output()


def test_high_is_drained_before_low(redis_server, worker_factory, client):
    # One consumer: priority order is per consumer, and a second process would take low meanwhile.
    worker = worker_factory(redis_server, WORKER_CONCURRENCY="1", WORKER_PROCESSES="1")
    blocker = client.send_task("external_call", kwargs={"latency_seconds": 2})
    worker.wait_for_output(f"[{blocker.id}] received", 30)
    low = [client.send_task("flaky", kwargs={"fail_times": 0}) for _ in range(3)]
    high = [client.send_task("add", kwargs={"x": i, "y": 0}) for i in range(3)]

    for result in low + high:
        result_of(client, result.id)

    log = worker.output()
    received = sorted((log.index(f"[{r.id}] received"), queue) for queue, rs in (("high", high), ("low", low)) for r in rs)
    assert [queue for _, queue in received] == ["high"] * 3 + ["low"] * 3
