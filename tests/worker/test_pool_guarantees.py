"""What each pool guarantees (services/worker/README.md, "Delivery guarantees"), with real Redis and workers."""

from __future__ import annotations

import time

import pytest

from tests.support.ports import wait_until
from tests.support.redis_server import RedisServer
from tests.support.worker_process import queue_depth, result_of, unacked
from tests.worker.test_faults import clean, started, successes

pytestmark = pytest.mark.slow

PREFORK = {"WORKER_POOL": "prefork", "WORKER_CONCURRENCY": "2"}


def restart_keeping_data(redis: RedisServer, down_seconds: float = 0.0) -> None:
    """Stop redis-server after a snapshot and start it on the same port: a blip, or an outage, nothing lost."""
    assert redis.process is not None
    redis.client().shutdown(save=True)
    redis.process.wait(10)
    redis.process = None
    time.sleep(down_seconds)
    redis.start()


@pytest.mark.parametrize(
    ("pool", "down_seconds", "most_runs"),
    [
        # prefork cancels the running copy and the message is requeued: exactly one success.
        pytest.param(PREFORK, 0.0, 1, id="prefork-blip"),
        pytest.param(PREFORK, 3.0, 1, id="prefork-3s-outage"),
        # threads cannot cancel: the running copy finishes, and the requeued message may run again.
        pytest.param({}, 0.0, 2, id="threads-blip"),
    ],
)
def test_redis_restart_keeping_data_while_busy_every_task_finishes(
    redis_server, worker_factory, client, pool, down_seconds, most_runs
):
    worker = worker_factory(redis_server, **pool)
    busy = [client.send_task("external_call", kwargs={"latency_seconds": 2}) for _ in range(2)]
    for result in busy:
        started(worker, result.id)

    restart_keeping_data(redis_server, down_seconds)

    # Before the fix (prefork) they ended REVOKED "terminated" and were acked, or sat in Redis's
    # unacked hash until the visibility timeout (TASK_TIME_LIMIT_SECONDS + 300 s).
    for result in busy:
        try:
            outcome = result_of(client, result.id, 45)
        except AssertionError as exc:  # name what the worker did, not only that the wait ran out
            raise AssertionError(f"{exc}\n{worker.describe()}") from None
        assert outcome["latency_seconds"] >= 2, worker.describe()
    assert worker.alive() and clean(worker), worker.describe()
    wait_until(lambda: unacked(redis_server) == 0 and queue_depth(redis_server, "default") == 0, 30,
               "every message acked")
    time.sleep(2.5)  # a requeued copy that is still running would log its success by now
    runs = successes(worker)
    assert all(1 <= runs[r.id] <= most_runs for r in busy), f"{runs}\n{worker.describe()}"


def failure_of(client, task_id: str, timeout: float) -> dict:
    """The stored meta once the task has failed."""
    wait_until(lambda: client.backend.get_task_meta(task_id)["status"] == "FAILURE", timeout, f"{task_id} to fail")
    meta: dict = client.backend.get_task_meta(task_id)
    return meta


@pytest.mark.parametrize("pool", [pytest.param({}, id="threads"), pytest.param(PREFORK, id="prefork")])
def test_an_overrunning_task_fails_at_its_time_limit_and_never_runs_a_second_copy(
    redis_server, worker_factory, client_factory, pool
):
    # A visibility timeout just past the time limit: before the fix, the threads pool ran the task
    # on and the sweep handed the message to the second worker while the first copy still ran.
    timing = {"TASK_TIME_LIMIT_SECONDS": "2", "VISIBILITY_TIMEOUT_SECONDS": "3"}
    first = worker_factory(redis_server, **pool, **timing)
    second = worker_factory(redis_server, **pool, **timing)
    client = client_factory(redis_server, task_time_limit_seconds=2, visibility_timeout_seconds=3)
    result = client.send_task("external_call", kwargs={"latency_seconds": 6})
    wait_until(lambda: "received" in first.output() + second.output(), 30, "a worker to receive the task")
    received_at = time.monotonic()

    meta = failure_of(client, result.id, 20)
    failed_after = time.monotonic() - received_at

    assert type(meta["result"]).__name__ == "TimeLimitExceeded", meta
    # The stated margin (README): FAILURE within the time limit + 1 s; +1 s more for this busy machine.
    assert failed_after < 2 + 1 + 1, f"failed {failed_after:.1f}s after it started"
    time.sleep(5)  # past the task's own end and two visibility timeouts
    receipts = (first.output() + second.output()).count(f"[{result.id}] received")
    assert receipts == 1, f"the task was delivered {receipts} times\n{first.describe()}\n{second.describe()}"
    assert successes(first, second)[result.id] == 0
    assert client.backend.get_task_meta(result.id)["status"] == "FAILURE"
    assert unacked(redis_server) == 0 and queue_depth(redis_server, "default") == 0
    # The pool still has its slot: the next task runs at once.
    assert result_of(client, client.send_task("add", kwargs={"x": 1, "y": 1}).id, 10) == 2
