"""WORKER_PROCESSES: several consumer processes behind one health endpoint (worker.supervisor)."""

from __future__ import annotations

import os
import re
import signal
import time

import psutil
import pytest

from tests.support.ports import wait_until
from worker.supervisor import KILL_AFTER_SECONDS
from tests.support.worker_process import queue_depth, result_of, unacked
from tests.worker.test_faults import CLOUD_RUN_GRACE_SECONDS, clean, started

pytestmark = pytest.mark.slow


def consumers(worker) -> list[psutil.Process]:
    return [p for p in psutil.Process(worker.pid).children() if "worker" in " ".join(p.cmdline())]


def test_default_worker_runs_two_consumers_and_sums_their_metrics(redis_server, worker_factory, client):
    worker = worker_factory(redis_server)
    assert len(consumers(worker)) == 2
    results = [client.send_task("external_call", kwargs={"latency_seconds": 0.5}) for _ in range(40)]
    for result in results:
        result_of(client, result.id, 30)
    hosts = set(re.findall(r"(worker-[0-9a-f]{8}@\S+) ready", worker.output()))
    assert len(hosts) == 2, worker.output()
    # Both consumers took tasks: each child logs its own pid in the "received" lines' process.
    from urllib.request import urlopen

    with urlopen(f"http://127.0.0.1:{worker.port}/metrics", timeout=5) as response:
        metrics = response.read().decode()
    assert 'cloudrun_celery_task_executions_total{outcome="success",task="external_call"} 40.0' in metrics, metrics


def test_health_is_503_if_any_one_consumer_stops_and_200_when_it_is_back(redis_server, worker_factory):
    worker = worker_factory(redis_server)
    second = consumers(worker)[1]
    second.suspend()  # frozen: its own probe no longer answers
    try:
        worker.wait_health(503, timeout=10)
    finally:
        second.resume()
    worker.wait_healthy(timeout=30)


def test_a_consumer_that_exits_stops_the_instance(redis_server, worker_factory):
    worker = worker_factory(redis_server)
    first, second = consumers(worker)
    os.kill(first.pid, signal.SIGKILL)
    assert worker.process is not None
    code = worker.process.wait(CLOUD_RUN_GRACE_SECONDS + 5)
    assert code != 0
    assert "exited with code" in worker.output() and "stopping the others" in worker.output()
    wait_until(lambda: not second.is_running() or second.status() == psutil.STATUS_ZOMBIE, 5, "the other consumer to stop")


def running(p: psutil.Process) -> bool:
    return p.is_running() and p.status() != psutil.STATUS_ZOMBIE


def busy_worker(redis_server, worker_factory, client, threads_per_process: int):
    """A worker with its default 2 processes, every thread running a 15 s task; and its processes."""
    worker = worker_factory(redis_server, WORKER_CONCURRENCY=str(threads_per_process))
    for result in [client.send_task("external_call", kwargs={"latency_seconds": 15})
                   for _ in range(2 * threads_per_process)]:
        started(worker, result.id)
    return worker, consumers(worker)


def test_sigterm_stops_every_consumer_within_10s_and_requeues_their_tasks(redis_server, worker_factory, client):
    worker, children = busy_worker(redis_server, worker_factory, client, 2)

    elapsed = worker.stop(signal.SIGTERM, timeout=30)

    assert elapsed < CLOUD_RUN_GRACE_SECONDS, f"exited {elapsed:.1f}s after SIGTERM\n{worker.describe()}"
    assert clean(worker) and not any(running(p) for p in children)
    assert queue_depth(redis_server, "default") == 4 and unacked(redis_server) == 0, worker.describe()


def test_a_running_task_is_requeued_only_after_its_process_has_exited(redis_server, worker_factory, client):
    # A thread cannot be stopped: requeued while its process still ran, a task could start elsewhere
    # and run twice at once (worker.shutdown_requeue). Here the messages reappear only once every
    # process that ran them is gone.
    worker, children = busy_worker(redis_server, worker_factory, client, 1)
    assert worker.process is not None
    worker.process.send_signal(signal.SIGTERM)

    alive_at_requeue: list[int] | None = None
    while worker.process.poll() is None:
        if alive_at_requeue is None and queue_depth(redis_server, "default") > 0:
            alive_at_requeue = [p.pid for p in children if running(p)]
    assert alive_at_requeue == [], f"requeued while processes {alive_at_requeue} still ran\n{worker.describe()}"
    assert queue_depth(redis_server, "default") == 2 and unacked(redis_server) == 0, worker.describe()
    assert "requeued 1 task(s) that worker process" in worker.output()


