"""Beat's ``/healthz`` on ``$PORT``, the signal for the beat pool's Cloud Run probes (docs/schedules.md).

Same meaning as the worker's (worker.health): ``200`` while beat can do its job, ``503`` otherwise.

- A daemon thread pings the broker's Redis every ``PING_INTERVAL_SECONDS`` with a short socket
  timeout. No successful ping for ``REDIS_STALE_SECONDS``: ``503`` (Redis gone, hung, or
  unreachable), so a frozen Redis turns the answer within about ``REDIS_STALE_SECONDS + 1`` s.
- The lock holder must also have ticked within ``TICK_STALE_SECONDS``: its loop wakes at least every
  ``MAX_LOOP_INTERVAL_SECONDS`` (worker.beat), so a longer silence means its main thread is stuck.
- A standby (waiting for the lock another beat holds) answers ``200`` with ``"role": "standby"``:
  waiting is its job, and a restart would not make it fire sooner.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any, Final

import redis
from redbeat import RedBeatScheduler  # type: ignore[import-untyped]
from task_contract import BrokerSettings

from worker.health import HealthHandler

logger = logging.getLogger(__name__)

PING_INTERVAL_SECONDS: Final = 1.0
PING_TIMEOUT_SECONDS: Final = 1.0
REDIS_STALE_SECONDS: Final = 3.0
TICK_STALE_SECONDS: Final = 30.0


@dataclass
class BeatHealth:
    """What beat's /healthz reports. Written by the beat and ping threads, read by the HTTP threads."""

    last_ping_ok: float | None = None
    ping_error: str = "not pinged Redis yet"
    last_tick: float | None = None
    clock: Any = time.monotonic
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def pinged(self, error: str | None) -> None:
        with self._lock:
            if error is None:
                self.last_ping_ok = self.clock()
            else:
                self.ping_error = error

    def ticked(self) -> None:
        with self._lock:
            self.last_tick = self.clock()

    def report(self) -> tuple[int, dict[str, Any]]:
        with self._lock:
            now = self.clock()
            role = "standby" if self.last_tick is None else "holder"
            if self.last_ping_ok is None or now - self.last_ping_ok > REDIS_STALE_SECONDS:
                since = "" if self.last_ping_ok is None else f" for {now - self.last_ping_ok:.0f}s"
                return 503, {"status": "unhealthy", "role": role, "reason": f"cannot reach Redis{since}: {self.ping_error}"}
            if self.last_tick is not None and now - self.last_tick > TICK_STALE_SECONDS:
                reason = f"the beat loop has not ticked for {now - self.last_tick:.0f}s"
                return 503, {"status": "unhealthy", "role": role, "reason": reason}
            if role == "standby":
                return 200, {"status": "ok", "role": role, "reason": "waiting for the lock another beat holds"}
            return 200, {"status": "ok", "role": role}


class MonitoredRedBeatScheduler(RedBeatScheduler):  # type: ignore[misc]
    """celery-redbeat's scheduler, recording each tick. It ticks only once it holds the lock."""

    def tick(self, *args: Any, **kwargs: Any) -> float:
        interval = float(super().tick(*args, **kwargs))
        health: BeatHealth | None = getattr(self.app, "beat_health", None)  # set by serve_health
        if health is not None:
            health.ticked()
        return interval


def _ping_forever(client: redis.Redis, health: BeatHealth) -> None:
    while True:
        try:
            client.ping()
            health.pinged(None)
        except (redis.RedisError, OSError) as exc:
            health.pinged(f"{type(exc).__name__}: {exc}")
        time.sleep(PING_INTERVAL_SECONDS)


def serve_health(app: Any, broker: BrokerSettings, port: int) -> ThreadingHTTPServer:
    """Start the ping thread and the HTTP server (daemon threads, for beat's lifetime)."""
    health = BeatHealth()
    app.beat_health = health
    options: dict[str, Any] = {"socket_timeout": PING_TIMEOUT_SECONDS, "socket_connect_timeout": PING_TIMEOUT_SECONDS}
    if broker.redis_ca_file is not None:
        options["ssl_ca_certs"] = str(broker.redis_ca_file)
    client = redis.Redis.from_url(broker.redis_url, **options)
    threading.Thread(target=_ping_forever, args=(client, health), name="beat-redis-ping", daemon=True).start()
    handler = type("BeatHealthHandler", (HealthHandler,), {"report": staticmethod(health.report)})
    try:
        server = ThreadingHTTPServer(("0.0.0.0", port), handler)
    except OSError as exc:
        raise RuntimeError(f"cannot serve beat's health endpoint on PORT={port}: {exc}; choose a free port") from exc
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="beat-health-server", daemon=True).start()
    logger.info("beat health endpoint on port %d (/healthz)", port)
    return server
