"""The per-process connection figures of the budget (task_contract.connection_budget), counted for real.

A real API, real workers, a real beat (lock holder and standby) and a real Flower run against a
private redis-server at full load; every 50 ms the test reads ``CLIENT LIST`` and counts the
clients that are not its own (or, for beat and Flower, the ones the measured process holds). The
peak must stay within the figure the stack config multiplies by processes and instances
(infra/settings/connection_budget.py), and reach the part each pool slot or call accounts for, so
a service that opened a connection per request or per thread beyond its cap would fail here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
import pytest
from task_contract import connection_budget

from tests.schedules.beat_process import beat_env
from tests.support.api_process import ApiProcess
from tests.support.ports import free_port, wait_until
from tests.support.redis_server import RedisServer, broker_env
from tests.support.worker_process import SOURCE_PATHS, WorkerProcess, celery_client

pytestmark = pytest.mark.slow


def _own_ports() -> set[int]:
    """Local ports of this test process's own connections (its Redis clients)."""
    return {c.laddr.port for c in psutil.Process().net_connections("tcp") if c.laddr}


def _held_ports(process: subprocess.Popen[bytes], redis_port: int) -> set[int]:
    """Local ports of ``process``'s connections to Redis."""
    held = psutil.Process(process.pid).net_connections("tcp")
    return {c.laddr.port for c in held if c.raddr and c.raddr.port == redis_port}


@contextmanager
def peak_clients(
    redis_server: RedisServer, processes: dict[str, subprocess.Popen[bytes]] | None = None
) -> Iterator[dict[str, int]]:
    """Samples ``CLIENT LIST`` every 50 ms while the block runs; yields the peak number of clients:
    under "others" every client but the test's own, or per process of ``processes`` the clients whose
    address is a socket that process holds."""
    client = redis_server.client()
    peak = dict.fromkeys(processes or ("others",), 0)
    stop = threading.Event()

    def counts() -> dict[str, int]:
        # Whose ports first, then the list: a client in the list was open when the ports were read.
        if processes is None:
            own = _own_ports()
            owners = {"others": lambda port: port not in own}
        else:
            held = {name: _held_ports(process, redis_server.port) for name, process in processes.items()}
            owners = {name: ports.__contains__ for name, ports in held.items()}
        addresses = [int(c["addr"].rsplit(":", 1)[1]) for c in client.client_list()]
        return {name: sum(1 for port in addresses if owns(port)) for name, owns in owners.items()}

    def sample() -> None:
        while not stop.is_set():
            for name, count in counts().items():
                peak[name] = max(peak[name], count)
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
    print(f"{pool} {processes}x{concurrency}: peak {peak['others']} clients, budget {bound}")
    assert peak["others"] <= bound, (peak["others"], bound)
    # Each busy slot held a connection of its own (results), on top of each process's fixed ones.
    assert peak["others"] >= slots + processes * 2, (peak["others"], slots)


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
    print(f"api REDIS_MAX_CONNECTIONS={cap}: peak {peak['others']} clients, budget {bound}")
    assert set(statuses) == {202}, sorted(set(statuses))
    assert cap <= peak["others"] <= bound, (peak["others"], bound)


# Five entries due every second: each tick the holder sends five tasks back to back.
BEAT_ENTRIES = [
    {"name": f"add-{n}", "everySeconds": 1, "task": "add", "payload": {"x": n, "y": 1}} for n in range(5)
]


