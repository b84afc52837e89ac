"""Auto-pipelined submits (api.batched_script) on a real redis-server: one batch, each request its own outcome.

Concurrent submits of one event-loop turn go to Redis in one pipeline. Within a batch every
request must still get its own answer (published, replayed, conflict, queue full), a NOSCRIPT
reload must not lose or repeat a call, and when Redis hangs or dies with a batch in flight,
every waiting request must get its answer within its deadline (503: outcome unknown), and
nothing that Redis did not publish may be reported as published.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from api import idempotency
from api.auth import Caller
from api.batched_script import BatchedScript
from api.celery_message import MessageBuilder, publisher_app
from api.metrics import ApiMetrics
from api.redis_clients import BrokerUnavailable, RedisClients
from api.submission import Backpressure, MemoryWatch, Submitted, Submitter
from redis.exceptions import ResponseError
from task_contract import QUEUES, TASKS

from tests.api.conftest import broker_settings
from tests.support.redis_server import RedisServer

ADD, FLAKY = TASKS["add"], TASKS["flaky"]
CALLER = Caller(key_id="batch-test")
# The deadline (REDIS_CONNECT_TIMEOUT_SECONDS, 1 s) plus scheduling slack on a busy 2-core machine.
ANSWERED_WITHIN = 2.5


@asynccontextmanager
async def submitter(
    redis: RedisServer, batches: list[int], results_db: int | None = None, **limits: Any
) -> AsyncIterator[Submitter]:
    """A Submitter on ``redis``; ``batches`` records the size of every pipeline it sends.

    ``results_db``: results in another database of ``redis`` (the API's separate result-backend path).
    """
    overrides = {"result_backend_url": redis.url.rsplit("/", 1)[0] + f"/{results_db}"} if results_db is not None else {}
    settings = broker_settings(redis, **overrides)
    clients = RedisClients.from_settings(settings, max_connections=10)
    celery = publisher_app(settings)
    built = Submitter(clients, ApiMetrics(TASKS.values(), clients.broker_redis, QUEUES), MessageBuilder(celery),
                      MemoryWatch(clients.broker_client), 60, 1.0, limits)
    script: BatchedScript = built._script
    send = script._pipeline

    async def counted(batch: list[Any]) -> list[Any]:
        batches.append(len(batch))
        return await send(batch)

    script._pipeline = counted  # type: ignore[method-assign]
    try:
        yield built
    finally:
        await clients.aclose()
        celery.close()


def claim(key: str) -> str:
    return idempotency.storage_key(CALLER, ADD.name, key)


async def outcomes(calls: list[Callable[[], Any]]) -> list[tuple[Any, float]]:
    """Run the calls in one loop turn; each one's result or exception, and how long it took."""

    async def timed(call: Callable[[], Any]) -> tuple[Any, float]:
        started = time.monotonic()
        try:
            result = await call()
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            result = exc
        return result, time.monotonic() - started

    return await asyncio.gather(*(timed(call) for call in calls))


def test_one_batch_gives_each_request_its_own_outcome_after_a_noscript_reload(redis_server: RedisServer) -> None:
    client = redis_server.client()
    client.lpush("low", "an earlier task")  # the low queue is at its maximum length (1)
    batches: list[int] = []

    async def scenario() -> list[tuple[Any, float]]:
        async with submitter(redis_server, batches, low=1) as subs:
            first = await subs.submit(ADD, {"x": 1, "y": 1}, claim("held"))
            client.script_flush()  # as after a Redis restart: the next batch gets NOSCRIPT
            return await outcomes([
                lambda: subs.submit(ADD, {"x": 1, "y": 1}, claim("held")),  # replay of `first`
                lambda: subs.submit(ADD, {"x": 9, "y": 9}, claim("held")),  # same key, other payload
                lambda: subs.submit(FLAKY, {"fail_times": 0}, None),  # queue full
                lambda: subs.submit(ADD, {"x": 2, "y": 2}, claim("new")),  # published, claims "new"
                lambda: subs.submit(ADD, {"x": 3, "y": 3}, None),  # published
                lambda: subs.submit(ADD, {"x": 2, "y": 2}, claim("new")),  # later in the batch: replay of "new"
            ]) + [(first, 0.0)]

    results = asyncio.run(scenario())
    replay, conflict, full, new, plain, new_again, first = [result for result, _ in results]

    # `first` (NOSCRIPT on a fresh Redis, then again after SCRIPT LOAD); the six (NOSCRIPT), the six again
    assert batches == [1, 1, 6, 6]
    assert replay == Submitted(first.task_id, replayed=True)
    assert isinstance(conflict, idempotency.IdempotencyConflict)
    assert isinstance(full, Backpressure) and "at its maximum length 1" in str(full)
    assert isinstance(new, Submitted) and not new.replayed
    assert isinstance(plain, Submitted) and not plain.replayed
    assert new_again == Submitted(new.task_id, replayed=True)  # the scripts ran in order, each alone
    assert client.llen("high") == 3 and client.llen("low") == 1  # first, new, plain; nothing twice


@pytest.mark.parametrize("fault", ["hung", "hung then killed", "gone"])
def test_a_batch_in_flight_when_redis_hangs_or_dies_answers_every_request_in_time(
    redis_server: RedisServer, fault: str
) -> None:
    assert redis_server.process is not None
    pid = redis_server.process.pid
    batches: list[int] = []

    async def scenario() -> tuple[list[tuple[Any, float]], list[tuple[Any, float]]]:
        async with submitter(redis_server, batches) as subs:
            await subs.submit(ADD, {"x": 0, "y": 0}, None)  # connected, script loaded
            if fault == "gone":
                os.kill(pid, signal.SIGKILL)
                redis_server.process.wait(5)
            else:
                os.kill(pid, signal.SIGSTOP)  # the batch is written, its replies never come
            calls = [lambda i=i: subs.submit(ADD, {"x": i, "y": i}, claim(f"k{i}")) for i in range(40)]
            in_flight = asyncio.ensure_future(outcomes(calls))
            if fault == "hung then killed":
                await asyncio.sleep(0.3)
                os.kill(pid, signal.SIGKILL)
            during = await in_flight
            if fault == "hung":
                os.kill(pid, signal.SIGCONT)
                await asyncio.sleep(0.3)  # Redis may run the batch it had read: published, yet answered 503
            else:
                redis_server.process.wait(5)
                redis_server.start()
            after = await outcomes([lambda i=i: subs.submit(ADD, {"x": i, "y": i}, claim(f"k{i}")) for i in range(40)])
            return during, after

    try:
        during, after = asyncio.run(scenario())
    finally:
        if fault == "hung" and redis_server.process is not None and redis_server.process.poll() is None:
            os.kill(pid, signal.SIGCONT)

    for result, seconds in during:
        assert isinstance(result, BrokerUnavailable), result  # 503, never 202
        assert seconds < ANSWERED_WITHIN, seconds
    assert 40 in batches  # the 40 went out as one batch
    # Retried with their keys: each is published exactly once, whether or not the hung batch ran.
    assert all(isinstance(result, Submitted) for result, _ in after), after
    # Hung: the first task and each key's once (replayed if the hung batch ran). Killed: Redis lost all
    # (no persistence), the retries published anew.
    assert redis_server.client().llen("high") == (41 if fault == "hung" else 40)


def test_a_hung_batch_without_keys_is_never_published_twice(redis_server: RedisServer) -> None:
    """A batch written to a hung Redis, answered 503 at the deadline, runs once when Redis resumes.

    Each request is published at most once, with no Idempotency-Key to absorb a repeat. (A resend
    after a broken connection is the next test's case: the script's task-id check.)
    """
    assert redis_server.process is not None
    pid = redis_server.process.pid
    batches: list[int] = []

    async def scenario() -> list[tuple[Any, float]]:
        async with submitter(redis_server, batches) as subs:
            await subs.submit(ADD, {"x": 0, "y": 0}, None)  # connected, script loaded
            os.kill(pid, signal.SIGSTOP)
            try:
                during = await outcomes([lambda i=i: subs.submit(ADD, {"x": i, "y": i}, None) for i in range(20)])
            finally:
                os.kill(pid, signal.SIGCONT)
            await asyncio.sleep(0.5)  # Redis runs whatever it had read
            return during

    during = asyncio.run(scenario())
    assert all(isinstance(result, BrokerUnavailable) for result, _ in during), during
    client = redis_server.client()
    ids = [message_task_id(raw) for raw in client.lrange("high", 0, -1)]
    assert len(ids) == len(set(ids)), f"a task id was published twice: {len(ids)} messages, {len(set(ids))} ids"
    assert len(ids) <= 21, len(ids)


def message_task_id(raw: bytes) -> str:
    return str(json.loads(raw)["headers"]["id"])


@pytest.mark.parametrize("shared", [True, False], ids=["record-in-broker", "separate-result-redis"])
def test_a_resent_call_publishes_nothing_the_second_time(redis_server: RedisServer, shared: bool) -> None:
    """What redis-py's one resend after a connection error does: the same EVALSHA, same task id, again."""
    batches: list[int] = []

    async def scenario() -> tuple[Submitted, Submitted]:
        async with submitter(redis_server, batches, results_db=None if shared else 1) as subs:
            assert subs.redis.shared is shared
            subs.new_task_id = lambda: "resent-task-id"
            first = await subs.submit(ADD, {"x": 1, "y": 2}, None)
            second = await subs.submit(ADD, {"x": 1, "y": 2}, None)
            return first, second

    first, second = asyncio.run(scenario())
    assert first == second == Submitted("resent-task-id", replayed=False)
    assert redis_server.client().llen("high") == 1


def test_a_call_that_cannot_be_packed_or_errs_in_its_script_fails_alone(redis_server: RedisServer) -> None:
    """Each EVALSHA is packed when called (hiredis), so a bad argument is that call's error, not the batch's;
    a script error is that call's reply; and the one pooled connection goes back after each batch."""

    async def scenario() -> tuple[list[tuple[Any, float]], Any]:
        clients = RedisClients.from_settings(broker_settings(redis_server), max_connections=1)
        script = BatchedScript(clients.broker_client, "return redis.call('INCRBY', KEYS[1], ARGV[1])", 1.0)
        try:
            calls: list[Callable[[], Any]] = [lambda i=i: script.call(["n"], [i]) for i in (1, 2, 3)]
            batch = await outcomes([*calls, lambda: script.call(["n"], [object()]), lambda: script.call(["n"], ["x"])])
            async with asyncio.timeout(ANSWERED_WITHIN):  # a connection not released would block here
                return batch, await script.call(["n"], [10])
        finally:
            await clients.aclose()

    batch, after = asyncio.run(scenario())
    one, two, three, unpackable, script_error = [result for result, _ in batch]
    assert (one, two, three, after) == (1, 3, 6, 16)
    assert isinstance(unpackable, TypeError), unpackable
    assert isinstance(script_error, ResponseError) and "not an integer" in str(script_error), script_error
