"""Faults: with Redis down or hung the real API process answers 503 in about a second, then recovers by itself."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
import pytest

from tests.support.api_process import ApiProcess
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.slow

# "About 1 s": REDIS_CONNECT_TIMEOUT_SECONDS (1.0) plus scheduling slack on a busy 2-core machine.
FAST = 1.5
TASK_ID = "6f1c1a54-7d0e-4a8e-9a3c-5d1e2b3c4d5e"


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def assert_unavailable_fast(api: ApiProcess, http: httpx.Client, redis_port: int) -> None:
    calls = {
        "enqueue": lambda: http.post("/v1/tasks/add", json={"x": 1, "y": 2}, headers=api.auth_headers),
        "enqueue with Idempotency-Key": lambda: http.post(
            "/v1/tasks/add", json={"x": 1, "y": 2}, headers={**api.auth_headers, "Idempotency-Key": "k1"}
        ),
        "status": lambda: http.get(f"/v1/tasks/{TASK_ID}", headers=api.auth_headers),
        "readyz": lambda: http.get("/readyz"),
    }
    for what, call in calls.items():
        response, seconds = timed(call)
        assert response.status_code == 503, (what, response.text)
        assert seconds < FAST, f"{what} took {seconds:.2f}s"
        detail = response.json()["detail"]
        if what == "readyz":  # unauthenticated: no host, port or error text (they are in the log)
            assert detail == "not ready: Redis did not answer PING (the API log has the cause)", detail
        else:
            assert response.headers["retry-after"].isdigit()
            assert detail.startswith("broker unavailable: ") and "outcome is unknown" in detail, detail
        assert "test-auth-string" not in detail  # the Redis password never leaks
        assert "127.0.0.1" not in detail and str(redis_port) not in detail
    assert http.get("/healthz").status_code == 200  # alive, only not ready


def wait_recovered(api: ApiProcess, http: httpx.Client, timeout: float = 10) -> str:
    """Poll enqueue until 202; the task id. The API process is never restarted."""
    deadline = time.monotonic() + timeout
    while True:
        response = http.post(
            "/v1/tasks/add", json={"x": 1, "y": 2}, headers={**api.auth_headers, "Idempotency-Key": "k1"}
        )
        if response.status_code == 202:
            return str(response.json()["task_id"])
        assert time.monotonic() < deadline, f"no recovery after {timeout}s: {response.status_code} {response.text}"
        time.sleep(0.2)


def test_redis_stopped_gives_fast_503s_then_recovers_without_restart(
    redis_server: RedisServer, api_factory: Callable[..., ApiProcess]
) -> None:
    api = api_factory(redis_server)
    pid = api.process.pid if api.process else None
    with api.client() as http:
        assert http.post("/v1/tasks/add", json={"x": 1, "y": 2}, headers=api.auth_headers).status_code == 202
        redis_server.stop()

        assert_unavailable_fast(api, http, redis_server.port)

        redis_server.start()
        task_id = wait_recovered(api, http)
        assert http.get("/readyz").status_code == 200
        assert http.get(f"/v1/tasks/{task_id}", headers=api.auth_headers).json()["state"] == "PENDING"
        # The failed Idempotency-Key submit did not hold the key: the retry was really enqueued once.
        assert redis_server.client().llen("high") == 1  # the Redis restart (no persistence) lost the first one
        metrics = http.get("/metrics").text
    assert 'cloudrun_celery_task_submission_failures_total{queue="high",reason="broker_unavailable",task="add"} 2.0' in metrics
    assert api.process is not None and api.process.pid == pid and api.process.poll() is None


def test_redis_hung_gives_503_within_the_deadline_then_recovers(
    redis_server: RedisServer, api_factory: Callable[..., ApiProcess]
) -> None:
    api = api_factory(redis_server)
    with api.client() as http:
        assert http.get("/readyz").status_code == 200
        with redis_server.hung():
            assert_unavailable_fast(api, http, redis_server.port)
        wait_recovered(api, http)
        assert http.get("/readyz").status_code == 200


def test_redis_hung_holds_at_most_redis_max_connections(
    redis_server: RedisServer, api_factory: Callable[..., ApiProcess]
) -> None:
    cap = 4
    api = api_factory(redis_server, REDIS_MAX_CONNECTIONS=str(cap))
    assert api.process is not None
    api_process = psutil.Process(api.process.pid)

    def to_redis() -> int:
        return sum(
            1
            for c in api_process.net_connections(kind="tcp")
            if c.raddr and c.raddr.port == redis_server.port and c.status == psutil.CONN_ESTABLISHED
        )

    with redis_server.hung(), ThreadPoolExecutor(max_workers=20) as pool, api.client() as http:
        burst = [
            pool.submit(http.post, "/v1/tasks/add", json={"x": 1, "y": 2}, headers=api.auth_headers)
            for _ in range(20)
        ]
        peak = 0
        while not all(f.done() for f in burst):
            peak = max(peak, to_redis())
            time.sleep(0.02)
        statuses = {f.result().status_code for f in burst}
    assert statuses == {503}
    assert 1 <= peak <= cap + 1  # + the blocking client /readyz and /metrics use
    with api.client() as http:
        wait_recovered(api, http)


def test_api_starts_while_redis_is_down_and_becomes_ready_when_it_comes_up(
    redis_server: RedisServer, api_factory: Callable[..., ApiProcess]
) -> None:
    redis_server.stop()
    api = api_factory(redis_server)  # /healthz answers: liveness does not depend on Redis
    with api.client() as http:
        assert http.get("/readyz").status_code == 503
        redis_server.start()
        wait_recovered(api, http)
