"""One log line per enqueue: the task fields ride on uvicorn's access-log line.

The access log has no task id, so the API used to log a second INFO line per submission to
tie the request to the task the worker logs. JSON logging is a measurable share of an
enqueue's CPU (benchmark (a)), so the route instead notes the task fields here, and a filter
on ``uvicorn.access`` adds them to that request's access line: ``task_id``, ``task``,
``queue``, ``api_key_id`` and ``submission`` (``submitted`` or ``replayed``).

uvicorn runs each request in its own asyncio task and logs the access line from that task,
after the endpoint returned, so a ContextVar set in the endpoint is visible there and never
leaks into another request.

The access line has its own handler and a lean formatter (``AccessLineFormatter``): the same
JSON entry ``task_contract.cloud_logging`` writes, written field by field with json's own string
encoder instead of python-json-logger's generic field walk, the largest part of the log's cost per
request.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
import math
import time
from collections.abc import Callable
from typing import Any, Final

from task_contract.cloud_logging import access_log_request, context_fields, severity

ACCESS_LOGGER: Final = "uvicorn.access"

_fields: ContextVar[dict[str, str] | None] = ContextVar("cloudrun_celery_access_log_fields", default=None)


def note(**fields: str) -> None:
    """Fields to add to this request's access-log line."""
    _fields.set(fields)


# json.dumps's own string encoder (ensure_ascii, the default): the line is what json.dumps would write.
_quote: Callable[[str], str] = json.encoder.encode_basestring_ascii


class AccessLineFormatter(logging.Formatter):
    """uvicorn's access record as Cloud Logging JSON: severity, message, logger, the noted fields, time, httpRequest.

    Written field by field with json's own string encoder rather than building a dict for
    ``json.dumps``: the same bytes (``tests/api/test_cloud_logging.py`` compares), a third of
    the cost.
    """

    def format(self, record: logging.LogRecord) -> str:
        parts = [
            '{"severity": ', _quote(severity(record.levelno)),
            ', "message": ', _quote(record.getMessage()),
            ', "logger": ', _quote(record.name),
        ]
        extra = dict(_fields.get() or {})
        # The request's trace (api.trace_context), as on every other line of the request.
        for key, value in context_fields().items():
            extra.setdefault(key, value)
        for key, value in extra.items():
            parts += (", ", _quote(key), ": ", _quote(value))
        parts += (', "time": "', _iso_time(record.created), '"')
        request = access_log_request(record)
        if request is not None:
            parts.append(', "httpRequest": {')
            parts.append(", ".join(f"{_quote(key)}: {_json_value(value)}" for key, value in request.items()))
            parts.append("}")
        parts.append("}")
        return "".join(parts)


def _json_value(value: Any) -> str:
    if isinstance(value, str):
        return _quote(value)
    if value is None:
        return "null"
    if type(value) is int:
        return str(value)
    return json.dumps(value)


_second: list[Any] = [None, ""]  # the last whole second and its text: one strftime a second


def _iso_time(created: float) -> str:
    """``datetime.fromtimestamp(created, UTC).isoformat()``, the seconds' text cached (same rounding)."""
    fraction, whole = math.modf(created)
    micros = round(fraction * 1e6)
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    elif micros < 0:
        whole, micros = whole - 1, micros + 1_000_000
    if _second[0] != whole:
        _second[:] = [whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))]
    return f"{_second[1]}.{micros:06d}+00:00" if micros else f"{_second[1]}+00:00"


def install(logger_name: str = ACCESS_LOGGER) -> None:
    """Give the access logger its own stdout handler with ``AccessLineFormatter`` (after ``configure_logging``).

    It no longer propagates to the root's JSON handler; its level still follows LOG_LEVEL
    (the logger's own level is unset). Idempotent: ``create_app`` may run several times.
    """
    logger = logging.getLogger(logger_name)
    for old in [h for h in logger.handlers if isinstance(h.formatter, AccessLineFormatter)]:
        logger.removeHandler(old)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(AccessLineFormatter())
    logger.addHandler(handler)
    logger.propagate = False
    # No JSON line of the API names the caller's frame, thread or process: skip collecting them
    # per record (the "Optimization" settings of Python's logging documentation).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
