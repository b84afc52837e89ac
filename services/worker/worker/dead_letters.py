"""Write a dead letter (``task_contract.dead_letters``) when a catalog task fails for good.

Celery sends ``task_failure`` when a task raises and will not be retried: its retries are
exhausted, or the error is permanent (a bad payload, a time limit). A retry sends
``task_retry`` instead, so only the last failure lands here. The record goes to the result
backend's Redis through the backend's own client. If that write fails the task's FAILURE
result is still there; the miss is logged, never raised into Celery.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any

import redis
from celery import signals
from task_contract import TASKS
from task_contract.dead_letters import DeadLetter, DeadLetterSettings, add

log = logging.getLogger(__name__)


@functools.cache
def _ttl_seconds() -> int:
    return DeadLetterSettings().dead_letter_ttl_seconds


def _on_failure(sender: Any = None, task_id: str = "", exception: BaseException | None = None,
                kwargs: dict[str, Any] | None = None, **_: Any) -> None:
    spec = TASKS.get(getattr(sender, "name", ""))
    if spec is None or exception is None:
        return
    letter = DeadLetter(
        task_id=task_id,
        task=spec.name,
        queue=spec.queue,
        kwargs=dict(kwargs or {}),
        error_type=type(exception).__name__,
        error_message=str(exception),
        attempts=int(sender.request.retries or 0) + 1,
        failed_at=time.time(),
    )
    try:
        pipe = sender.backend.client.pipeline(transaction=False)
        add(pipe, letter, _ttl_seconds())
        pipe.execute()
    except (redis.RedisError, OSError) as exc:
        log.error("dead letter for task %s not stored: %s: %s", task_id, type(exc).__name__, exc)


def install() -> None:
    """Connect the hook (idempotent: Celery keys receivers by function)."""
    signals.task_failure.connect(_on_failure, weak=False)
