"""What the API knows about a task: that it was submitted, and what the worker stored as its result.

Celery reports PENDING for any id it never saw, so the API records each id it publishes
(TTL = result TTL): an id with neither that record nor a result is unknown (404).
Results are read straight from the Redis result backend, where the worker's Celery
stores them as JSON under ``celery-task-meta-<id>``. Tracebacks are never returned.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

import redis.asyncio
from celery import states
from celery.backends.redis import RedisBackend
from kombu.utils import json as kombu_json

from api.schemas import TaskError, TaskStatus

_SUBMITTED_PREFIX: Final = "cloudrun_celery:submitted:"
# Where Celery's key-value backends keep a task's result.
_RESULT_PREFIX: Final = RedisBackend.task_keyprefix
# kombu's JSON, which Celery's json serializer writes (it tags datetimes, UUIDs, ...); untyped upstream.
_decode: Callable[[bytes], Any] = kombu_json.loads


def submitted_key(task_id: str) -> str:
    """Where the API records a submitted id (value: the task name, TTL: RESULT_TTL_SECONDS)."""
    return f"{_SUBMITTED_PREFIX}{task_id}"


async def forget_submitted(client: redis.asyncio.Redis, task_id: str) -> None:
    await client.delete(submitted_key(task_id))


async def read_status(client: redis.asyncio.Redis, task_id: str) -> TaskStatus | None:
    """The task's state, result or error; None if the id was never submitted or has expired."""
    pipe = client.pipeline(transaction=False)
    pipe.get(f"{_RESULT_PREFIX}{task_id}")
    pipe.get(submitted_key(task_id))
    raw_meta, raw_name = await pipe.execute()
    name = raw_name.decode() if raw_name is not None else None
    if raw_meta is None:
        if name is None:
            return None
        return TaskStatus(task_id=task_id, task=name, state=states.PENDING)
    meta: dict[str, Any] = _decode(raw_meta)
    state = str(meta.get("status", states.PENDING))
    result = meta.get("result")
    status = TaskStatus(
        task_id=task_id,
        task=name or meta.get("name"),
        state=state,
        date_done=str(meta["date_done"]) if meta.get("date_done") else None,
    )
    error = task_error(result) if state in states.EXCEPTION_STATES else None
    if error is not None:
        return status.model_copy(update={"error": error})
    if state == states.SUCCESS:
        return status.model_copy(update={"result": plain_json(result)})
    return status


def task_error(result: object) -> TaskError | None:
    """Celery's serialized exception ``{exc_type, exc_message, exc_module}`` as a type and a message."""
    if not isinstance(result, dict) or "exc_type" not in result:
        return None
    message = result.get("exc_message", "")
    if isinstance(message, list | tuple):
        message = str(message[0]) if len(message) == 1 else ", ".join(str(part) for part in message)
    return TaskError(type=str(result["exc_type"]), message=str(message))


def plain_json(value: object) -> Any:
    """The result as plain JSON: kombu revives datetimes, UUIDs, bytes...; show those as strings."""
    return json.loads(json.dumps(value, default=str))
