"""The work ledger: the one number queue-depth autoscaling reads for a queue.

A Redis sorted set per queue, ``cloudrun-celery:work:<queue>``, whose members are the ids of
the queue's tasks that are not finished: waiting in any of kombu's priority lists, reserved or
running on a worker, or waiting for a retry. Its ``ZCARD`` is the autoscaler's signal
(docs/scaling.md): KEDA's Redis scaler reads a sorted set's length with ``ZCARD``.

- The API adds the id in the same Lua script that publishes the message (never after: a worker
  could finish the task before the add, and the member would leak).
- The worker adds it again when it receives the message (idempotent; covers tasks published
  without the API, e.g. a retry or a ``send_task`` from a script) and removes it when the task
  reaches a final state (``FINAL_STATES``) or is revoked. A retry keeps it.
- The score is the time the member was last touched (Unix seconds). ``sweep`` drops members
  whose result is final (the worker died between storing the result and the removal) and
  members untouched for longer than a horizon (an early-ack task whose worker was killed).

No dependencies: the Pulumi program (the scaler's key), the API and the worker import it.
Callers pass their own Redis client.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, Final

LEDGER_KEY_PREFIX: Final = "cloudrun-celery:work:"
# Celery's READY_STATES: a task in one of these never runs again from this message.
FINAL_STATES: Final = frozenset({"SUCCESS", "FAILURE", "REVOKED"})
# Members looked at per sweep: bounds one sweep's work on a large ledger.
SWEEP_BATCH: Final = 500


def ledger_key(queue: str) -> str:
    """The sorted set that counts ``queue``'s unfinished tasks."""
    return f"{LEDGER_KEY_PREFIX}{queue}"


def touch(client: Any, queue: str, task_id: str, now: float) -> None:
    """Add ``task_id`` to ``queue``'s ledger, or refresh its score (idempotent)."""
    client.zadd(ledger_key(queue), {task_id: now})


def finish(client: Any, queue: str, task_id: str) -> None:
    """Remove ``task_id``: it reached a final state and will not run again from this message."""
    client.zrem(ledger_key(queue), task_id)


def result_status(raw: bytes | str | None) -> str | None:
    """The ``status`` of a stored Celery result (JSON), or None if there is none or it is unreadable."""
    if raw is None:
        return None
    try:
        meta = json.loads(raw)
    except ValueError:
        return None
    status = meta.get("status") if isinstance(meta, dict) else None
    return status if isinstance(status, str) else None


def sweep(
    client: Any,
    queue: str,
    now: float,
    *,
    min_age_seconds: float,
    horizon_seconds: float,
    stored_results: Callable[[list[str]], Iterable[bytes | str | None]],
) -> list[str]:
    """Drop leaked members of ``queue``'s ledger; returns the ids dropped.

    Looks at up to ``SWEEP_BATCH`` members untouched for ``min_age_seconds``:
    ``stored_results(ids)`` gives each one's stored Celery result (or None); a final status
    means the worker died after storing it and before ``finish``. Members untouched for
    ``horizon_seconds`` (longer than any task may run plus its visibility timeout) are dropped
    too: their message was consumed early-ack by a worker that was killed, and nothing will
    touch them again.
    """
    key = ledger_key(queue)
    stale = client.zrangebyscore(key, "-inf", now - min_age_seconds, start=0, num=SWEEP_BATCH, withscores=True)
    if not stale:
        return []
    ids = [member.decode() if isinstance(member, bytes) else str(member) for member, _ in stale]
    statuses = [result_status(raw) for raw in stored_results(ids)]
    dropped = [
        task_id
        for task_id, (_, score), status in zip(ids, stale, statuses, strict=True)
        if status in FINAL_STATES or score <= now - horizon_seconds
    ]
    if dropped:
        client.zrem(key, *dropped)
    return dropped


def count_publishes(client: Any, clock: Callable[[], float]) -> Callable[[], None]:
    """Make this process's Celery publishers (a script's ``send_task``, a priority task: anything
    published outside the API) add each task to its queue's ledger before sending, as the API does.

    Before, not after: a worker could otherwise finish the task first and the add would leak.
    Returns the function that stops it (a process that outlives ``client``'s Redis, e.g. a test run).
    """
    from celery import signals  # type: ignore[import-untyped,unused-ignore]  # only Celery publishers need it

    def before_publish(sender: Any = None, headers: Any = None, routing_key: Any = None, **_: Any) -> None:
        task_id = (headers or {}).get("id")
        if task_id and routing_key:
            touch(client, str(routing_key), str(task_id), clock())

    signals.before_task_publish.connect(before_publish, weak=False)

    def stop() -> None:
        signals.before_task_publish.disconnect(before_publish)

    return stop
