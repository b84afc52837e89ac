"""Dead letters end to end: a real worker records the ``flaky`` task failing for good; the real API lists and replays it.

To keep the test short the exhausted task is published as Celery publishes a task's last
retry (``retries=5`` of MAX_RETRIES=5, by ``send_task``): its next failure exhausts it, as
a submitted ``flaky`` task's sixth failure would after ~8-16 s of backoff.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from task_contract.dead_letters import INDEX_KEY, record_key

from tests.support.api_process import ApiProcess
from tests.support.redis_server import RedisServer
from tests.support.worker_process import WorkerProcess, celery_client, queue_depth

pytestmark = pytest.mark.slow

TTL = 300


def dead_letters(api: ApiProcess, http: httpx.Client, count: int, timeout: float = 30) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        response = http.get("/v1/dead-letters", headers=api.auth_headers)
        assert response.status_code == 200, response.text
        letters: list[dict[str, Any]] = response.json()["dead_letters"]
        if len(letters) >= count:
            return letters
        assert time.monotonic() < deadline, f"{len(letters)} dead letters after {timeout} s, expected {count}"
        time.sleep(0.1)


def test_failed_for_good_tasks_are_dead_letters_that_replay_once(
    redis_server: RedisServer,
    worker_factory: Callable[..., WorkerProcess],
    api_factory: Callable[..., ApiProcess],
) -> None:
    worker_factory(redis_server, DEAD_LETTER_TTL_SECONDS=str(TTL))
    api = api_factory(redis_server)
    publisher = celery_client(redis_server)
    exhausted = publisher.send_task("flaky", kwargs={"fail_times": 10}, queue="low", retries=5).id
    permanent = publisher.send_task("flaky", kwargs={"fail_times": "many"}, queue="low").id
    client = redis_server.client()
    with api.client() as http:
        recovered = http.post("/v1/tasks/flaky", json={"fail_times": 1}, headers=api.auth_headers).json()["task_id"]
        letters = {letter["task_id"]: letter for letter in dead_letters(api, http, 2)}
        assert http.get("/v1/dead-letters").status_code == 401

        assert set(letters) == {exhausted, permanent}
        assert letters[exhausted] | {"failed_at": 0} == {
            "task_id": exhausted, "task": "flaky", "queue": "low", "kwargs": {"fail_times": 10},
            "error_type": "TransientError", "error_message": "attempt 6 failed on purpose (10 planned failures)",
            "attempts": 6, "failed_at": 0,
        }
        assert (letters[permanent]["error_type"], letters[permanent]["attempts"]) == ("ValueError", 1)
        assert TTL - 60 < client.ttl(record_key(exhausted)) <= TTL
        saved = client.get(record_key(exhausted)), client.zscore(INDEX_KEY, exhausted)

        replay = http.post(f"/v1/dead-letters/{exhausted}/replay", headers=api.auth_headers)
        assert replay.status_code == 202, replay.text
        new_id = replay.json()["task_id"]
        assert new_id != exhausted and replay.json()["idempotent_replay"] is False
        again = http.post(f"/v1/dead-letters/{exhausted}/replay", headers=api.auth_headers)
        assert again.status_code == 404 and "replayed already" in again.json()["detail"]
        # A replay retried after its answer was lost (the dead letter still there) enqueues nothing new.
        client.set(record_key(exhausted), saved[0], ex=TTL)
        client.zadd(INDEX_KEY, {exhausted: saved[1]})
        retried = http.post(f"/v1/dead-letters/{exhausted}/replay", headers=api.auth_headers)
        assert retried.status_code == 202 and retried.json() == {**replay.json(), "idempotent_replay": True}

        everything = http.post("/v1/dead-letters/replay", headers=api.auth_headers)
        assert everything.status_code == 202, everything.text
        assert everything.json()["replayed"] == []
        [skipped] = everything.json()["skipped"]
        assert skipped.startswith(f"{permanent}: its payload is not valid for 'flaky'")

        deadline = time.monotonic() + 30
        while (state := http.get(f"/v1/tasks/{new_id}", headers=api.auth_headers).json()["state"]) == "PENDING":
            assert time.monotonic() < deadline, "the replayed task never ran"
            time.sleep(0.1)
        assert state in {"STARTED", "RETRY"}  # it ran again (and fails again: 10 planned failures)
        while http.get(f"/v1/tasks/{recovered}", headers=api.auth_headers).json()["state"] != "SUCCESS":
            assert time.monotonic() < deadline, "the task that fails once never succeeded"
            time.sleep(0.1)
        listed = http.get("/v1/dead-letters", headers=api.auth_headers).json()["dead_letters"]
        assert recovered not in {letter["task_id"] for letter in listed}  # it recovered by retrying
    assert queue_depth(redis_server, "low") <= 1  # the replay, if the worker has not taken it back yet
