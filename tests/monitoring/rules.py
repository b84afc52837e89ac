"""The alerts of ``infra/monitoring/alerts.py`` rendered to a rules file, as the program renders them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from tests.support.system_packages import ensure_commands

INFRA = Path(__file__).resolve().parents[2] / "infra"
if str(INFRA) not in sys.path:
    # The program's modules import each other as top-level modules (docs/architecture.md).
    sys.path.append(str(INFRA))

from monitoring.alerts import Alert, AlertTargets, alert_rules  # noqa: E402
from monitoring.rules_file import rules_document  # noqa: E402
from settings.monitoring import AlertThresholds  # noqa: E402

TARGETS = AlertTargets(name_prefix="celery-dev", api_service="celery-dev-api", redis_instance="celery-dev-broker")
# The defaults of settings.monitoring (docs/config-reference.md).
DEFAULT_THRESHOLDS = AlertThresholds(
    backlog_age_seconds=600,
    backlog_growing_seconds=900,
    no_consumer_seconds=600,
    task_failure_ratio=0.05,
    api_5xx_ratio=0.02,
    redis_memory_ratio=0.8,
)


def promtool() -> str:
    ensure_commands({"promtool": "prometheus"})
    return "promtool"


def write_rules(path: Path, alerts: list[Alert], interval_seconds: int = 60) -> Path:
    path.write_text(yaml.safe_dump(rules_document(alerts, interval_seconds), sort_keys=False))
    return path


def expected_alert(alert: Alert, **labels: str) -> dict[str, Any]:
    return {
        "exp_labels": {"severity": alert.severity, **labels},
        "exp_annotations": {"summary": alert.summary, "runbook": alert.runbook},
    }


__all__ = ["DEFAULT_THRESHOLDS", "TARGETS", "Alert", "alert_rules", "expected_alert", "promtool", "write_rules"]
