"""The worker's HTTP endpoint on $PORT: ``/healthz`` (consuming or not) and ``/metrics``.

Cloud Run runs the worker as a service, so it must listen on ``$PORT``, and its startup probe asks
``/healthz``. The answer is ``200`` only while the consumer has a broker connection, consumes its
queues and its event loop is turning; ``503`` otherwise (starting, reconnecting, shutting down).

Two bootsteps share one :class:`ConsumerHealth`:

- :class:`HealthServer` (worker blueprint) serves HTTP from a daemon thread. It starts after the
  pool, so prefork children are not forked holding its threads.
- :class:`ConsumingProbe` (consumer blueprint) marks the consumer consuming once the task consumer
  has started, and not consuming when Celery stops the consumer: on a connection loss Celery
  restarts the consumer blueprint, which stops every step first. It also ticks on the event loop,
  so a wedged loop turns the answer to 503 within ``STALE_AFTER_SECONDS``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

from celery import bootsteps
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from worker.metrics import WorkerMetrics

logger = logging.getLogger(__name__)

TICK_SECONDS: Final = 1.0
# The event loop must have ticked this recently; it can be busy for a while with a burst of messages.
STALE_AFTER_SECONDS: Final = 15.0


@dataclass
class ConsumerHealth:
    """What /healthz reports. Written by the consumer thread, read by the HTTP threads."""

    consuming: bool = False
    queues: tuple[str, ...] = ()
    reason: str = "starting: not connected to the broker yet"
    last_tick: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def started(self, queues: tuple[str, ...]) -> None:
        with self._lock:
            self.consuming, self.queues, self.reason = True, queues, ""
            self.last_tick = time.monotonic()

    def stopped(self, reason: str) -> None:
        with self._lock:
            self.consuming, self.reason = False, reason

    def tick(self) -> None:
        self.last_tick = time.monotonic()

    def report(self) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if not self.consuming:
                return 503, {"status": "not consuming", "reason": self.reason}
            age = time.monotonic() - self.last_tick
            if age > STALE_AFTER_SECONDS:
                return 503, {"status": "not consuming", "reason": f"event loop stalled for {age:.0f}s"}
            return 200, {"status": "consuming", "queues": list(self.queues)}


class HealthHandler(BaseHTTPRequestHandler):
    """/healthz from ``report()`` and /metrics from ``metrics()``, both set on a subclass per server."""

    @staticmethod
    def report() -> tuple[int, dict[str, Any]]:
        raise NotImplementedError

    @staticmethod
    def metrics() -> bytes:
        return bytes(generate_latest())

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            status, body = self.report()
            self._send(status, "application/json", json.dumps(body).encode())
        elif path == "/metrics":
            self._send(200, CONTENT_TYPE_LATEST, self.metrics())
        else:
            self._send(404, "application/json", b'{"detail": "not found; try /healthz or /metrics"}')

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # Probes every few seconds would drown the task logs.
        pass


def _bind_host() -> str:
    # A supervised process answers its supervisor on loopback; the supervisor serves $PORT.
    from worker.supervisor import CHILD_ENV

    return "127.0.0.1" if os.environ.get(CHILD_ENV) else "0.0.0.0"


def _health_of(app: Any) -> ConsumerHealth:
    health = getattr(app, "consumer_health", None)
    if health is None:
        health = ConsumerHealth()
        app.consumer_health = health
    return health


class HealthServer(bootsteps.StartStopStep):  # type: ignore[misc]
    """Serves /healthz and /metrics on ``app.conf.health_port`` for the worker's lifetime."""

    label = "health server"
    requires = ("celery.worker.components:Pool",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.server: ThreadingHTTPServer | None = None

    def start(self, parent: Any) -> None:
        port = int(parent.app.conf.health_port)
        health = _health_of(parent.app)
        metrics = WorkerMetrics.for_app(parent.app, health)
        handler = type(
            "ConsumerHealthHandler",
            (HealthHandler,),
            {"report": staticmethod(health.report), "metrics": staticmethod(metrics.render)},
        )
        try:
            self.server = ThreadingHTTPServer((_bind_host(), port), handler)
        except OSError as exc:
            raise RuntimeError(f"cannot serve the health endpoint on PORT={port}: {exc}; choose a free port") from exc
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="health-server", daemon=True).start()
        conf = parent.app.conf
        logger.info(
            "health endpoint on port %d (/healthz, /metrics); pool %s, concurrency %s",
            port, getattr(parent.pool_cls, "__module__", "") + "." + getattr(parent.pool_cls, "__name__", "?"),
            conf.worker_concurrency,
        )

    def stop(self, parent: Any) -> None:
        _health_of(parent.app).stopped("shutting down")
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    terminate = stop


class ConsumingProbe(bootsteps.StartStopStep):  # type: ignore[misc]
    """Marks the consumer consuming after the task consumer starts; not consuming when it stops."""

    label = "consuming probe"
    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.tref: Any = None

    def start(self, c: Any) -> None:
        health = _health_of(c.app)
        queues = tuple(queue.name for queue in c.task_consumer.queues)
        health.started(queues)
        # The hub runs the consumer's event loop; a timer that stops firing means it stalled.
        timer = c.hub if c.hub is not None else c.timer
        self.tref = timer.call_repeatedly(TICK_SECONDS, health.tick)
        logger.info("consuming from %s", ", ".join(queues))

    def stop(self, c: Any) -> None:
        reason = "shutting down" if _shutting_down() else "broker connection lost; reconnecting"
        _health_of(c.app).stopped(reason)
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None

    def shutdown(self, c: Any) -> None:
        self.stop(c)


def _shutting_down() -> bool:
    from celery.worker import state

    return bool(state.should_stop or state.should_terminate)
