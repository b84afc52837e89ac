"""A real worker on a real redis-server runs each catalog task."""

from __future__ import annotations

import signal


def test_worker_runs_the_catalog_tasks(redis_server, worker_factory, client):
    worker = worker_factory(redis_server)
    assert client.send_task("add", kwargs={"x": 2, "y": 3}).get(timeout=30) == 5
    assert client.send_task("external_call", kwargs={"latency_seconds": 0.2}).get(timeout=30)["latency_seconds"] >= 0.2
    assert client.send_task("flaky", kwargs={"fail_times": 1}).get(timeout=30) == {"attempts": 2}
    worker.stop(signal.SIGTERM)
