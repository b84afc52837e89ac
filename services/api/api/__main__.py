"""``python -m api``: the container entrypoint. uvicorn on 0.0.0.0:$PORT, JSON logs, WEB_CONCURRENCY processes.

One process (WEB_CONCURRENCY=1, the default): uvicorn handles SIGTERM: it stops accepting
connections, finishes in-flight requests (up to 8 s, inside Cloud Run's 10 s before SIGKILL),
then re-raises the signal to the handler that was installed before it: ours, which exits 0
(a graceful stop, not a kill).

More (the stack sets WEB_CONCURRENCY from the service's CPU limit): uvicorn's own supervisor
runs that many serving processes on one socket, each building the app with ``serving_app``.
On SIGTERM it sends SIGTERM to each, and each stops as above (8 s at most); the supervisor
exits once all have. It also restarts a serving process that dies.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType
from typing import Final

import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError
from task_contract import BrokerSettings
from task_contract.cloud_logging import configure_logging

from api.core.config import ApiSettings
from api.main import create_app

GRACEFUL_SHUTDOWN_SECONDS = 8
# The server stack: libuv's event loop and the httptools parser (pinned in requirements.txt), named
# rather than left to uvicorn's "auto" so that a missing speed-up fails at start instead of silently
# falling back to asyncio + h11. benchmarks/fixtures/bare_api.py serves its baseline with the same.
SERVER_LOOP: Final = "uvloop"
SERVER_HTTP: Final = "httptools"


def settings_error(exc: ValidationError) -> str:
    lines = [f"cannot start the API: invalid configuration ({exc.error_count()} problem(s))"]
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in error["loc"]).upper()
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"  {where + ': ' if where else ''}{message}")
    return "\n".join(lines)


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    sys.exit(0)


def serving_app() -> FastAPI:
    """The app of one serving process, from the environment (a uvicorn factory: ``api.__main__:serving_app``)."""
    settings = ApiSettings()
    configure_logging(settings.log_level)
    return create_app(settings, BrokerSettings())


def main() -> None:
    try:
        settings = ApiSettings()
        broker_settings = BrokerSettings()
    except ValidationError as exc:
        sys.exit(settings_error(exc))
    configure_logging(settings.log_level)
    signal.signal(signal.SIGTERM, _exit_cleanly)
    served: FastAPI | str = "api.__main__:serving_app"
    if settings.web_concurrency == 1:
        served = create_app(settings, broker_settings)
    uvicorn.run(
        served,
        factory=settings.web_concurrency > 1,
        workers=settings.web_concurrency,
        host="0.0.0.0",
        port=settings.port,
        log_config=None,  # keep configure_logging's JSON handler; uvicorn's loggers propagate to it
        access_log=True,
        proxy_headers=True,
        forwarded_allow_ips="*",  # only Cloud Run's front end can reach the container
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        loop=SERVER_LOOP,
        http=SERVER_HTTP,
    )


if __name__ == "__main__":
    main()
