"""``python -m api`` as Cloud Run runs it: $PORT, JSON log lines with severity, SIGTERM -> clean exit."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable

import httpx
import psutil
import pytest

from tests.support.api_process import ApiProcess
from tests.support.ports import wait_until
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.slow


def test_every_output_line_is_a_cloud_logging_json_entry(
    redis_server: RedisServer, api_factory: Callable[..., ApiProcess]
) -> None:
    api = api_factory(redis_server)
    with api.client() as http:
        http.post("/v1/tasks/add", json={"x": 1, "y": 2}, headers=api.auth_headers)
        http.get("/v1/tasks/nope", headers=api.auth_headers)
        redis_server.stop()
        http.get("/readyz")
    assert api.stop() == 0

    entries = [json.loads(line) for line in api.log_lines()]  # raises on any non-JSON line

    assert all(entry["severity"] in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"} for entry in entries)
    assert all({"message", "logger", "time"} <= entry.keys() for entry in entries)
    access = [entry for entry in entries if entry["logger"] == "uvicorn.access"]
    assert [(e["httpRequest"]["requestMethod"], e["httpRequest"]["status"]) for e in access] == [
        ("GET", 200), ("POST", 202), ("GET", 405), ("GET", 503)  # the first is start()'s /healthz probe
    ]
    assert any(
        entry["severity"] == "WARNING" and entry["message"].startswith("readiness check failed") for entry in entries
    )
    assert any("Uvicorn running on http://0.0.0.0:" in entry["message"] for entry in entries)
    assert "test-auth-string" not in api.log_text()


def test_an_enqueue_logs_one_line_with_its_task_id(
    redis_server: RedisServer, api_factory: Callable[..., ApiProcess]
) -> None:
    api = api_factory(redis_server)
    with api.client() as http:
        first = http.post("/v1/tasks/add", json={"x": 1, "y": 2}, headers={**api.auth_headers, "Idempotency-Key": "k"})
        again = http.post("/v1/tasks/add", json={"x": 1, "y": 2}, headers={**api.auth_headers, "Idempotency-Key": "k"})
        http.post("/v1/tasks/add", json={"x": "one"}, headers=api.auth_headers)
    assert api.stop() == 0
    task_id = first.json()["task_id"]
    assert again.json()["task_id"] == task_id

    entries = [json.loads(line) for line in api.log_lines()]
    posts = [e for e in entries if e["logger"] == "uvicorn.access" and e["httpRequest"]["requestMethod"] == "POST"]
    assert [(e["httpRequest"]["status"], e.get("task_id"), e.get("submission")) for e in posts] == [
        (202, task_id, "submitted"), (202, task_id, "replayed"), (422, None, None)
    ]
    assert {(e["task"], e["queue"]) for e in posts[:2]} == {("add", "high")}
    assert len(str(posts[0]["api_key_id"])) == 16
    # One line per enqueue: no second, per-submission line.
    assert [e for e in entries if e.get("task_id") == task_id] == posts[:2]


def test_listens_on_port(redis_server: RedisServer, api_factory: Callable[..., ApiProcess]) -> None:
    api = api_factory(redis_server)
    assert httpx.get(f"http://127.0.0.1:{api.port}/healthz").json() == {"status": "alive"}


def accepted_connections(api: ApiProcess) -> int:
    """Client connections the API's serving processes have accepted on its port."""
    assert api.process is not None
    parent = psutil.Process(api.process.pid)
    return sum(
        1
        for process in [parent, *parent.children(recursive=True)]
        for c in process.net_connections(kind="tcp")
        if c.laddr and c.laddr.port == api.port and c.status == psutil.CONN_ESTABLISHED
    )


def test_sigterm_finishes_in_flight_requests_and_exits_0(
    redis_server: RedisServer, api_factory: Callable[..., ApiProcess]
) -> None:
    api = api_factory(redis_server)
    assert api.process is not None
    results: list[int] = []
    # A request in flight when SIGTERM arrives: readyz waiting on a hung Redis (~1 s).
    with redis_server.hung():
        request = threading.Thread(
            target=lambda: results.append(httpx.get(f"{api.url}/readyz", timeout=15).status_code)
        )
        request.start()
        # In flight: a serving process has accepted the connection (a fixed sleep was too short
        # on a loaded machine: SIGTERM came first and the request was refused), and has read it.
        wait_until(lambda: accepted_connections(api) > 0, 10, "the API to accept the /readyz request")
        time.sleep(0.3)
        started = time.monotonic()
        api.process.send_signal(signal.SIGTERM)
        code = api.process.wait(10)
        request.join(15)

    assert code == 0
    assert results == [503]  # answered, not cut off
    assert time.monotonic() - started < 5
    assert "Application shutdown complete." in api.log_text()
