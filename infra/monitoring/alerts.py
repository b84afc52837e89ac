"""Every alert, once: its PromQL condition, how long it must hold, and what it means.

Both renderings come from ``alert_rules()``: the Cloud Monitoring alert policies
(``infra/monitoring/__init__.py``, PromQL conditions) and a Prometheus rules file
(``rules_file.py``) that ``promtool test rules`` and a local Prometheus run in tests/monitoring/.
What each alert means and the first thing to check: docs/operations.md (one section per alert,
anchored by its name in lower case).

Metric names: the app's own series (docs/metrics.md) keep their Prometheus names in Cloud
Monitoring (Managed Service for Prometheus). Google's system metrics use Cloud Monitoring's
PromQL mapping: ``run.googleapis.com/request_count`` is ``run_googleapis_com:request_count``,
selected with ``monitored_resource``.
"""

from __future__ import annotations

from dataclasses import dataclass

from settings.monitoring import AlertThresholds

# Cloud Monitoring evaluates PromQL conditions at this interval; the rules file uses it too.
EVALUATION_INTERVAL_SECONDS = 60
# Window of the rates and trends below: several scrapes at the collector's 60 s default.
RATE_WINDOW = "10m"
# Alerts on Cloud Run's own metrics, left out on platform: gke.
CLOUD_RUN_ONLY = frozenset({"Api5xxRatioHigh"})
# With noeviction, Redis refuses writes once used memory reaches maxmemory.
REFUSING_WRITES_MEMORY_RATIO = 0.99


@dataclass(frozen=True)
class AlertTargets:
    """What the alerts select: the stack's Cloud Run workloads and its Redis instance."""

    name_prefix: str  # every Cloud Run service / worker pool is <prefix>-...; GMP's `namespace`
    api_service: str
    redis_instance: str
    # platform: gke: the Kubernetes namespace, GMP's `namespace` for the PodMonitoring's scrapes.
    gke_namespace: str | None = None

    @property
    def app_selector(self) -> str:
        """The app series of this stack's workloads (docs/metrics.md)."""
        if self.gke_namespace is not None:
            return f'namespace="{self.gke_namespace}"'
        return f'namespace=~"{self.name_prefix}-.*"'


@dataclass(frozen=True)
class Alert:
    name: str  # the Prometheus alert name; docs/operations.md has a section with this title
    title: str
    expr: str
    for_seconds: int
    severity: str  # "page": act now; "ticket": act today
    summary: str

    @property
    def runbook(self) -> str:
        return f"docs/operations.md#{self.name.lower()}"


def alert_rules(thresholds: AlertThresholds, targets: AlertTargets) -> list[Alert]:
    app = targets.app_selector
    api = f'monitored_resource="cloud_run_revision",service_name="{targets.api_service}"'
    redis_memory = (
        "redis_googleapis_com:stats_memory_usage_ratio"
        f'{{monitored_resource="redis_instance",instance_id=~".*/instances/{targets.redis_instance}"}}'
    )
    depth = f"max by (queue) (cloudrun_celery_queue_depth{{{app}}})"
    alerts = [
        Alert(
            "QueueBacklogOld",
            "Queue backlog older than threshold",
            f"max by (queue) (cloudrun_celery_queue_oldest_message_age_seconds{{{app}}})"
            f" > {thresholds.backlog_age_seconds}",
            EVALUATION_INTERVAL_SECONDS,
            "page",
            f"The oldest task waiting in a queue has waited more than {thresholds.backlog_age_seconds} s.",
        ),
        Alert(
            "QueueBacklogGrowing",
            "Queue backlog growing",
            f"{depth} > 0 and max by (queue) (deriv(cloudrun_celery_queue_depth{{{app}}}[{RATE_WINDOW}])) > 0",
            thresholds.backlog_growing_seconds,
            "ticket",
            f"A queue's depth has been rising for {thresholds.backlog_growing_seconds} s: "
            "tasks arrive faster than the workers finish them.",
        ),
        Alert(
            "QueueWithoutConsumer",
            "Queue has tasks and no consumer",
            f"{depth} > 0 unless on (queue) (sum by (queue) (cloudrun_celery_worker_consuming{{{app}}}) > 0)",
            thresholds.no_consumer_seconds,
            "page",
            "Tasks are waiting in a queue that no worker consumes.",
        ),
        Alert(
            "TaskFailureRatioHigh",
            "Task failure ratio high",
            f'sum by (task) (rate(cloudrun_celery_task_executions_total{{{app},outcome="failure"}}[{RATE_WINDOW}]))'
            f' / sum by (task) (rate(cloudrun_celery_task_executions_total{{{app},outcome=~"success|failure"}}'
            f"[{RATE_WINDOW}])) > {thresholds.task_failure_ratio}",
            300,
            "ticket",
            f"More than {thresholds.task_failure_ratio:.0%} of a task's executions fail for good.",
        ),
        Alert(
            "Api5xxRatioHigh",
            "API 5xx ratio high",
            f'sum(rate(run_googleapis_com:request_count{{{api},response_code_class="5xx"}}[5m]))'
            f" / sum(rate(run_googleapis_com:request_count{{{api}}}[5m])) > {thresholds.api_5xx_ratio}",
            300,
            "page",
            f"More than {thresholds.api_5xx_ratio:.0%} of the API's responses are 5xx (Cloud Run's request metrics).",
        ),
        Alert(
            "RedisMemoryHigh",
            "Redis memory above threshold",
            f"max({redis_memory}) > {thresholds.redis_memory_ratio}",
            300,
            "page",
            f"Memorystore uses more than {thresholds.redis_memory_ratio:.0%} of its maxmemory; "
            "with noeviction it refuses writes when full.",
        ),
        Alert(
            "RedisRefusingWrites",
            "Redis refusing writes",
            f"max({redis_memory}) >= {REFUSING_WRITES_MEMORY_RATIO}"
            f' or (sum(rate(cloudrun_celery_task_submission_failures_total{{{app},reason=~"broker_unavailable|backpressure"}}'
            f"[5m])) > 0 and on () max(cloudrun_celery_broker_up{{{app}}}) == 1)",
            EVALUATION_INTERVAL_SECONDS,
            "page",
            "Redis is full (noeviction refuses writes), or the API refuses or fails submissions "
            "(429 back-pressure, 503) while Redis answers reads.",
        ),
        Alert(
            "BrokerUnreachable",
            "Broker unreachable",
            f"max(cloudrun_celery_broker_up{{{app}}}) == 0",
            120,
            "page",
            "No exporter can read the queues from Redis.",
        ),
        Alert(
            "QueueMetricsAbsent",
            "Queue metrics absent",
            f"absent(cloudrun_celery_broker_up{{{app}}})",
            600,
            "page",
            "No worker or API instance reports queue metrics: the workers are down or their collector is broken.",
        ),
        Alert(
            "DeadLettersGrowing",
            "Dead letters growing",
            f"max(delta(cloudrun_celery_dead_letters{{{app}}}[15m])) > 0",
            EVALUATION_INTERVAL_SECONDS,
            "ticket",
            "Tasks failed for good in the last 15 minutes and were kept as dead letters.",
        ),
    ]
    if targets.gke_namespace is None:
        return alerts
    # Cloud Run's request metrics: on GKE the API sits behind a passthrough (L4) load balancer,
    # which has no HTTP status metrics, and the API exports no request counter (docs/kubernetes.md).
    return [alert for alert in alerts if alert.name not in CLOUD_RUN_ONLY]
