"""The API's Prometheus metrics, in a registry of its own (one per app, so tests can build several)."""

from __future__ import annotations

from collections.abc import Iterable

import redis
from prometheus_client import CollectorRegistry, Counter, disable_created_metrics
from task_contract import TaskSpec

from api.queue_depth import QueueDepthCollector

# Why a submission failed: the `reason` label of cloudrun_celery_task_submission_failures_total.
BROKER_UNAVAILABLE = "broker_unavailable"
INVALID_PAYLOAD = "invalid_payload"
IDEMPOTENCY_CONFLICT = "idempotency_conflict"
PAYLOAD_TOO_LARGE = "payload_too_large"
BACKPRESSURE = "backpressure"  # 429: queue at MAX_QUEUE_LENGTH, or Redis near or at maxmemory
FAILURE_REASONS = (BROKER_UNAVAILABLE, INVALID_PAYLOAD, IDEMPOTENCY_CONFLICT, PAYLOAD_TOO_LARGE, BACKPRESSURE)


class ApiMetrics:
    def __init__(
        self,
        tasks: Iterable[TaskSpec],
        broker_redis: redis.Redis,
        queues: Iterable[str],
    ) -> None:
        # No `_created` series: a sample per counter label set that no dashboard uses.
        disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped upstream
        self.registry = CollectorRegistry()
        self.submissions = Counter(
            "cloudrun_celery_task_submissions",
            "Tasks accepted and published to their queue.",
            ["task", "queue"],
            registry=self.registry,
        )
        self.submission_failures = Counter(
            "cloudrun_celery_task_submission_failures",
            "Submissions refused or not published, by reason.",
            ["task", "queue", "reason"],
            registry=self.registry,
        )
        self.idempotent_replays = Counter(
            "cloudrun_celery_task_idempotent_replays",
            "Submissions answered with an earlier task id because their Idempotency-Key was seen before.",
            ["task", "queue"],
            registry=self.registry,
        )
        # Start every known series at 0, so rates work from the first scrape.
        for spec in tasks:
            self.submissions.labels(spec.name, spec.queue)
            self.idempotent_replays.labels(spec.name, spec.queue)
            for reason in FAILURE_REASONS:
                self.submission_failures.labels(spec.name, spec.queue, reason)
        self.registry.register(QueueDepthCollector(broker_redis, queues))

    def failed(self, spec: TaskSpec, reason: str) -> None:
        self.submission_failures.labels(spec.name, spec.queue, reason).inc()
