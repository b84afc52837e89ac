"""The per-process connection figures of the budget (task_contract.connection_budget), counted for real.

A real API and real workers run against a private redis-server at full concurrency; every
50 ms the test reads ``CLIENT LIST`` and counts the clients that are not its own. The peak must
stay within the figure the stack config multiplies by processes and instances
(infra/settings/connection_budget.py), and reach the part each pool slot accounts for, so a
service that opened a connection per request or per thread beyond its cap would fail here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import psutil
import pytest
from task_contract import connection_budget

from tests.support.api_process import ApiProcess
from tests.support.redis_server import RedisServer
from tests.support.worker_process import WorkerProcess, celery_client

pytestmark = pytest.mark.slow


def _own_ports() -> set[int]:
    """Local ports of this test process's own connections (its Redis clients)."""
    return {c.laddr.port for c in psutil.Process().net_connections("tcp") if c.laddr}


@contextmanager
def peak_clients(redis_server: RedisServer) -> Iterator[list[int]]:
    """Samples ``CLIENT LIST`` every 50 ms while the block runs; yields a list holding the peak."""
    client = redis_server.client()
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            own = _own_ports()
            others = [c for c in client.client_list() if int(c["addr"].rsplit(":", 1)[1]) not in own]
            peak[0] = max(peak[0], len(others))
            stop.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peak
    finally:
        stop.set()
        sampler.join(5)


@pytest.mark.parametrize(
    ("pool", "processes", "concurrency"),
    [("threads", 2, 4), ("prefork", 1, 3)],
    ids=["threads-2x4", "prefork-1x3"],
)
def test_worker_connections_stay_within_the_per_process_figure(
    redis_server: RedisServer,
    worker_factory: Callable[..., WorkerProcess],
    pool: str,
    processes: int,
    concurrency: int,
) -> None:
    worker_factory(
        redis_server,
        WORKER_POOL=pool,
        WORKER_PROCESSES=str(processes),
        WORKER_CONCURRENCY=str(concurrency),
        WORKER_QUEUES="default",
    )
    app = celery_client(redis_server)
    slots = processes * concurrency
    with peak_clients(redis_server) as peak:
        with app.connection_for_write() as connection:
            # Every slot busy (and storing STARTED, then SUCCESS) with two more waves queued behind.
            for _ in range(3 * slots):
                app.send_task("external_call", kwargs={"latency_seconds": 1.0}, queue="default",
                              connection=connection)
        time.sleep(4)
    bound = processes * connection_budget.worker_process(concurrency)
    print(f"{pool} {processes}x{concurrency}: peak {peak[0]} clients, budget {bound}")
    assert peak[0] <= bound, (peak[0], bound)
    # Each busy slot held a connection of its own (results), on top of each process's fixed ones.
    assert peak[0] >= slots + processes * 2, (peak[0], slots)


def test_api_connections_stay_within_the_per_process_figure(
    redis_server: RedisServer, api_factory: Callable[..., ApiProcess]
) -> None:
    cap = 4
    with peak_clients(redis_server) as peak:
        # A generous deadline: on a loaded machine 150 requests queued for 4 connections take a while.
        api = api_factory(redis_server, REDIS_MAX_CONNECTIONS=str(cap), REDIS_CONNECT_TIMEOUT_SECONDS="10")
        with ThreadPoolExecutor(max_workers=30) as threads, api.client(timeout=30) as http:
            burst = [threads.submit(http.post, "/v1/tasks/add", json={"x": 1, "y": 2}, headers=api.auth_headers)
                     for _ in range(150)]
            # Readiness reads Redis too (its own client): it must not add connections past the figure.
            probes = [threads.submit(http.get, "/readyz") for _ in range(10)]
            statuses = [f.result().status_code for f in burst]
            for probe in probes:
                probe.result()
        time.sleep(0.3)
    bound = connection_budget.api_process(cap)
    print(f"api REDIS_MAX_CONNECTIONS={cap}: peak {peak[0]} clients, budget {bound}")
    assert set(statuses) == {202}, sorted(set(statuses))
    assert cap <= peak[0] <= bound, (peak[0], bound)
