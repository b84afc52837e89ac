"""Dead letters: tasks that failed for good (retries exhausted, or a permanent error), kept to inspect and replay.

The worker writes one when a task fails for good (``services/worker/worker/dead_letters.py``);
the API lists and replays them (``/v1/dead-letters``). Both import this module, so the keys
and the record format exist once. They live in the result-backend Redis, next to results:

- ``cloudrun_celery:dead_letter:<task id>``: the record as JSON, expiring after
  DEAD_LETTER_TTL_SECONDS;
- ``cloudrun_celery:dead_letters``: a sorted set of task ids by failure time, the index.
  Ids whose record has expired are dropped from it on each write and skipped on read.

Commands go onto a pipeline the caller executes, so the same code serves the worker's
blocking client and the API's asyncio client.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Final, Protocol

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

INDEX_KEY: Final = "cloudrun_celery:dead_letters"
_RECORD_PREFIX: Final = "cloudrun_celery:dead_letter:"


class DeadLetterSettings(BaseSettings):
    """Environment: DEAD_LETTER_TTL_SECONDS (both services read it; the worker's value decides)."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    dead_letter_ttl_seconds: int = Field(default=7 * 86_400, ge=60, le=30 * 86_400)


@dataclass(frozen=True)
class DeadLetter:
    task_id: str
    task: str
    queue: str
    kwargs: dict[str, Any]
    error_type: str
    error_message: str
    attempts: int
    failed_at: float  # Unix time

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=str)

    @classmethod
    def from_json(cls, raw: bytes | str) -> DeadLetter:
        return cls(**json.loads(raw))


class Pipeline(Protocol):
    """The part of a redis-py pipeline (blocking or asyncio) used here."""

    def set(self, name: str, value: str, ex: int) -> Any: ...
    def zadd(self, name: str, mapping: dict[str, float]) -> Any: ...
    def zremrangebyscore(self, name: str, min: float | str, max: float | str) -> Any: ...
    def expire(self, name: str, time: int) -> Any: ...
    def delete(self, *names: str) -> Any: ...
    def zrem(self, name: str, *values: str) -> Any: ...


def record_key(task_id: str) -> str:
    return f"{_RECORD_PREFIX}{task_id}"


def add(pipe: Pipeline, letter: DeadLetter, ttl_seconds: int) -> None:
    """Store ``letter`` for ``ttl_seconds``; drop index entries older than that."""
    pipe.set(record_key(letter.task_id), letter.to_json(), ex=ttl_seconds)
    pipe.zadd(INDEX_KEY, {letter.task_id: letter.failed_at})
    pipe.zremrangebyscore(INDEX_KEY, "-inf", letter.failed_at - ttl_seconds)
    pipe.expire(INDEX_KEY, ttl_seconds)


def remove(pipe: Pipeline, task_id: str) -> None:
    pipe.delete(record_key(task_id))
    pipe.zrem(INDEX_KEY, task_id)
