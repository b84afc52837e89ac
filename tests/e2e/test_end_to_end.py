"""API -> Redis -> worker -> result backend -> API: real processes, real HTTP, real Redis (AUTH on)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.support.api_process import ApiProcess
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer
from tests.support.worker_process import WorkerProcess

pytestmark = pytest.mark.slow

FINAL_STATES = {"SUCCESS", "FAILURE", "REVOKED"}


def submit(api: ApiProcess, http: httpx.Client, task: str, payload: dict[str, Any], **headers: str) -> str:
    response = http.post(f"/v1/tasks/{task}", json=payload, headers={**api.auth_headers, **headers})
    assert response.status_code == 202, response.text
    return str(response.json()["task_id"])


def wait_final(api: ApiProcess, http: httpx.Client, task_id: str, timeout: float = 30) -> dict[str, Any]:
    """Poll the status endpoint until the task is done; every state seen along the way is in ``seen``."""
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while True:
        response = http.get(f"/v1/tasks/{task_id}", headers=api.auth_headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if not seen or seen[-1] != body["state"]:
            seen.append(body["state"])
        if body["state"] in FINAL_STATES:
            return {**body, "seen": seen}
        assert time.monotonic() < deadline, f"task {task_id} still {body['state']} after {timeout}s (seen {seen})"
        time.sleep(0.1)


def metric(http: httpx.Client, line_prefix: str) -> float:
    for line in http.get("/metrics").text.splitlines():
        if line.startswith(line_prefix):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no metric line starting with {line_prefix!r}")


def test_tasks_on_every_queue_run_and_their_results_come_back(
    redis_server: RedisServer,
    worker_factory: Callable[..., WorkerProcess],
    api_factory: Callable[..., ApiProcess],
) -> None:
    worker_factory(redis_server)
    api = api_factory(redis_server)
    with api.client() as http:
        add = submit(api, http, "add", {"x": 20, "y": 22})
        external = submit(api, http, "external_call", {"latency_seconds": 0.2})
        flaky = submit(api, http, "flaky", {"fail_times": 1})

        assert wait_final(api, http, add)["result"] == 42
        assert wait_final(api, http, external)["result"]["latency_seconds"] >= 0.2
        flaky_status = wait_final(api, http, flaky)
        assert flaky_status["state"] == "SUCCESS"
        assert flaky_status["result"] == {"attempts": 2}  # failed once, retried, succeeded

        for queue in ("high", "default", "low"):
            assert metric(http, f'cloudrun_celery_queue_depth{{queue="{queue}"}}') == 0
        assert metric(http, 'cloudrun_celery_task_submissions_total{queue="low",task="flaky"}') == 1


def test_a_failing_task_reports_its_error_without_a_traceback(
    redis_server: RedisServer,
    worker_factory: Callable[..., WorkerProcess],
    api_factory: Callable[..., ApiProcess],
) -> None:
    # Loopback is refused by external_call's egress guard unless allowed: allow it, so the
    # failure is the connection's own.
    worker_factory(redis_server, EXTERNAL_CALL_ALLOWED_HOSTS="127.0.0.1", EXTERNAL_CALL_ALLOWED_NETWORKS="127.0.0.1/32")
    api = api_factory(redis_server)
    closed_port = free_port()  # nothing listens: every attempt is refused, retries run out
    with api.client() as http:
        task_id = submit(api, http, "external_call", {"url": f"http://127.0.0.1:{closed_port}/"})
        status = wait_final(api, http, task_id, timeout=40)
        raw = http.get(f"/v1/tasks/{task_id}", headers=api.auth_headers).text

    assert status["state"] == "FAILURE"
    assert status["error"]["type"] == "ConnectionRefusedError"
    assert "Connection refused" in status["error"]["message"]
    assert status["result"] is None
    assert "Traceback" not in raw and 'File "' not in raw


def test_idempotent_retry_runs_the_task_once(
    redis_server: RedisServer,
    worker_factory: Callable[..., WorkerProcess],
    api_factory: Callable[..., ApiProcess],
) -> None:
    worker_factory(redis_server)
    api = api_factory(redis_server)
    with api.client() as http:
        first = submit(api, http, "add", {"x": 1, "y": 1}, **{"Idempotency-Key": "payment-7"})
        assert wait_final(api, http, first)["result"] == 2
        retry = submit(api, http, "add", {"x": 1, "y": 1}, **{"Idempotency-Key": "payment-7"})

    assert retry == first
    results = redis_server.client().keys("celery-task-meta-*")
    assert results == [f"celery-task-meta-{first}".encode()]


def test_tls_redis_with_auth_like_memorystore(
    redis_factory: Callable[..., RedisServer],
    worker_factory: Callable[..., WorkerProcess],
    api_factory: Callable[..., ApiProcess],
) -> None:
    redis = redis_factory(password="tls-auth-string", tls=True)
    worker_factory(redis)
    api = api_factory(redis)  # REDIS_URL=rediss://..., REDIS_CA_FILE=the test CA
    with api.client() as http:
        assert http.get("/readyz").status_code == 200
        assert wait_final(api, http, submit(api, http, "add", {"x": 2, "y": 3}))["result"] == 5


def test_the_system_recovers_from_a_redis_restart_by_itself(
    redis_server: RedisServer,
    worker_factory: Callable[..., WorkerProcess],
    api_factory: Callable[..., ApiProcess],
) -> None:
    worker = worker_factory(redis_server)
    api = api_factory(redis_server)
    with api.client() as http:
        assert wait_final(api, http, submit(api, http, "add", {"x": 1, "y": 2}))["result"] == 3

        redis_server.stop()
        started = time.monotonic()
        down = http.post("/v1/tasks/add", json={"x": 1, "y": 2}, headers=api.auth_headers)
        assert down.status_code == 503 and time.monotonic() - started < 1.5
        redis_server.start()

        deadline = time.monotonic() + 20
        while (response := http.post("/v1/tasks/add", json={"x": 4, "y": 5}, headers=api.auth_headers)).status_code != 202:
            assert time.monotonic() < deadline, response.text
            time.sleep(0.2)
        # The same worker process reconnects and consumes again; the same API reads the result.
        assert wait_final(api, http, response.json()["task_id"], timeout=60)["result"] == 9
    assert worker.alive()
