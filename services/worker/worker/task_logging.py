"""A task's log lines carry its ``task_id`` and ``task``, the id the API returned and logged.

So one task can be followed from the API's enqueue line to every line the worker logs while
running it (Cloud Logging: ``jsonPayload.task_id="..."``).
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from celery import signals
from task_contract.cloud_logging import log_fields

# One open context per running task id; prerun and postrun fire in the process/thread running it.
_open: dict[str, ExitStack] = {}


def _bind(task_id: str = "", task: Any = None, **_: Any) -> None:
    stack = ExitStack()
    stack.enter_context(log_fields(task_id=task_id, task=str(getattr(task, "name", "") or "")))
    _open[task_id] = stack


def _unbind(task_id: str = "", **_: Any) -> None:
    stack = _open.pop(task_id, None)
    if stack is not None:
        stack.close()


signals.task_prerun.connect(_bind, weak=False)
signals.task_postrun.connect(_unbind, weak=False)
