"""task_contract.cloud_logging: one JSON object per line, in Cloud Logging's field names."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextvars import copy_context
from datetime import UTC, datetime

import pytest
from api import access_log
from task_contract.cloud_logging import TRACE_FIELD, access_log_request, configure_logging, log_fields, severity


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_records_are_json_lines_with_severity_message_logger_time(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info")
    logging.getLogger("api.test").info("submitted %s", "add", extra={"task_id": "t-1"})
    logging.getLogger("api.test").debug("below the level")
    [line] = _lines(capsys)
    assert line["severity"] == "INFO"
    assert line["message"] == "submitted add"
    assert line["logger"] == "api.test"
    assert line["task_id"] == "t-1"
    assert str(line["time"]).endswith("+00:00")


def test_exceptions_carry_the_stack_trace_as_error(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging()
    try:
        raise RuntimeError("broker exploded")
    except RuntimeError:
        logging.getLogger("x").exception("publish failed")
    [line] = _lines(capsys)
    assert line["severity"] == "ERROR"
    assert "RuntimeError: broker exploded" in str(line["stack_trace"])


def test_uvicorn_loggers_propagate_to_the_json_handler(capsys: pytest.CaptureFixture[str]) -> None:
    access = logging.getLogger("uvicorn.access")
    access.addHandler(logging.StreamHandler(sys.stdout))  # what uvicorn's own config does
    access.propagate = False
    configure_logging("INFO")
    access.info('%s - "%s %s HTTP/%s" %d', "10.0.0.7:5123", "POST", "/v1/tasks/add", "1.1", 202)
    [line] = _lines(capsys)
    assert line["logger"] == "uvicorn.access"
    assert line["httpRequest"] == {
        "requestMethod": "POST",
        "requestUrl": "/v1/tasks/add",
        "protocol": "HTTP/1.1",
        "status": 202,
        "remoteIp": "10.0.0.7",
    }


def test_calling_twice_does_not_duplicate_lines(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    configure_logging("WARNING")
    logging.getLogger("x").info("hidden")
    logging.getLogger("x").warning("shown")
    assert [line["message"] for line in _lines(capsys)] == ["shown"]


def test_unknown_level_names_the_choices() -> None:
    with pytest.raises(ValueError, match="LOG_LEVEL='verbose'.*DEBUG, INFO, WARNING, ERROR, CRITICAL"):
        configure_logging("verbose")


@pytest.mark.parametrize(
    ("levelno", "name"),
    [(5, "DEFAULT"), (10, "DEBUG"), (20, "INFO"), (25, "INFO"), (30, "WARNING"), (40, "ERROR"), (50, "CRITICAL")],
)
def test_severity_uses_cloud_logging_names(levelno: int, name: str) -> None:
    assert severity(levelno) == name


@pytest.mark.parametrize(
    ("args", "fields", "trace"),
    [
        (("10.0.0.7:5123", "POST", "/v1/tasks/add", "1.1", 202), {"task_id": "t-1", "task": "add"}, None),
        (("10.0.0.7:5123", "POST", '/v1/tasks/"odd\\path\u00e9?x=%s', "1.1", 422), {}, "projects/p/traces/abc"),
        (("", "GET", "/healthz", "2", "200"), {"submission": "replayed \u2713"}, "projects/p/traces/def"),
        (("only", "three", "args"), {}, None),
    ],
)
def test_the_access_line_is_what_json_dumps_writes(
    args: tuple[object, ...], fields: dict[str, str], trace: str | None
) -> None:
    """AccessLineFormatter writes field by field; the bytes must be json.dumps of the documented entry."""
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, " ".join(["%s"] * len(args)), args, None)

    def format_in_request() -> str:
        with log_fields(**({TRACE_FIELD: trace} if trace else {})):
            access_log.note(**fields)
            return access_log.AccessLineFormatter().format(record)

    line = copy_context().run(format_in_request)  # the noted fields stay in that copy
    entry: dict[str, object] = {"severity": "INFO", "message": record.getMessage(), "logger": "uvicorn.access",
                                **fields, **({TRACE_FIELD: trace} if trace else {}),
                                "time": datetime.fromtimestamp(record.created, UTC).isoformat()}
    request = access_log_request(record)
    if request is not None:
        entry["httpRequest"] = request
    assert line == json.dumps(entry)


@pytest.mark.parametrize(
    "created",
    [0.0, 1.0, 1.9999995, 1.0000005, 1764778772.31446, 1764778772.9999996, 1764778772.0000004, 2**31 + 0.5e-6,
     1764778799.999999, 1764778800.0],
)
def test_the_access_line_time_is_isoformat_to_the_microsecond(created: float) -> None:
    assert access_log._iso_time(created) == datetime.fromtimestamp(created, UTC).isoformat()
