"""Log lines name the request's Cloud Trace (API) and the running task (worker), on real processes."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from task_contract.cloud_logging import trace_name

from tests.support.api_process import ApiProcess
from tests.support.ports import wait_until
from tests.support.redis_server import RedisServer
from tests.support.worker_process import WorkerProcess, celery_client, result_of

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.mark.parametrize(
    ("cloud", "parent", "expected"),
    [
        (f"{TRACE}/123;o=1", None, f"projects/p/traces/{TRACE}"),
        (None, f"00-{TRACE}-00f067aa0ba902b7-01", f"projects/p/traces/{TRACE}"),
        ("not-a-trace", "00-bad", None),
        (None, None, None),
    ],
)
def test_trace_name_from_either_header(cloud: str | None, parent: str | None, expected: str | None) -> None:
    assert trace_name(cloud, parent, project="p") == expected


def test_no_project_no_trace_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    assert trace_name(f"{TRACE}/1", None) is None


def _json_lines(text: str) -> list[dict[str, object]]:
    lines = []
    for line in text.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return lines


def test_api_lines_of_a_traced_request_carry_the_trace(
    redis_server: RedisServer, api_factory: Callable[..., ApiProcess]
) -> None:
    api = api_factory(redis_server, GOOGLE_CLOUD_PROJECT="my-project")
    with api.client() as http:
        response = http.post(
            "/v1/tasks/add", json={"x": 1, "y": 2},
            headers={**api.auth_headers, "X-Cloud-Trace-Context": f"{TRACE}/42;o=1"},
        )
        assert response.status_code == 202, response.text
        task_id = response.json()["task_id"]
        assert http.get("/healthz").status_code == 200  # untraced
    wait_until(lambda: any(line.get("task_id") == task_id for line in _json_lines(api.log_text())), 5, "access line")
    (enqueue,) = [line for line in _json_lines(api.log_text()) if line.get("task_id") == task_id]
    assert enqueue["logging.googleapis.com/trace"] == f"projects/my-project/traces/{TRACE}"
    untraced = [line for line in _json_lines(api.log_text()) if "/healthz" in str(line.get("httpRequest", ""))]
    assert untraced and all("logging.googleapis.com/trace" not in line for line in untraced)


def test_worker_lines_of_a_task_carry_its_id(
    redis_server: RedisServer, worker_factory: Callable[..., WorkerProcess]
) -> None:
    worker = worker_factory(redis_server, WORKER_QUEUES="low")
    client = celery_client(redis_server)
    task_id = client.send_task("flaky", kwargs={"fail_times": 1}, queue="low").id
    result_of(client, task_id)
    lines = [line for line in _json_lines(worker.output()) if line.get("task_id") == task_id]
    assert lines, worker.output()[-3000:]
    assert all(line["task"] == "flaky" for line in lines)
    assert not any(line.get("task_id") for line in _json_lines(worker.output()) if "consuming from" in str(line))
