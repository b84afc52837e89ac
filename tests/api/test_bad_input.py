"""Bad input gets a 4xx that says what is wrong: never a 500, never a traceback, nothing enqueued."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import AUTH
from tests.support.redis_server import RedisServer
from tests.support.worker_process import queue_depth


def assert_nothing_enqueued(redis: RedisServer) -> None:
    assert [queue_depth(redis, q) for q in ("high", "default", "low")] == [0, 0, 0]


def test_unknown_task_is_404_naming_the_known_ones(client: TestClient, redis_server: RedisServer) -> None:
    response = client.post("/v1/tasks/delete_everything", json={}, headers=AUTH)

    assert response.status_code == 404
    assert response.json() == {"detail": "unknown task 'delete_everything'; known tasks: add, external_call, flaky"}
    assert_nothing_enqueued(redis_server)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"x": "two", "y": 3}, "int_type"),
        ({"x": 1}, "missing"),
        ({"x": 1, "y": 2, "z": 3}, "extra_forbidden"),
        ({"x": 10**13, "y": 0}, "less_than_equal"),
        ({"x": 1.5, "y": 0}, "int_type"),
        ([1, 2], "model_attributes_type"),
        (None, "missing"),
    ],
)
def test_invalid_payload_is_422_with_the_field_errors(
    client: TestClient, redis_server: RedisServer, body: object, problem: str
) -> None:
    response = client.post("/v1/tasks/add", json=body, headers=AUTH)

    assert response.status_code == 422, response.text
    assert problem in {error["type"] for error in response.json()["detail"]}
    assert_nothing_enqueued(redis_server)


@pytest.mark.parametrize(
    ("content", "content_type"),
    [(b'{"x": 1, "y":', "application/json"), (b"\xff\xfe", "application/json"), (b"\x1dI\xc3(x\xa0", "application/json"),
     (b"x=1&y=2", "text/plain"), (b"", "application/json")],
)
def test_malformed_body_is_422(client: TestClient, redis_server: RedisServer, content: bytes, content_type: str) -> None:
    response = client.post("/v1/tasks/add", content=content, headers={**AUTH, "Content-Type": content_type})

    assert response.status_code == 422, response.text
    assert_nothing_enqueued(redis_server)


def test_url_payload_must_be_http(client: TestClient) -> None:
    response = client.post("/v1/tasks/external_call", json={"url": "file:///etc/passwd"}, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "url"]


def test_body_over_the_limit_by_content_length_is_413(
    client_factory: Callable[..., TestClient], redis_server: RedisServer
) -> None:
    client = client_factory(max_body_bytes=100)
    body = '{"x": 1, "y": 2, "padding": "' + "a" * 200 + '"}'

    response = client.post("/v1/tasks/add", content=body, headers={**AUTH, "Content-Type": "application/json"})

    assert response.status_code == 413
    assert "MAX_BODY_BYTES=100" in response.json()["detail"]
    assert_nothing_enqueued(redis_server)


def test_chunked_body_over_the_limit_is_413(
    client_factory: Callable[..., TestClient], redis_server: RedisServer
) -> None:
    client = client_factory(max_body_bytes=100)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must count real bytes
        yield b'{"x": 1, "y": 2, "pad": "'
        for _ in range(10):
            yield b"a" * 20
        yield b'"}'

    response = client.post("/v1/tasks/add", content=chunks(), headers={**AUTH, "Content-Type": "application/json"})

    assert response.status_code == 413
    assert_nothing_enqueued(redis_server)


def test_body_at_the_limit_is_accepted(client_factory: Callable[..., TestClient]) -> None:
    body = b'{"x": 1, "y": 2}'
    client = client_factory(max_body_bytes=len(body))

    def chunks() -> Iterator[bytes]:
        yield body[:5]
        yield body[5:]

    response = client.post("/v1/tasks/add", content=chunks(), headers={**AUTH, "Content-Type": "application/json"})

    assert response.status_code == 202, response.text


@pytest.mark.parametrize("task_id", ["nope", "123", "00000000-0000-0000-0000-00000000000g", "a" * 300, "add"])
def test_get_on_anything_but_a_task_id_is_405(client: TestClient, task_id: str) -> None:
    # A segment that is not a UUID is an enqueue path (POST only), whether or not the task exists.
    response = client.get(f"/v1/tasks/{task_id}", headers=AUTH)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_unknown_task_id_is_404(client: TestClient) -> None:
    response = client.get("/v1/tasks/6f1c1a54-7d0e-4a8e-9a3c-5d1e2b3c4d5e", headers=AUTH)
    assert response.status_code == 404
    assert "never submitted" in response.json()["detail"]


@pytest.mark.parametrize("key", [b"", b"has space", "é".encode(), b"k" * 256])
def test_invalid_idempotency_key_is_422(client: TestClient, redis_server: RedisServer, key: bytes) -> None:
    headers = [(name.encode(), value.encode()) for name, value in AUTH.items()] + [(b"Idempotency-Key", key)]
    response = client.post("/v1/tasks/add", json={"x": 1, "y": 2}, headers=headers)
    assert response.status_code == 422
    assert_nothing_enqueued(redis_server)


def test_wrong_method_is_405(client: TestClient) -> None:
    assert client.put("/v1/tasks/add", json={}, headers=AUTH).status_code == 405
    assert client.delete("/healthz").status_code == 405


def test_unexpected_errors_are_a_json_500_without_traceback(client: TestClient) -> None:
    def explode() -> None:
        raise RuntimeError("secret internals")

    client.app.state.redis.ping = explode  # type: ignore[attr-defined]

    response = client.get("/readyz")

    assert response.status_code == 500
    assert response.json() == {"detail": "internal error; the API log has the details"}
    assert "secret internals" not in response.text


@pytest.mark.parametrize(
    ("task", "body"),
    [("flaky", {"fail_times": False}), ("add", {"x": "1", "y": 2}), ("add", {"x": True, "y": 2}),
     ("external_call", {"latency_seconds": "0.5"})],
)
def test_json_types_are_strict(client: TestClient, redis_server: RedisServer, task: str, body: object) -> None:
    # Found by the fuzz run: lax pydantic turned `false` into 0. The schema says integer.
    assert client.post(f"/v1/tasks/{task}", json=body, headers=AUTH).status_code == 422
    assert_nothing_enqueued(redis_server)
