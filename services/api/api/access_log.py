"""One log line per enqueue: the task fields ride on uvicorn's access-log line.

The access log has no task id, so the API used to log a second INFO line per submission to
tie the request to the task the worker logs. JSON logging is a measurable share of an
enqueue's CPU (benchmark (a)), so the route instead notes the task fields here, and a filter
on ``uvicorn.access`` adds them to that request's access line: ``task_id``, ``task``,
``queue``, ``api_key_id`` and ``submission`` (``submitted`` or ``replayed``).

uvicorn runs each request in its own asyncio task and logs the access line from that task,
after the endpoint returned, so a ContextVar set in the endpoint is visible there and never
leaks into another request.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Final

ACCESS_LOGGER: Final = "uvicorn.access"

_fields: ContextVar[dict[str, str] | None] = ContextVar("cloudrun_celery_access_log_fields", default=None)


def note(**fields: str) -> None:
    """Fields to add to this request's access-log line."""
    _fields.set(fields)


class TaskFields(logging.Filter):
    """Adds the fields the request noted (if any) to its access-log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = _fields.get()
        if fields:
            record.__dict__.update(fields)
        return True


def install(logger_name: str = ACCESS_LOGGER) -> None:
    """Attach the filter once (``create_app`` may run several times in a process)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(existing, TaskFields) for existing in logger.filters):
        logger.addFilter(TaskFields())