def mixed_load(redis_server, worker_factory, client):
    """A worker whose 2 processes each run 2 tasks: 2 short ones (4 s, they finish inside the 6 s soft
    shutdown window) and 2 long ones (15 s, requeued); their results, short first."""
    worker = worker_factory(redis_server, WORKER_CONCURRENCY="2")
    short = [client.send_task("external_call", kwargs={"latency_seconds": 4}) for _ in range(2)]
    long = [client.send_task("external_call", kwargs={"latency_seconds": 15}) for _ in range(2)]
    for result in short + long:
        started(worker, result.id)
    return worker, consumers(worker), short, long


def stopped_like_one_sigterm(worker, children, redis_server, client, short, long, signalled: float) -> None:
    """Exit 0 within the window, nothing killed, the short tasks finished once, the long ones requeued once."""
    assert worker.process is not None
    code = worker.process.wait(CLOUD_RUN_GRACE_SECONDS + 5)
    elapsed = time.monotonic() - signalled
    assert code == 0 and elapsed < KILL_AFTER_SECONDS, f"exit {code} after {elapsed:.1f}s\n{worker.describe()}"
    assert "killing them" not in worker.output() and clean(worker), worker.describe()
    assert not any(running(p) for p in children)
    assert [result_of(client, r.id, 1)["latency_seconds"] >= 4 for r in short] == [True, True]
    assert all(client.backend.get_task_meta(r.id)["status"] != "SUCCESS" for r in long), worker.describe()
    assert queue_depth(redis_server, "default") == 2 and unacked(redis_server) == 0, worker.describe()
    # Each process hands over its long task only: a short one handed over too was cancelled early.
    assert worker.output().count("requeued 1 task(s) that worker process") == 2, worker.describe()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_to_the_whole_process_group_stops_it_like_one_sigterm(redis_server, worker_factory, client, signum):
    # A terminal's Ctrl-C (SIGINT), `kill -TERM -<pgid>` and honcho signal every process of the group.
    # The consumers used to get it twice (the group's and the supervisor's copy) and hang until killed
    # at 9.5 s; and a SIGINT passed on as such was Celery's warm shutdown, which requeued the short
    # tasks at once instead of letting them finish.
    worker, children, short, long = mixed_load(redis_server, worker_factory, client)
    assert not any(r.ready() for r in short), "a short task finished before the signal: the test proves nothing"

    signalled = time.monotonic()
    os.killpg(worker.pid, signum)

    stopped_like_one_sigterm(worker, children, redis_server, client, short, long, signalled)


def test_sigterm_to_every_process_at_once_stops_it_like_one_sigterm(redis_server, worker_factory, client):
    # systemd's default KillMode=control-group (or pkill) signals each process: a consumer gets SIGTERM
    # directly and again from the supervisor. Celery took the second as "cancel the tasks now" (the
    # short ones were requeued too), or ran its soft shutdown twice and was killed (worker.stop_signal).
    worker, children, short, long = mixed_load(redis_server, worker_factory, client)
    assert not any(r.ready() for r in short), "a short task finished before the signal: the test proves nothing"

    signalled = time.monotonic()
    for pid in [worker.pid, *(p.pid for p in children)]:
        os.kill(pid, signal.SIGTERM)

    stopped_like_one_sigterm(worker, children, redis_server, client, short, long, signalled)


def test_a_third_ctrl_c_stops_at_once_and_loses_no_task(redis_server, worker_factory, client):
    # Ctrl-C escalates as in Celery: the first is the soft shutdown, the second cancels the running
    # tasks (the supervisor passes it on as SIGQUIT), the third exits at once. Every task is requeued.
    worker, children, short, long = mixed_load(redis_server, worker_factory, client)
    signalled = time.monotonic()
    for _ in range(3):
        os.killpg(worker.pid, signal.SIGINT)
        time.sleep(0.5)

    assert worker.process is not None
    assert worker.process.wait(CLOUD_RUN_GRACE_SECONDS) == 0, worker.describe()
    elapsed = time.monotonic() - signalled
    assert elapsed < 5, f"exited {elapsed:.1f}s after the first Ctrl-C\n{worker.describe()}"
    assert "killing them" not in worker.output() and not any(running(p) for p in children)
    assert not any(client.backend.get_task_meta(r.id)["status"] == "SUCCESS" for r in short + long)
    assert queue_depth(redis_server, "default") == 4 and unacked(redis_server) == 0, worker.describe()


def test_a_sigkilled_supervisor_leaves_no_consumer_behind(redis_server, worker_factory):
    # The consumers are in their own sessions, so a SIGKILL of the supervisor's group no longer reaches
    # them: the kernel kills them when the supervisor dies (PR_SET_PDEATHSIG). A death signal of SIGTERM
    # would leave them consuming, with no health endpoint, for the 6 s soft shutdown.
    worker = worker_factory(redis_server)
    children = consumers(worker)
    os.kill(worker.pid, signal.SIGKILL)
    wait_until(lambda: not any(running(p) for p in children), 3, "every consumer process to die with the supervisor")
