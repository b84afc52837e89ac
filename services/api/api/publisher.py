"""Publish a validated payload to its task's queue, by task name."""

from __future__ import annotations

import contextlib
from typing import Any

from task_contract import TaskSpec

from api.broker import BROKER_ERRORS, Broker
from api.task_status import forget_submitted, record_submitted


def publish(broker: Broker, spec: TaskSpec, kwargs: dict[str, Any], task_id: str) -> None:
    """Record the id, then publish once: ``retry=False`` so a down broker fails now, not after Celery's retries.

    Blocking; call it through ``Broker.run``.
    """
    record_submitted(broker.results_redis, task_id, spec.name, broker.settings.result_ttl_seconds)
    try:
        broker.celery.send_task(spec.name, kwargs=kwargs, queue=spec.queue, task_id=task_id, retry=False)
    except BaseException:
        # Redis is probably down too; then the record just expires.
        with contextlib.suppress(*BROKER_ERRORS):
            forget_submitted(broker.results_redis, task_id)
        raise
