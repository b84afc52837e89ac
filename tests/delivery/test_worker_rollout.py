"""A worker rollout with real processes: the old revision consumes until the new one is healthy.

Cloud Run starts a new revision's instance, waits for its startup probe (the worker's /healthz,
200 only once it consumes), and only then stops the old instances with SIGTERM. These tests play
that sequence with two real ``python -m worker`` processes on a real redis-server, with tasks
submitted all along, for a good new revision and for a bad one whose probe never passes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from tests.support.ports import free_port
from tests.support.redis_server import RedisServer, broker_env
from tests.support.worker_process import WorkerProcess, celery_client, result_of

STARTUP_PROBE_SECONDS = 8  # the bad revision's probe budget in this test (Cloud Run: 180 s)


class Producer:
    """Submits `add` tasks by name every 50 ms until stopped, as the API does."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.ids: list[tuple[str, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            result = self.client.send_task("add", kwargs={"x": n, "y": 1}, queue="high")
            self.ids.append((result.id, n + 1))
            n += 1
            time.sleep(0.05)

    def __enter__(self) -> Producer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def finished(self) -> int:
        return sum(1 for task_id, _ in self.ids if self.client.backend.get_task_meta(task_id)["status"] == "SUCCESS")


def worker_log_count(worker: WorkerProcess) -> int:
    return worker.output().count("succeeded in")


def test_old_worker_consumes_until_the_new_one_is_healthy_then_hands_over_without_loss(
    redis_server: RedisServer, worker_factory: Callable[..., WorkerProcess]
) -> None:
    old = worker_factory(redis_server, WORKER_QUEUES="high")
    client = celery_client(redis_server)
    with Producer(client) as producer:
        time.sleep(1)
        new = WorkerProcess(env={**broker_env(redis_server), "LOG_LEVEL": "INFO", "WORKER_QUEUES": "high"})
        done_before_new = producer.finished()
        new.start(timeout=60)  # the startup probe: /healthz 200 once consuming
        # The old revision kept consuming while the new one started.
        assert old.health() == 200 and producer.finished() > done_before_new
        old.stop()  # only now, as Cloud Run does: SIGTERM to the old revision
        time.sleep(1)
    try:
        for task_id, expected in producer.ids:
            assert result_of(client, task_id, timeout=30) == expected
        assert worker_log_count(new) > 0, "the new revision never took over"
    finally:
        new.cleanup()


def test_a_new_worker_that_never_gets_healthy_never_replaces_the_old_one(
    redis_server: RedisServer, worker_factory: Callable[..., WorkerProcess]
) -> None:
    old = worker_factory(redis_server, WORKER_QUEUES="high")
    client = celery_client(redis_server)
    # A bad image: here, a broker it cannot reach (a wrong secret, a missing VPC route).
    bad = WorkerProcess(env={"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "LOG_LEVEL": "INFO",
                             "WORKER_QUEUES": "high"})
    with Producer(client) as producer:
        try:
            started = time.monotonic()
            try:
                bad.start(timeout=STARTUP_PROBE_SECONDS)
                raise AssertionError("the bad worker passed its startup probe")
            except AssertionError as probe_failed:
                assert "waiting for /healthz 200" in str(probe_failed) or "exited" in str(probe_failed)
            assert time.monotonic() - started < STARTUP_PROBE_SECONDS + 10
        finally:
            bad.cleanup()  # the rollout is abandoned; the old revision was never signalled
            # A bad worker can fail its probe at once: keep publishing until the old one has had work.
            deadline = time.monotonic() + 20
            while len(producer.ids) <= 20 and time.monotonic() < deadline:
                time.sleep(0.1)
    assert old.alive() and old.health() == 200
    for task_id, expected in producer.ids:
        assert result_of(client, task_id, timeout=30) == expected
    assert len(producer.ids) > 20
