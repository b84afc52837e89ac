"""The test plays Cloud Scheduler against a real API process and a real Redis.

Tokens are signed by a local key (scripts/local_scheduler.py); the API fetches that key's
certificate over HTTP from a local server in place of Google's URL (GOOGLE_CERTS_URL) and
verifies it with google-auth, as on Cloud Run. Nothing is mocked.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest

from scripts.local_scheduler import LOCAL_CALLER, LocalIdentityProvider, Tick, post_tick
from tests.support.api_process import ApiProcess
from tests.support.redis_server import RedisServer, broker_env
from tests.support.worker_process import queue_depth

TICK = Tick("celery-dev-add-every-5-minutes", "add", {"x": 2, "y": 3}, dt.datetime(2026, 12, 3, 11, 0, tzinfo=dt.UTC))


@pytest.fixture
def google() -> Iterator[LocalIdentityProvider]:
    provider = LocalIdentityProvider()
    yield provider
    provider.close()


@pytest.fixture
def api(redis_server: RedisServer, google: LocalIdentityProvider) -> Iterator[ApiProcess]:
    process = ApiProcess(env=broker_env(redis_server))
    # The tokens' audience is the API's own URL, as on Cloud Run.
    process.env.update(
        SCHEDULER_CALLERS=LOCAL_CALLER, GOOGLE_CERTS_URL=google.certs_url, GOOGLE_ID_AUDIENCE=process.url
    )
    try:
        yield process.start()
    finally:
        process.cleanup()


def test_a_retried_tick_enqueues_one_task_and_the_next_tick_another(
    api: ApiProcess, google: LocalIdentityProvider, redis_server: RedisServer
) -> None:
    first_status, first = post_tick(google, api.url, TICK)
    assert first_status == 202, first
    # Cloud Scheduler retries the same tick (same job name and schedule time), with a new token.
    for _ in range(3):
        status, retried = post_tick(google, api.url, TICK)
        assert status == 202
        assert retried["task_id"] == first["task_id"] and retried["idempotent_replay"] is True
    assert queue_depth(redis_server, "high") == 1
    later = dataclasses.replace(TICK, schedule_time=TICK.schedule_time + dt.timedelta(minutes=5))
    status, second = post_tick(google, api.url, later)
    assert status == 202 and second["task_id"] != first["task_id"]
    assert queue_depth(redis_server, "high") == 2


def test_scheduler_headers_from_an_api_key_are_not_trusted(api: ApiProcess, redis_server: RedisServer) -> None:
    headers = {
        **api.auth_headers,
        "X-CloudScheduler-JobName": TICK.job_name,
        "X-CloudScheduler-ScheduleTime": "2026-12-03T11:00:00Z",
    }
    with api.client() as http:
        ids = {http.post("/v1/tasks/add", json=TICK.payload, headers=headers).json()["task_id"] for _ in range(2)}
    # Ignored: neither deduplicated (forging a tick) nor able to block the scheduler's own tick.
    assert len(ids) == 2
    assert queue_depth(redis_server, "high") == 2


def test_a_manual_run_without_schedule_time_enqueues_each_time(
    api: ApiProcess, google: LocalIdentityProvider, redis_server: RedisServer
) -> None:
    ids = {post_tick(google, api.url, TICK, schedule_time=False)[1]["task_id"] for _ in range(2)}
    assert len(ids) == 2
    assert queue_depth(redis_server, "high") == 2


def test_wrong_audience_unknown_caller_and_foreign_key_are_refused(
    api: ApiProcess, google: LocalIdentityProvider, redis_server: RedisServer
) -> None:
    def post(token: str) -> tuple[int, str]:
        with api.client() as http:
            response = http.post("/v1/tasks/add", json=TICK.payload, headers={"Authorization": f"Bearer {token}"})
        return response.status_code, response.json()["detail"]

    status, detail = post(google.mint(LOCAL_CALLER, "https://someone-else.run.app"))
    assert status == 401 and "audience must be this API's URL" in detail
    status, detail = post(google.mint("intruder@other-project.iam.gserviceaccount.com", api.url))
    assert status == 403 and "add it to SCHEDULER_CALLERS" in detail
    status, detail = post(google.mint(LOCAL_CALLER, api.url, lifetime_seconds=-3600))
    assert status == 401 and "invalid Google ID token" in detail
    status, detail = post(google.mint(LOCAL_CALLER, api.url, iss="https://evil.example"))
    assert status == 401 and "not issued by Google" in detail
    stranger = LocalIdentityProvider()  # a key whose certificate the API never fetched
    try:
        status, detail = post(stranger.mint(LOCAL_CALLER, api.url))
    finally:
        stranger.close()
    assert status == 401 and "invalid Google ID token" in detail
    assert queue_depth(redis_server, "high") == 0


def test_without_scheduler_callers_id_tokens_are_refused(
    redis_server: RedisServer, google: LocalIdentityProvider
) -> None:
    process = ApiProcess(env=broker_env(redis_server))
    try:
        process.start()
        status, body = post_tick(google, process.url, TICK)
    finally:
        process.cleanup()
    assert status == 401 and "no SCHEDULER_CALLERS" in body["detail"]


def test_api_keys_that_look_like_jwts_are_refused_at_start(redis_server: RedisServer) -> None:
    process = ApiProcess(env=broker_env(redis_server), api_key="aaa.bbb.ccc")
    with pytest.raises(AssertionError, match="looks like a JWT"):
        process.start(timeout=15)
    process.cleanup()
