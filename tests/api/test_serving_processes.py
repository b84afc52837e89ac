"""Serving capacity of the real ``python -m api``: WEB_CONCURRENCY processes, and a Redis pool that queues.

- WEB_CONCURRENCY=2 runs two serving processes under uvicorn's supervisor; SIGTERM (Cloud
  Run's stop) ends the whole process tree well within the 10 s before SIGKILL, exit code 0.
- Past REDIS_MAX_CONNECTIONS a request waits for a free connection instead of failing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest

from tests.support.api_process import ApiProcess
from tests.support.redis_server import RedisServer
from tests.support.worker_process import queue_depth

pytestmark = pytest.mark.slow

CLOUD_RUN_GRACE_SECONDS = 10


def test_web_concurrency_runs_that_many_serving_processes_and_sigterm_ends_them_all(
    redis_server: RedisServer, api_factory: Callable[..., ApiProcess]
) -> None:
    api = api_factory(redis_server, WEB_CONCURRENCY="2")
    assert api.process is not None
    supervisor = psutil.Process(api.process.pid)
    with api.client() as http:
        deadline = time.monotonic() + 30
        while http.get("/readyz").status_code != 200:  # /healthz answers as soon as one process serves
            assert time.monotonic() < deadline
            time.sleep(0.1)
        statuses = {http.post("/v1/tasks/add", json={"x": 1, "y": 2}, headers=api.auth_headers).status_code
                    for _ in range(20)}
    children = supervisor.children(recursive=True)
    # multiprocessing's spawned children; its resource tracker is one too, and serves nothing.
    serving = [p for p in children if "spawn_main" in " ".join(p.cmdline()) and "resource_tracker" not in
               " ".join(p.cmdline())]

    started = time.monotonic()
    code = api.stop(timeout=CLOUD_RUN_GRACE_SECONDS)
    took = time.monotonic() - started
    _, alive = psutil.wait_procs(children, timeout=1)
    # An exited child whose new parent (after the supervisor's exit) has not reaped it yet is a zombie: gone.
    alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]

    assert statuses == {202}
    assert len(serving) == 2, [p.cmdline() for p in serving]
    assert code == 0 and took < CLOUD_RUN_GRACE_SECONDS - 2, (code, took)
    assert alive == [], [p.pid for p in alive]
    assert queue_depth(redis_server, "high") == 20


def test_past_redis_max_connections_requests_wait_their_turn(
    redis_server: RedisServer, api_factory: Callable[..., ApiProcess]
) -> None:
    # A generous deadline: on a loaded machine 40 requests queued for 2 connections took over 5 s
    # (a parallel test run); what matters is that they queue (before, past the cap was an instant 503).
    api = api_factory(redis_server, REDIS_MAX_CONNECTIONS="2", REDIS_CONNECT_TIMEOUT_SECONDS="30")
    with ThreadPoolExecutor(max_workers=40) as pool, api.client(timeout=30) as http:
        burst = [pool.submit(http.post, "/v1/tasks/add", json={"x": 1, "y": 2}, headers=api.auth_headers)
                 for _ in range(120)]
        statuses = [f.result().status_code for f in burst]
    assert statuses.count(202) == 120, sorted(set(statuses))
    assert queue_depth(redis_server, "high") == 120
