"""The HTTP contract's corners, against the real ``python -m api`` process.

Every bad body is a 422 with a message (never a 400 or a 500 with a traceback), a GET on an
enqueue path is a 405, OPTIONS on a task id does not offer POST, and the OpenAPI spec says
what each enqueue error means for a retry.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.support.api_process import ApiProcess
from tests.support.redis_server import RedisServer
from tests.support.worker_process import queue_depth

pytestmark = pytest.mark.slow

TASK_ID = "6f1c1a54-7d0e-4a8e-9a3c-5d1e2b3c4d5e"
NON_FINITE = [
    ("add", b'{"x": NaN, "y": 1}'),
    ("add", b'{"x": 1, "y": -Infinity}'),
    ("add", b'{"x": 1e400, "y": 1}'),
    ("external_call", b'{"latency_seconds": Infinity}'),
    ("external_call", b'{"latency_seconds": NaN}'),
    ("flaky", b'{"fail_times": 1e400}'),
]


def test_every_bad_body_is_a_422_with_a_message_never_a_500(
    redis_server: RedisServer, api_factory: Callable[..., ApiProcess]
) -> None:
    api = api_factory(redis_server)
    headers = {**api.auth_headers, "Content-Type": "application/json"}
    deep = b"[" * 5000 + b"]" * 5000
    with api.client() as http:
        non_finite = [http.post(f"/v1/tasks/{task}", content=body, headers=headers) for task, body in NON_FINITE]
        too_deep = http.post("/v1/tasks/add", content=deep, headers=headers)
        not_utf8 = http.post("/v1/tasks/add", content=b'{"x": "\xff"}', headers=headers)
    assert api.stop() == 0

    for (task, body), response in zip(NON_FINITE, non_finite, strict=True):
        assert response.status_code == 422, (task, body, response.text)
        assert "not a finite number" in response.text, response.text
    assert too_deep.status_code == 422 and "nested too deeply" in too_deep.text, too_deep.text
    assert not_utf8.status_code == 422 and "not UTF-8" in not_utf8.text, not_utf8.text
    assert queue_depth(redis_server, "high") == 0
    entries = [json.loads(line) for line in api.log_lines()]
    assert [e for e in entries if e["severity"] in {"ERROR", "CRITICAL"}] == []
    assert "Traceback" not in api.log_text()


def test_methods_on_task_paths(redis_server: RedisServer, api_factory: Callable[..., ApiProcess]) -> None:
    api = api_factory(redis_server)
    with api.client() as http:
        get_enqueue = http.get("/v1/tasks/add", headers=api.auth_headers)
        options_id = http.options(f"/v1/tasks/{TASK_ID}")
        post_id = http.post(f"/v1/tasks/{TASK_ID}", json={}, headers=api.auth_headers)
        status = http.get(f"/v1/tasks/{TASK_ID}", headers=api.auth_headers)

    assert (get_enqueue.status_code, get_enqueue.headers["allow"]) == (405, "POST")
    assert (options_id.status_code, options_id.headers["allow"]) == (405, "GET")
    assert (post_id.status_code, post_id.headers["allow"]) == (405, "GET")
    assert status.status_code == 404


def test_the_openapi_spec_says_what_each_enqueue_error_means_for_a_retry(
    redis_server: RedisServer, api_factory: Callable[..., ApiProcess]
) -> None:
    api = api_factory(redis_server)
    with api.client() as http:
        spec = http.get("/openapi.json").json()

    expected = {
        "409": "new key",
        "413": "smaller payload",
        "422": "never a 400",
        "429": "Nothing was enqueued; retry after `Retry-After` seconds",
        "503": "The outcome is unknown",
    }
    enqueue_paths = [f"/v1/tasks/{task}" for task in ("add", "external_call", "flaky")]
    for path in [*enqueue_paths, "/v1/dead-letters/replay"]:
        responses = spec["paths"][path]["post"]["responses"]
        for status, phrase in expected.items():
            assert status in responses, (path, status)
            assert phrase.lower() in responses[status]["description"].lower(), (path, status)
    assert "Idempotency-Key" in spec["paths"]["/v1/tasks/add"]["post"]["responses"]["503"]["description"]
