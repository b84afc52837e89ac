"""Task counters for /metrics (Prometheus text format), fed by Celery's task signals.

The signals fire where a task runs. With the default threads pool that is the process
serving /metrics. Under prefork they fire in the child processes, which this registry does not see,
so the counters stay at zero there; use Celery events or Flower for prefork workers.
"""

from __future__ import annotations

from typing import Any

from celery import signals
from prometheus_client import Counter, disable_created_metrics

# Only the counters themselves, not a *_created gauge per label set.
disable_created_metrics()  # type: ignore[no-untyped-call]

TASKS = Counter(
    "worker_tasks",
    "Task executions finished by this worker process, by task name and outcome.",
    ["task", "outcome"],
)


def _name(sender: Any) -> str:
    return str(getattr(sender, "name", None) or "unknown")


def _on_success(sender: Any = None, **_: Any) -> None:
    TASKS.labels(_name(sender), "success").inc()


def _on_failure(sender: Any = None, **_: Any) -> None:
    TASKS.labels(_name(sender), "failure").inc()


def _on_retry(sender: Any = None, **_: Any) -> None:
    TASKS.labels(_name(sender), "retry").inc()


signals.task_success.connect(_on_success, weak=False)
signals.task_failure.connect(_on_failure, weak=False)
signals.task_retry.connect(_on_retry, weak=False)
