"""The enqueue fast lane (``api.enqueue_fast_lane``) answers exactly as FastAPI's own handler would.

Every request below is sent twice into a fresh Redis: once as served, once with the fast path
declining everything (so FastAPI's dependency solving answers it, the code path before the fast
path existed). Status, body and the headers a client reads must be the same; the fast path must
also really serve the well-formed ones (FastAPI's auth dependency never runs for them).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from api import auth
from fastapi import Request
from fastapi.testclient import TestClient

from tests.api.conftest import API_KEY
from tests.support.redis_server import RedisServer

JSON = {"Content-Type": "application/json"}
BEARER = {"Authorization": f"Bearer {API_KEY}", **JSON}
ADD = "/v1/tasks/add"

# (path, body bytes, headers, served by the fast path)
REQUESTS: list[tuple[str, bytes, dict[str, str], bool]] = [
    (ADD, b'{"x": 2, "y": 3}', BEARER, True),
    (ADD, b'{"x": 2.0, "y": -3}', BEARER, True),
    (ADD, b'{"x": 2, "y": 3}', {**BEARER, "Idempotency-Key": "k-1"}, True),
    (ADD, b'{"x": 2, "y": 3}', {**BEARER, "Idempotency-Key": "k-1"}, True),  # replay
    (ADD, b'{"x": 5, "y": 3}', {**BEARER, "Idempotency-Key": "k-1"}, True),  # 409 conflict
    ("/v1/tasks/external_call", b'{"latency_seconds": 0}', BEARER, True),
    ("/v1/tasks/flaky", b"{}", BEARER, True),
    (ADD, b'{"x": 2, "y": 3}', {**BEARER, "Content-Type": "application/json; charset=utf-8"}, False),
    (ADD, b'{"x": 2, "y": 3}', {**BEARER, "Content-Type": "application/vnd.api+json"}, False),
    (ADD, b'{"x": 2, "y": 3}', {"Authorization": f"Bearer {API_KEY}"}, False),  # no content type
    (ADD, b'{"x": 2, "y": 3}', {**BEARER, "Content-Type": "text/plain"}, False),
    (ADD, b'{"x": 2, "y": 3}', JSON, False),
    (ADD, b'{"x": 2, "y": 3}', {**JSON, "Authorization": "Bearer wrong-key"}, False),
    (ADD, b'{"x": 2, "y": 3}', {**JSON, "Authorization": f"Basic {API_KEY}"}, False),
    (ADD, b'{"x": 2, "y": 3}', {**JSON, "Authorization": "Bearer a.b.c"}, False),  # an ID token, not accepted
    (ADD, b'{"x": 2, "y":', BEARER, False),
    (ADD, b'{"x": 2, "y":', JSON, False),  # bad JSON without a key: FastAPI parses the body first
    (ADD, b"", BEARER, False),
    (ADD, b'{"x": "\xff"}', BEARER, False),
    (ADD, b"[" * 5000 + b"]" * 5000, BEARER, False),
    (ADD, b"[1, 2]", BEARER, False),
    (ADD, b"null", BEARER, False),
    (ADD, b'"text"', BEARER, False),
    (ADD, b'{"x": 1}', BEARER, False),
    (ADD, b'{"x": 1, "y": 2, "z": 3}', BEARER, False),
    (ADD, b'{"x": "2", "y": 3}', BEARER, False),
    (ADD, b'{"x": true, "y": 3}', BEARER, False),
    (ADD, b'{"x": 1.5, "y": 3}', BEARER, False),
    (ADD, b'{"x": NaN, "y": 3}', BEARER, False),
    (ADD, b'{"x": 1e400, "y": 3}', BEARER, False),
    (ADD, b'{"x": 1, "y": 2}', {**BEARER, "Idempotency-Key": "has space"}, False),
    (ADD, b'{"x": 1, "y": 2}', {**BEARER, "Idempotency-Key": "k" * 256}, False),
    (ADD, b'{"x": 1, "y": 2}', {**BEARER, "Idempotency-Key": ""}, False),
    (ADD, b'{"x": 1, "y": 2}', {**BEARER, "X-CloudScheduler-JobName": "j", "X-CloudScheduler-ScheduleTime": "t"}, False),
    (ADD, b'{"x": 1, "y": 2}', {**BEARER, "X-CloudScheduler-JobName": "j" * 501}, False),
    (ADD, b'{"x": 1, "y": 2}', {"Authorization": f"Bearer {API_KEY}", "Content-Type": "Application/JSON"}, False),
]


def answer(client: TestClient, path: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    response = client.post(path, content=body, headers=headers)
    text = response.text
    data = response.json()
    if isinstance(data, dict) and "task_id" in data:  # a fresh uuid each time
        text = text.replace(data["task_id"], "<id>")
    if response.status_code == 409:
        text = json.dumps({"detail": data["detail"].split(" (task ")[0]})
    kept = {name: response.headers.get(name) for name in ("content-type", "www-authenticate", "retry-after")}
    location = response.headers.get("location")
    kept["location"] = location if location is None else location.replace(data["task_id"], "<id>")
    return {"status": response.status_code, "body": text, "headers": kept}


def run_all(client: TestClient, redis: RedisServer) -> list[dict[str, Any]]:
    redis.client().flushall()
    return [answer(client, path, body, headers) for path, body, headers, _ in REQUESTS]


def test_the_fast_path_answers_every_request_as_fastapi_does(
    client: TestClient, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    solved: list[str] = []
    original = auth.ApiKeyBearer.__call__

    async def counting(self: auth.ApiKeyBearer, request: Request) -> auth.Caller:
        solved.append(request.headers.get("content-type", ""))
        return await original(self, request)

    monkeypatch.setattr(auth.ApiKeyBearer, "__call__", counting)
    fast = run_all(client, redis_server)
    served_by_fastapi = len(solved)
    monkeypatch.setattr(auth, "api_key_caller", lambda request: None)  # the fast lane declines everything
    declined = run_all(client, redis_server)

    for request, with_fast_path, without in zip(REQUESTS, fast, declined, strict=True):
        assert with_fast_path == without, request
    statuses = {entry["status"] for entry in fast}
    assert {202, 401, 409, 422} <= statuses, statuses
    # FastAPI's auth ran once per declined request that got as far as dependency solving (not a bad JSON body).
    assert served_by_fastapi == sum(1 for *_, fast_path in REQUESTS if not fast_path) - 4
    assert len(solved) == served_by_fastapi + len(REQUESTS) - 4
