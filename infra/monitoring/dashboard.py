"""The stack's Cloud Monitoring dashboard: one tile per question an operator asks, PromQL throughout.

App series (docs/metrics.md) are selected by GMP's ``namespace`` label, which is the Cloud Run
service or worker pool name, all prefixed ``<namePrefix>-``. Broker gauges are global and come
from several exporters, so they are aggregated with ``max``; counters are per instance, so ``sum``.
"""

from __future__ import annotations

import json
from typing import Any

from monitoring.alerts import AlertTargets

COLUMNS = 48
TILE_WIDTH = 24
TILE_HEIGHT = 16


def tiles(targets: AlertTargets) -> list[tuple[str, list[str]]]:
    """(title, PromQL queries) per tile, in reading order."""
    app = targets.app_selector
    api = f'monitored_resource="cloud_run_revision",service_name="{targets.api_service}"'
    workers = f'monitored_resource="cloud_run_revision",service_name=~"{targets.name_prefix}-worker-.*"'
    redis = f'monitored_resource="redis_instance",instance_id=~".*/instances/{targets.redis_instance}"'
    return [
        ("Queue depth per queue", [f"max by (queue) (cloudrun_celery_queue_depth{{{app}}})"]),
        (
            "Oldest waiting task per queue (s)",
            [f"max by (queue) (cloudrun_celery_queue_oldest_message_age_seconds{{{app}}})"],
        ),
        (
            "Task throughput per task (/s)",
            [f'sum by (task) (rate(cloudrun_celery_task_executions_total{{{app},outcome="success"}}[5m]))'],
        ),
        (
            "Task failures and retries per task (/s)",
            [f'sum by (task, outcome) (rate(cloudrun_celery_task_executions_total{{{app},outcome!="success"}}[5m]))'],
        ),
        (
            "API requests per response class (/s)",
            [f"sum by (response_code_class) (rate(run_googleapis_com:request_count{{{api}}}[5m]))"],
        ),
        (
            "API latency p50 / p95 / p99 (ms)",
            [
                f"histogram_quantile({q}, sum by (le) (rate(run_googleapis_com:request_latencies_bucket{{{api}}}[5m])))"
                for q in ("0.5", "0.95", "0.99")
            ],
        ),
        (
            "API 5xx ratio",
            [
                f'sum(rate(run_googleapis_com:request_count{{{api},response_code_class="5xx"}}[5m]))'
                f" / sum(rate(run_googleapis_com:request_count{{{api}}}[5m]))"
            ],
        ),
        (
            "Task submissions per task (/s)",
            [f"sum by (task) (rate(cloudrun_celery_task_submissions_total{{{app}}}[5m]))"],
        ),
        (
            "Worker instances per group",
            [
                # Services: Cloud Run's own count. Every kind, pools too: instances consuming now.
                f'sum by (service_name) (run_googleapis_com:container_instance_count{{{workers},state="active"}})',
                f"count by (namespace) (max by (namespace, instance) (cloudrun_celery_worker_consuming{{{app}}}) == 1)",
            ],
        ),
        ("Redis memory used / maxmemory", [f"max(redis_googleapis_com:stats_memory_usage_ratio{{{redis}}})"]),
        ("Redis connected clients", [f"max(redis_googleapis_com:clients_connected{{{redis}}})"]),
        (
            "Redis evictions, refused connections, refused submissions",
            [
                f"max(redis_googleapis_com:stats_evicted_keys{{{redis}}})",
                f"max(redis_googleapis_com:stats_reject_connections_count{{{redis}}})",
                f'sum(rate(cloudrun_celery_task_submission_failures_total{{{app},reason="broker_unavailable"}}[5m]))',
            ],
        ),
        ("Dead letters", [f"max(cloudrun_celery_dead_letters{{{app}}})"]),
        ("Broker reachable (1 = yes)", [f"max(cloudrun_celery_broker_up{{{app}}})"]),
    ]


def dashboard_json(display_name: str, targets: AlertTargets) -> str:
    """The dashboard as Cloud Monitoring's JSON (projects.dashboards), a mosaic two tiles wide."""
    layout: list[dict[str, Any]] = []
    for index, (title, queries) in enumerate(tiles(targets)):
        layout.append(
            {
                "xPos": (index % 2) * TILE_WIDTH,
                "yPos": (index // 2) * TILE_HEIGHT,
                "width": TILE_WIDTH,
                "height": TILE_HEIGHT,
                "widget": {
                    "title": title,
                    "xyChart": {
                        "dataSets": [
                            {"timeSeriesQuery": {"prometheusQuery": query}, "plotType": "LINE"}
                            for query in queries
                        ],
                    },
                },
            }
        )
    return json.dumps(
        {"displayName": display_name, "mosaicLayout": {"columns": COLUMNS, "tiles": layout}},
        sort_keys=True,
    )
