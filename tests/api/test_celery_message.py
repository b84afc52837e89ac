"""The API's own publish puts on the list exactly what Celery's ``send_task`` + kombu's Redis transport would.

Both publish the same task (same id) into a real Redis; the two list entries must be equal
field by field, the per-message ``delivery_tag`` (a fresh uuid4) aside. A kombu or Celery
upgrade that changes the envelope, the headers or the list naming fails here.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from api.celery_message import MessageBuilder, fast_kwargsrepr, publisher_app
from api.metrics import ApiMetrics
from api.redis_clients import RedisClients
from api.submission import MemoryWatch, Submitter
from celery.utils.saferepr import saferepr
from kombu.transport.redis import PRIORITY_STEPS
from task_contract import QUEUES, TASKS, BrokerSettings, TaskSpec

from tests.api.conftest import broker_settings
from tests.support.redis_server import RedisServer

TASK_ID = "0b7e1f3a-9c4d-4e2b-8a6f-1d2c3b4a5e6f"


def only_raw_entry(redis_server: RedisServer) -> tuple[str, str]:
    """The one list entry in Redis (and its list), removed, as pushed."""
    client = redis_server.client()
    lists = [key for key in client.keys("*") if client.type(key) == b"list"]
    assert len(lists) == 1, lists
    [raw] = client.lrange(lists[0], 0, -1)
    client.delete(lists[0])
    return lists[0].decode(), raw.decode()


def only_entry(redis_server: RedisServer) -> tuple[str, dict[str, Any]]:
    """The one list entry in Redis (and its list), removed."""
    name, raw = only_raw_entry(redis_server)
    return name, json.loads(raw)


def without_tag(raw: str) -> str:
    """The entry's bytes with its delivery tag (a fresh uuid4 per message) blanked."""
    tag = json.loads(raw)["properties"]["delivery_tag"]
    assert raw.count(tag) == 1
    return raw.replace(tag, "<tag>")


def assert_same_entry(celery_entry: dict[str, Any], api_entry: dict[str, Any]) -> None:
    assert set(api_entry) == set(celery_entry)
    for field in ("body", "content-encoding", "content-type"):
        assert api_entry[field] == celery_entry[field], field
    assert api_entry["headers"] == celery_entry["headers"]
    assert list(api_entry["headers"]) == list(celery_entry["headers"])
    celery_props, api_props = dict(celery_entry["properties"]), dict(api_entry["properties"])
    assert list(api_props) == list(celery_props)
    for tag in (celery_props.pop("delivery_tag"), api_props.pop("delivery_tag")):
        assert isinstance(tag, str) and len(tag) == 36
    assert api_props == celery_props