def stop_all(processes: Iterable[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.kill()
        process.wait(10)


def sends(log: Path) -> int:
    return log.read_text(errors="replace").count("Sending due task add-")


def test_beat_connections_stay_within_the_per_instance_figure(redis_server: RedisServer, tmp_path: Path) -> None:
    env = beat_env(redis_server, BEAT_SCHEDULES=json.dumps(BEAT_ENTRIES), BEAT_LOCK_TIMEOUT_SECONDS="10")
    logs = {name: tmp_path / f"{name}.log" for name in ("a", "b")}
    beats: dict[str, subprocess.Popen[bytes]] = {}
    for name, log in logs.items():
        with log.open("wb") as out:
            beats[name] = subprocess.Popen([sys.executable, "-m", "worker.beat"], env={**env, "PORT": str(free_port())},
                                           stdout=out, stderr=subprocess.STDOUT, cwd=tempfile.gettempdir())
    try:
        with peak_clients(redis_server, beats) as peak:
            wait_until(lambda: sum(sends(log) for log in logs.values()) >= 10, 40, "two ticks of five sends")
            time.sleep(2)  # more ticks: a connection per send would show by now
            counts = {name: sends(log) for name, log in logs.items()}
    finally:
        stop_all(beats.values())
    holder = max(counts, key=counts.__getitem__)
    standby = next(name for name in counts if name != holder)
    print(f"beat holder: peak {peak[holder]} clients, standby {peak[standby]}, figure {connection_budget.BEAT_INSTANCE}")
    assert counts[standby] == 0, counts  # one holder sends every tick
    # Every pool the holder uses holds one connection, whatever it sends: exactly the figure.
    assert peak[holder] == connection_budget.BEAT_INSTANCE, peak
    assert 1 <= peak[standby] < peak[holder], peak


def test_flower_connections_stay_within_the_per_instance_figure(
    redis_server: RedisServer, worker_factory: Callable[..., WorkerProcess]
) -> None:
    for _ in range(2):  # two workers: per-worker pages inspect in parallel with the workers page
        worker_factory(redis_server, WORKER_EVENTS="true", WORKER_PROCESSES="1", WORKER_CONCURRENCY="2")
    port = free_port()
    env = {**broker_env(redis_server), "PYTHONPATH": ":".join(map(str, SOURCE_PATHS))}
    # How the Flower service runs it (infra/cloudrun/flower_service.py flower_args).
    flower = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "worker.app", "flower", f"--port={port}", "--address=127.0.0.1",
         "--persistent=False"],
        env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    app = celery_client(redis_server)
    try:
        with peak_clients(redis_server, {"flower": flower}) as peak:
            wait_until(lambda: httpx.get(f"{base}/healthcheck").status_code == 200, 40, "Flower's /healthcheck")
            names = sorted(app.control.inspect(timeout=2).ping() or {})
            assert len(names) == 2, names
            # Flower knows a worker from its events or an inspect reply; until then its page is 404.
            for name in names:
                wait_until(lambda n=name: httpx.get(f"{base}/worker/{n}", timeout=10).status_code == 200, 30,
                           f"Flower to know worker {name}")
            pages = ["/workers?refresh=1", *(f"/worker/{name}" for name in names), "/dashboard?refresh=1", "/tasks"]
            with ThreadPoolExecutor(max_workers=20) as threads, httpx.Client(base_url=base, timeout=30) as http:
                for _ in range(4):
                    for n in range(10):
                        app.send_task("add", kwargs={"x": n, "y": 1}, queue="high")
                    statuses = {f.result().status_code for f in [threads.submit(http.get, page) for page in pages * 3]}
                    # A worker page is 404 when its stats reply missed Flower's 1 s inspect timeout (a busy machine).
                    assert 200 in statuses and statuses <= {200, 404}, statuses
            time.sleep(0.5)
    finally:
        stop_all([flower])
    fixed, per_call = connection_budget.FLOWER_FIXED, connection_budget.FLOWER_PER_INSPECT
    print(f"flower: peak {peak['flower']} clients, figure {connection_budget.FLOWER_INSTANCE}")
    assert peak["flower"] <= connection_budget.FLOWER_INSTANCE, peak
    # Inspect calls ran side by side, each holding its own connections on top of the fixed ones.
    assert peak["flower"] >= fixed + 3 * per_call, peak
