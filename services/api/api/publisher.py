"""Submit a validated payload: claim its Idempotency-Key, record its id, publish it to its task's queue.

The whole submission is one blocking function, run through ``Broker.run``: if the API stops
waiting for it (deadline), the thread still finishes its own clean-up (releasing the key after
a failed publish) within the Redis socket timeouts.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from typing import Any

from task_contract import TaskSpec

from api import idempotency
from api.broker import BROKER_ERRORS, Broker
from api.task_status import forget_submitted, record_submitted


@dataclass(frozen=True)
class IdempotencyClaim:
    storage_key: str
    window_seconds: int


def submit(broker: Broker, spec: TaskSpec, kwargs: dict[str, Any], claim: IdempotencyClaim | None) -> idempotency.Claim:
    """Publish the task under a new id, or return the task an earlier submit with the same key published."""
    # uuid4 reads os.urandom, a syscall: here, in the worker thread, not on the event loop.
    task_id = str(uuid.uuid4())
    if claim is not None:
        held = idempotency.claim(
            broker.results_redis,
            claim.storage_key,
            task_id,
            idempotency.fingerprint(spec.name, kwargs),
            claim.window_seconds,
        )
        if held.replayed:
            return held
    try:
        publish(broker, spec, kwargs, task_id)
    except BaseException:
        if claim is not None:
            # Give the key up so the client's retry publishes; with Redis down this fails
            # too, and the retry gets this (unpublished) id until the window ends.
            with contextlib.suppress(*BROKER_ERRORS):
                idempotency.release(broker.results_redis, claim.storage_key, task_id)
        raise
    return idempotency.Claim(task_id=task_id, replayed=False)


def publish(broker: Broker, spec: TaskSpec, kwargs: dict[str, Any], task_id: str) -> None:
    """Record the id, then publish once: ``retry=False`` so a down broker fails now, not after Celery's retries."""
    record_submitted(broker.results_redis, task_id, spec.name, broker.settings.result_ttl_seconds)
    try:
        broker.celery.send_task(spec.name, kwargs=kwargs, queue=spec.queue, task_id=task_id, retry=False)
    except BaseException:
        # Redis is probably down too; then the record just expires.
        with contextlib.suppress(*BROKER_ERRORS):
            forget_submitted(broker.results_redis, task_id)
        raise
