"""``python -m api``: the container entrypoint. One uvicorn process on 0.0.0.0:$PORT, JSON logs.

uvicorn handles SIGTERM: it stops accepting connections, finishes in-flight requests
(up to 8 s, inside Cloud Run's 10 s before SIGKILL), then re-raises the signal to the
handler that was installed before it: ours, which exits 0 (a graceful stop, not a kill).
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

import uvicorn
from pydantic import ValidationError
from task_contract import BrokerSettings
from task_contract.cloud_logging import configure_logging

from api.core.config import ApiSettings
from api.main import create_app

GRACEFUL_SHUTDOWN_SECONDS = 8


def settings_error(exc: ValidationError) -> str:
    lines = [f"cannot start the API: invalid configuration ({exc.error_count()} problem(s))"]
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in error["loc"]).upper()
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"  {where + ': ' if where else ''}{message}")
    return "\n".join(lines)


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    sys.exit(0)


def main() -> None:
    try:
        settings = ApiSettings()
        broker_settings = BrokerSettings()
    except ValidationError as exc:
        sys.exit(settings_error(exc))
    configure_logging(settings.log_level)
    app = create_app(settings, broker_settings)
    signal.signal(signal.SIGTERM, _exit_cleanly)
    uvicorn.run(
        app,
        host="0.0.0.0",
        port=settings.port,
        log_config=None,  # keep configure_logging's JSON handler; uvicorn's loggers propagate to it
        access_log=True,
        proxy_headers=True,
        forwarded_allow_ips="*",  # only Cloud Run's front end can reach the container
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


if __name__ == "__main__":
    main()