@pytest.mark.parametrize(
    ("spec", "kwargs"),
    [(TASKS["add"], {"x": 2, "y": -3}), (TASKS["external_call"], {"latency_seconds": 0.5, "url": None}),
     (TASKS["flaky"], {"fail_times": 2})],
    ids=lambda value: value.name if isinstance(value, TaskSpec) else "",
)
def test_the_api_publishes_what_send_task_publishes(
    redis_server: RedisServer, spec: TaskSpec, kwargs: dict[str, Any]
) -> None:
    settings = broker_settings(redis_server)
    celery = publisher_app(settings)
    redis_server.client().flushall()

    celery.send_task(spec.name, kwargs=kwargs, queue=spec.queue, task_id=TASK_ID, retry=False)
    redis_server.client().delete(*redis_server.client().keys("_kombu.binding*"))  # send_task's declare
    celery_list, celery_raw = only_raw_entry(redis_server)
    celery_entry = json.loads(celery_raw)

    async def api_publish() -> None:
        redis = RedisClients.from_settings(settings, max_connections=10)
        metrics = ApiMetrics(TASKS.values(), redis.broker_redis, QUEUES)
        submitter = Submitter(redis, metrics, MessageBuilder(celery), MemoryWatch(redis.broker_client), 60, 1.0, {},
                              new_task_id=lambda: TASK_ID)
        try:
            await submitter.submit(spec, kwargs, None)
        finally:
            await redis.aclose()
            celery.close()

    asyncio.run(api_publish())
    redis_server.client().delete(f"cloudrun_celery:submitted:{TASK_ID}")
    api_list, api_raw = only_raw_entry(redis_server)
    api_entry = json.loads(api_raw)

    assert api_list == celery_list == spec.queue
    assert_same_entry(celery_entry, api_entry)
    assert without_tag(api_raw) == without_tag(celery_raw)  # byte for byte
    args, sent_kwargs, embed = json.loads(base64.b64decode(api_entry["body"]))
    assert (args, sent_kwargs) == ([], kwargs)
    assert embed == {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
    assert api_entry["headers"]["task"] == spec.name and api_entry["headers"]["id"] == TASK_ID


@pytest.mark.parametrize("priority", [0, 1, 3, 5, 6, 9, 12])
def test_priorities_go_to_the_same_list_as_with_send_task(redis_server: RedisServer, priority: int) -> None:
    celery = publisher_app(broker_settings(redis_server))
    spec = TASKS["add"]
    try:
        celery.send_task(
            spec.name, kwargs={"x": 1, "y": 1}, queue=spec.queue, task_id=TASK_ID, priority=priority, retry=False
        )
        redis_server.client().delete(*redis_server.client().keys("_kombu.binding*"))
        celery_list, celery_entry = only_entry(redis_server)
        api_list, raw = MessageBuilder(celery).build(spec.name, {"x": 1, "y": 1}, spec.queue, TASK_ID, priority=priority)
    finally:
        celery.close()

    assert api_list == celery_list
    assert celery_list in [spec.queue, *(f"{spec.queue}\x06\x16{step}" for step in PRIORITY_STEPS[1:])]
    assert_same_entry(celery_entry, json.loads(raw))


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"x": 1, "y": -2}, {"latency_seconds": 0.1, "url": None}, {"fail_times": 0}, {"a": True, "b": False},
     {"big": 10**12, "small": -(10**12), "f": 1e-07, "g": 1e300, "h": float("inf"), "n": float("-inf")},
     {"k" * 40: 2**70}, {f"key_{i}": i * 1.5 for i in range(200)}, {"url": "https://example.com/'\"x"},
     {"nested": {"a": [1, 2]}}, {"odd key": 1}, {"é": 1}],
)
def test_the_fast_kwargsrepr_is_celerys_saferepr_or_declines(kwargs: dict[str, Any]) -> None:
    fast = fast_kwargsrepr(kwargs, 1024)
    assert fast is None or fast == saferepr(kwargs, 1024, maxlevels=3)
    if all(isinstance(value, int | float | None) for value in kwargs.values()) and len(repr(kwargs)) < 1000 \
            and all(key.isidentifier() and key.isascii() for key in kwargs):
        assert fast is not None  # the fast path is taken for the contract's flat payloads


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"x": 1, "y": -2}, {"latency_seconds": 0.1, "url": "https://example.com/?a=1%20b&c=%(id)s"},
     {"text": "@@task-id@@ @@kwargsrepr@@ \"quoted\" \\ é ✓ \n"}, {"nested": {"a": [1, 2.5, None, True]}},
     {f"key_{i}": "v" * i for i in range(60)}, {"odd key": 1, "%": "%%"}],
)
@pytest.mark.parametrize("priority", [None, 0, 6])
def test_the_template_builds_what_celerys_code_builds(kwargs: dict[str, Any], priority: int | None) -> None:
    """``build`` (a template per task, filled per message) against ``build_with_celery`` (Celery's code each time)."""
    builder = MessageBuilder(publisher_app(BrokerSettings(redis_url="redis://127.0.0.1:1/0")))  # never connects
    try:
        for spec in TASKS.values():
            for task_id in (TASK_ID, "a1b2c3d4-0000-4000-8000-%(id)s00"):
                fast_list, fast = builder.build(spec.name, kwargs, spec.queue, task_id, priority=priority)
                slow_list, slow = builder.build_with_celery(spec.name, kwargs, spec.queue, task_id, priority=priority)
                assert fast_list == slow_list
                assert without_tag(fast) == without_tag(slow)
                assert json.loads(fast)["properties"]["delivery_tag"] != json.loads(slow)["properties"]["delivery_tag"]
    finally:
        builder.app.close()
