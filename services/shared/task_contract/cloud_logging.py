"""JSON log lines on stdout that Cloud Logging parses into structured entries.

Cloud Run forwards each stdout line that is a JSON object as ``jsonPayload`` and
lifts the special fields out of it: ``severity``, ``message``, ``time`` and
``httpRequest`` (https://cloud.google.com/logging/docs/structured-logging).
``stack_trace`` is one of the fields Error Reporting reads exceptions from.

Both services call :func:`configure_logging` once at startup: the API before
uvicorn starts, the worker from Celery's ``setup_logging`` signal.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Final

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# Loggers that install their own handlers; they must propagate to root instead,
# or their lines would bypass the JSON formatter.
_SELF_HANDLING_LOGGERS: Final = ("uvicorn", "uvicorn.error", "uvicorn.access", "celery", "celery.task")


def severity(levelno: int) -> str:
    """Cloud Logging's LogSeverity name for a Python level number (custom levels round down)."""
    for name, number in (
        ("CRITICAL", logging.CRITICAL),
        ("ERROR", logging.ERROR),
        ("WARNING", logging.WARNING),
        ("INFO", logging.INFO),
        ("DEBUG", logging.DEBUG),
    ):
        if levelno >= number:
            return name
    return "DEFAULT"


# Cloud Logging groups entries of one trace by this field: projects/<project>/traces/<trace id>.
TRACE_FIELD: Final = "logging.googleapis.com/trace"
_CLOUD_TRACE = re.compile(r"^([0-9a-fA-F]{32})(?:/|$)")
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")

# Fields added to every line logged while they are bound: the request's trace (API), the
# running task's id and name (worker). A ContextVar, so concurrent requests and threads never mix.
_context: ContextVar[dict[str, str] | None] = ContextVar("cloudrun_celery_log_context", default=None)


@contextmanager
def log_fields(**fields: str) -> Iterator[None]:
    """Add ``fields`` to every log line of this context (request, task) until it ends."""
    token = _context.set({**(_context.get() or {}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def context_fields() -> dict[str, str]:
    """The fields ``log_fields`` bound for this context (e.g. the request's trace)."""
    return dict(_context.get() or {})


def trace_name(cloud_trace_context: str | None, traceparent: str | None, project: str | None = None) -> str | None:
    """``projects/<project>/traces/<id>`` from ``X-Cloud-Trace-Context`` or W3C ``traceparent``.

    The project comes from GOOGLE_CLOUD_PROJECT (set by the Pulumi program); without it, or
    without a well-formed header, there is no trace to name.
    """
    project = project if project is not None else os.environ.get("GOOGLE_CLOUD_PROJECT")
    if not project:
        return None
    for header, pattern in ((cloud_trace_context, _CLOUD_TRACE), (traceparent, _TRACEPARENT)):
        match = pattern.match(header.strip()) if header else None
        if match:
            return f"projects/{project}/traces/{match.group(1).lower()}"
    return None


class CloudLoggingFormatter(JsonFormatter):
    """One JSON object per record: severity, message, logger, time, stack_trace and any ``extra``."""

    def __init__(self) -> None:
        super().__init__(
            ["message", "name"],
            rename_fields={"name": "logger", "exc_info": "stack_trace"},
            timestamp="time",
            # uvicorn adds an ANSI-coloured copy of each message; the plain one is enough.
            reserved_attrs=[*RESERVED_ATTRS, "color_message"],
        )

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        log_data["severity"] = severity(record.levelno)
        super().add_fields(log_data, record, message_dict)
        for key, value in (_context.get() or {}).items():
            log_data.setdefault(key, value)
        if record.name == "uvicorn.access":
            request = access_log_request(record)
            if request is not None:
                log_data["httpRequest"] = request


def access_log_request(record: logging.LogRecord) -> dict[str, Any] | None:
    """uvicorn's access record args, ``(client, method, path, http_version, status)``, as an httpRequest."""
    args = record.args
    if not isinstance(args, tuple) or len(args) != 5:
        return None
    client, method, path, http_version, status = args
    request: dict[str, Any] = {
        "requestMethod": str(method),
        "requestUrl": str(path),
        "protocol": f"HTTP/{http_version}",
        "status": status if isinstance(status, int) else None,
    }
    if isinstance(client, str) and client:
        # uvicorn formats the peer as "host:port".
        request["remoteIp"] = client.rsplit(":", 1)[0]
    return request


def configure_logging(level: str = "INFO") -> None:
    """Send every log record, the root logger's and uvicorn's/Celery's, to stdout as JSON lines.

    Safe to call more than once: it replaces the handlers it finds on the root logger.
    Raises ValueError for a level that is not one of ``LEVELS`` (LOG_LEVEL names it).
    """
    name = level.strip().upper()
    if name not in LEVELS:
        raise ValueError(f"LOG_LEVEL={level!r} is not a log level; use one of {', '.join(LEVELS)}")
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(CloudLoggingFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(name)
    for logger_name in _SELF_HANDLING_LOGGERS:
        logger = logging.getLogger(logger_name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    logging.captureWarnings(True)
