"""The worker's /metrics: task counters, whether it consumes each queue, and the broker gauges.

- ``cloudrun_celery_task_executions_total{task,outcome}``, fed by Celery's task signals where the
  task runs. Under prefork that is a child process, so with ``PROMETHEUS_MULTIPROC_DIR`` set
  (Cloud Run: an in-memory volume, the image's filesystem stays read-only) every process writes
  its counters there and /metrics sums them (prometheus_client's multiprocess mode). Without it,
  only the serving process's counters exist: right for the threads pool, zero under prefork.
- ``cloudrun_celery_worker_consuming{queue}``: 1 while this worker consumes the queue.
- The broker gauges of ``task_contract.broker_metrics`` for every queue of the catalog, and the
  dead-letter count: workers are the always-on exporters of both (docs/metrics.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final, Protocol

import redis
from celery import signals
from prometheus_client import CollectorRegistry, Counter, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from task_contract import QUEUES
from task_contract import dead_letters
from task_contract.broker_metrics import BrokerCollector, DeadLettersCollector
from task_contract.deployment import METRICS_DIR_ENV
from task_contract.queues import queue_keys

MULTIPROC_DIR_ENV: Final = METRICS_DIR_ENV

# Only the counters themselves, not a *_created gauge per label set.
disable_created_metrics()  # type: ignore[no-untyped-call]

TASK_EXECUTIONS = Counter(
    "cloudrun_celery_task_executions",
    "Task executions finished by this worker, by task name and outcome (success, failure, retry).",
    ["task", "outcome"],
)


class ConsumingState(Protocol):
    """What /healthz knows (worker.health.ConsumerHealth)."""

    consuming: bool
    queues: tuple[str, ...]


def multiprocess_dir() -> Path | None:
    value = os.environ.get(MULTIPROC_DIR_ENV)
    return Path(value) if value else None


def clear_multiprocess_dir(directory: Path) -> None:
    """Forget counters of earlier runs: files left by a previous worker in the same directory."""
    if not directory.is_dir():
        raise RuntimeError(
            f"{MULTIPROC_DIR_ENV}={directory} is not a directory; mount a writable in-memory volume "
            f"there (Cloud Run: an empty_dir volume) or unset it for the threads pool"
        )
    for stale in directory.glob("*.db"):
        stale.unlink()


class ConsumingCollector(Collector):
    def __init__(self, health: ConsumingState) -> None:
        self.health = health

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "cloudrun_celery_worker_consuming",
            "1 while this worker instance consumes the queue, 0 while it is reconnecting or stopping.",
            labels=["queue"],
        )
        for queue in self.health.queues:
            family.add_metric([queue], 1 if self.health.consuming else 0)
        return [family]


class WorkerMetrics:
    """One registry per worker process, rendered by the health server on GET /metrics."""

    def __init__(
        self, health: ConsumingState, broker_url: str, backend_url: str | None = None, ca_file: str | None = None
    ) -> None:
        self.registry = CollectorRegistry()
        directory = multiprocess_dir()
        if directory is not None:
            MultiProcessCollector(self.registry, path=str(directory))  # type: ignore[no-untyped-call]
        else:
            self.registry.register(TASK_EXECUTIONS)
        self.registry.register(ConsumingCollector(health))
        # Fail fast: a hung Redis makes a scrape report broker_up 0 in about a second.
        options: dict[str, Any] = {"socket_timeout": 1.0, "socket_connect_timeout": 1.0}
        if ca_file is not None:
            options["ssl_ca_certs"] = ca_file
        client = redis.Redis.from_url(broker_url, **options)
        self.registry.register(BrokerCollector(client, {queue: queue_keys(queue) for queue in QUEUES}))
        backend = client if backend_url in (None, broker_url) else redis.Redis.from_url(backend_url, **options)
        self.registry.register(DeadLettersCollector(backend, dead_letters.INDEX_KEY))

    @classmethod
    def for_app(cls, app: Any, health: ConsumingState) -> WorkerMetrics:
        """Reads the broker the app consumes from, with its TLS CA (task_contract.connection)."""
        ssl_options = app.conf.broker_use_ssl or {}
        # The backend may name its class (worker.config RESULT_BACKEND_CLASS): "module:Class+redis://...".
        backend_url = str(app.conf.result_backend)
        prefix, plus, url = backend_url.partition("+")
        if plus and "://" not in prefix:
            backend_url = url
        return cls(health, str(app.conf.broker_url), backend_url, ssl_options.get("ssl_ca_certs"))

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _on_success(sender: Any = None, **_: Any) -> None:
    TASK_EXECUTIONS.labels(_name(sender), "success").inc()


def _on_failure(sender: Any = None, **_: Any) -> None:
    TASK_EXECUTIONS.labels(_name(sender), "failure").inc()


def _on_retry(sender: Any = None, **_: Any) -> None:
    TASK_EXECUTIONS.labels(_name(sender), "retry").inc()


def _name(sender: Any) -> str:
    return str(getattr(sender, "name", None) or "unknown")


def _clear_before_pool_starts(**_: Any) -> None:
    # worker_init runs in the main process before the pool forks its children.
    # Under the supervisor (WORKER_PROCESSES > 1) the directory is fresh and shared by the sibling
    # processes: clearing it here would drop their counters.
    directory = multiprocess_dir()
    if directory is not None and "WORKER_CHILD_INDEX" not in os.environ:
        clear_multiprocess_dir(directory)


signals.task_success.connect(_on_success, weak=False)
signals.task_failure.connect(_on_failure, weak=False)
signals.task_retry.connect(_on_retry, weak=False)
signals.worker_init.connect(_clear_before_pool_starts, weak=False)
