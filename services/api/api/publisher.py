"""Submit a validated payload: claim its Idempotency-Key, record its id, publish it to its task's queue.

Round trips to Redis (the result backend being the broker's Redis, the usual set-up):

- no Idempotency-Key: one, a pipeline that records the submitted id (``task_status``) and
  LPUSHes the message Celery would have published (``celery_message``);
- with a key: the claim first (SET NX + GET in one pipeline, it decides whether to publish),
  then that pipeline. A failed publish gives the key up again, to its end even if the
  request stopped waiting (``Broker.in_background``).

With a separate result-backend Redis the record and the LPUSH are two round trips, and a
failed LPUSH forgets the record again.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from typing import Any

from task_contract import TaskSpec

from api import idempotency
from api.broker import Broker
from api.task_status import forget_submitted, submitted_key


@dataclass(frozen=True)
class IdempotencyClaim:
    storage_key: str
    window_seconds: int


async def submit(broker: Broker, spec: TaskSpec, kwargs: dict[str, Any], claim: IdempotencyClaim | None) -> idempotency.Claim:
    """Publish the task under a new id, or return the task an earlier submit with the same key published.

    Call it through ``Broker.call`` (the deadline and the mapping of Redis errors to 503).
    """
    task_id = str(uuid.uuid4())
    if claim is None:
        await publish(broker, spec, kwargs, task_id)
        return idempotency.Claim(task_id=task_id, replayed=False)
    held = await idempotency.claim(
        broker.results_client, claim.storage_key, task_id, idempotency.fingerprint(spec.name, kwargs), claim.window_seconds
    )
    if held.replayed:
        return held
    try:
        await publish(broker, spec, kwargs, task_id)
    except BaseException as exc:
        # Give the key up so the client's retry publishes; with Redis down this fails
        # too, and the retry gets this (unpublished) id until the window ends.
        release = broker.in_background(
            lambda: idempotency.release(broker.results_client, claim.storage_key, task_id), "idempotency key release"
        )
        if not isinstance(exc, asyncio.CancelledError):
            # Answer after the release (the client's immediate retry must find the key free);
            # shielded: if the deadline cancels this wait, the release still finishes.
            with contextlib.suppress(Exception):
                await asyncio.shield(release)
        raise
    return idempotency.Claim(task_id=task_id, replayed=False)


async def publish(broker: Broker, spec: TaskSpec, kwargs: dict[str, Any], task_id: str) -> None:
    """Record the id and LPUSH the task's message; one pipeline when results and broker share a Redis."""
    queue_list, message = broker.messages.build(spec.name, kwargs, spec.queue, task_id)
    record = (submitted_key(task_id), spec.name)
    ttl = broker.settings.result_ttl_seconds
    if broker.shared:
        # A plain pipeline: one round trip, and cheaper to parse than MULTI/EXEC. Should the
        # LPUSH fail after the SET, the client gets a 503 and the record of an id nobody has
        # just expires.
        pipe = broker.broker_client.pipeline(transaction=False)
        pipe.set(*record, ex=ttl)
        pipe.lpush(queue_list, message)
        await pipe.execute()
        return
    await broker.results_client.set(*record, ex=ttl)
    try:
        await broker.broker_client.lpush(queue_list, message)
    except BaseException:
        # Redis is probably down too; then the record just expires.
        broker.in_background(lambda: forget_submitted(broker.results_client, task_id), "forget submitted id")
        raise

