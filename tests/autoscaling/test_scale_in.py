"""Running work counts: real workers, a real Redis, and the work ledger the autoscaler reads.

- A long task keeps its instance through an empty queue: while it runs, every list of its queue
  is empty but the ledger holds it, so CREMA's recommendation stays at 1.
- Scale-in from 3 workers to 1 while tasks run, each stopped as Cloud Run stops an instance
  (SIGTERM, SIGKILL 10 s later): every task finishes exactly once, the ledger empties, and no
  task runs twice at once, not even for a millisecond: the threads pool's running tasks are
  requeued only after their process has exited (worker.shutdown_requeue); prefork kills them.

The tasks are ``external_call`` with a URL on ``HoldServer``, which answers after ``hold`` seconds
(or, in the scale-in test, once the leaving workers are gone: longer than any grace period, however
long the set-up took) and records each call's lifetime, so a task running twice at once shows as
overlapping calls.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from task_contract.autoscaling import recommended_instances
from task_contract.work_ledger import ledger_key

from tests.autoscaling.hold_server import HoldServer
from tests.support.ports import wait_until
from tests.support.redis_server import RedisServer
from tests.support.worker_process import WorkerProcess, celery_client, queue_depth

QUEUE = "default"  # external_call's queue
# external_call's egress guard refuses loopback unless allowed; HoldServer listens there.
LOOPBACK = {"EXTERNAL_CALL_ALLOWED_HOSTS": "127.0.0.1", "EXTERNAL_CALL_ALLOWED_NETWORKS": "127.0.0.1/32"}
LONGER_THAN_GRACE = 12.0


@pytest.fixture
def hold_server() -> Iterator[HoldServer]:
    with HoldServer() as server:
        yield server


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[Any]:
    app = celery_client(redis_server)
    yield app
    app.close()


def publish(client: Any, server: HoldServer, name: str, hold: float | None) -> Any:
    return client.send_task("external_call", kwargs={"url": server.url(name, hold)}, queue=QUEUE)


def stop_like_cloud_run(worker: WorkerProcess) -> str:
    """SIGTERM, then SIGKILL if it still runs 10 s later; how it ended."""
    try:
        seconds = worker.stop(signal.SIGTERM, timeout=10)
        return f"exited {seconds:.1f}s after SIGTERM"
    except AssertionError:
        worker.kill()
        return "SIGKILLed after 10 s"


def test_a_long_task_keeps_its_instance_through_an_empty_queue(
    redis_server: RedisServer, worker_factory: Any, client: Any, hold_server: HoldServer
) -> None:
    worker_factory(redis_server, WORKER_QUEUES=QUEUE, WORKER_CONCURRENCY="2", **LOOPBACK)
    ledger = redis_server.client()
    result = publish(client, hold_server, "long", LONGER_THAN_GRACE)
    wait_until(lambda: len(hold_server.in_flight()) == 1, 20, "the long task to start")

    polls = 0
    while hold_server.in_flight():
        waiting, signal_now = queue_depth(redis_server, QUEUE), int(ledger.zcard(ledger_key(QUEUE)))
        assert waiting == 0, "the queue's lists should be empty while the only task runs"
        # What CREMA computes each poll (target 2, from the group's concurrency).
        assert signal_now == 1
        assert recommended_instances(signal_now, target=2, current=1) == 1
        polls += 1
        time.sleep(1)
    assert polls >= 8, f"expected to watch the task run for ~{LONGER_THAN_GRACE:.0f}s, polled {polls}x"

    assert result.get(timeout=10)["status"] == 200
    wait_until(lambda: ledger.zcard(ledger_key(QUEUE)) == 0, 5, "the finished task to leave the ledger")
    assert recommended_instances(0, target=2, current=1) == 0


@pytest.mark.parametrize("pool", ["threads", "prefork"])
def test_scale_in_from_three_to_one_loses_nothing_and_runs_nothing_twice_at_once(
    redis_server: RedisServer, worker_factory: Any, client: Any, hold_server: HoldServer, pool: str
) -> None:
    ledger = redis_server.client()
    leaving = [
        worker_factory(redis_server, WORKER_QUEUES=QUEUE, WORKER_CONCURRENCY="2", WORKER_POOL=pool, **LOOPBACK)
        for _ in range(2)
    ]
    # Held until both leaving workers are gone: they outlast the stop, so they must be requeued.
    results = [publish(client, hold_server, f"t{i}", None) for i in range(4)]
    wait_until(lambda: len(hold_server.in_flight()) == 4, 20, "4 tasks running on the 2 leaving workers")
    staying = worker_factory(
        redis_server, WORKER_QUEUES=QUEUE, WORKER_CONCURRENCY="6", WORKER_POOL=pool, **LOOPBACK
    )
    results += [publish(client, hold_server, f"t{i}", None) for i in range(4, 6)]
    wait_until(lambda: len(hold_server.in_flight()) == 6, 20, "6 tasks running on 3 workers")
    assert ledger.zcard(ledger_key(QUEUE)) == 6 and queue_depth(redis_server, QUEUE) == 0

    # Scale in to 1: Cloud Run stops two instances at once.
    stopped: list[str] = []
    threads = [threading.Thread(target=lambda w=w: stopped.append(stop_like_cloud_run(w))) for w in leaving]
    for thread in threads:
        thread.start()
    # While they stop, the ledger never drops a task: 6 unfinished tasks, whatever their state.
    while any(t.is_alive() for t in threads):
        assert ledger.zcard(ledger_key(QUEUE)) == 6
        time.sleep(0.2)
    for thread in threads:
        thread.join()
    hold_server.release()  # the requeued copies and the staying worker's own tasks may now finish

    outcomes = [r.get(timeout=60) for r in results]
    assert all(o["status"] == 200 for o in outcomes), outcomes
    completed = sorted(c.name for c in hold_server.snapshot() if c.completed)
    assert completed == sorted(f"t{i}" for i in range(6)), "every task finished, once"
    assert hold_server.overlaps() == [], "a task ran twice at the same time"
    wait_until(lambda: ledger.zcard(ledger_key(QUEUE)) == 0, 5, "the ledger to empty")
    assert staying.alive()
    print("stopped workers:", stopped)
